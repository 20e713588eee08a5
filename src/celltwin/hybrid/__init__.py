"""Hybrid models: neural-network terms inside mechanistic models, their training, PEtab SciML."""
