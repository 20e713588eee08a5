"""Curated reaction networks that synthetic benchmark tasks are generated from.

Each :class:`CuratedModel` is a small, classic signalling or population model written with
the celltwin Model DSL, with the values its synthetic data are simulated at, the species
in the order they are observed (the first ones stay observed when the fraction of
unobserved species grows), how conditions differ (a dose or an initial state), and one
missing and one spurious reaction for the skeleton axis. All rate laws are mass action with
one rate constant per reaction, so a reaction's presence is the size of its rate constant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ..model import Model


@dataclasses.dataclass(frozen=True)
class SpuriousReaction:
    """A reaction a wrong skeleton adds: id, equation, rate expression and its rate constant."""

    id: str
    equation: str
    rate: str
    constant: str
    nominal: float


@dataclasses.dataclass(frozen=True)
class CuratedModel:
    """A model synthetic tasks are built from.

    Attributes:
        name: registry name.
        reactions: ``id -> (equation, rate, rate constant)``; every reaction has its own
            rate constant, estimated on log10 scale.
        rates: true rate constants (linear).
        initial: species id -> initial value (an expression over condition parameters).
        observed_order: species in the order they are observed.
        condition_parameter: the parameter that tells conditions apart (a dose or an
            initial amount), with the training values for ``n`` conditions and the held-out value.
        t_end: end of the observation window.
        missing: reaction a skeleton with a missing reaction lacks.
        spurious: reaction a skeleton with a spurious reaction has in addition.
        binding: ``(kon, koff)`` of the binding reaction whose Kd prior knowledge is about, if any.
    """

    name: str
    reactions: dict[str, tuple[str, str, str]]
    rates: dict[str, float]
    initial: dict[str, str]
    observed_order: tuple[str, ...]
    condition_parameter: str
    training_values: Callable[[int], np.ndarray]
    heldout_value: float
    t_end: float
    missing: str
    spurious: SpuriousReaction
    binding: tuple[str, str] | None = None

    @property
    def species(self) -> tuple[str, ...]:
        return tuple(self.initial)

    def build(self, *, drop: str | None = None, extra: SpuriousReaction | None = None) -> Model:
        """The model, without reaction ``drop`` and with reaction ``extra`` (a skeleton)."""
        m = Model(self.name)
        m.add_parameter(self.condition_parameter, 1.0)
        for sid, init in self.initial.items():
            m.add_species(sid, init)
        for rid, (equation, rate, constant) in self.reactions.items():
            if rid == drop:
                continue
            m.add_parameter(constant, self.rates[constant])
            m.add_reaction(rid, equation, rate=rate)
        if extra is not None:
            m.add_parameter(extra.constant, extra.nominal)
            m.add_reaction(extra.id, extra.equation, rate=extra.rate)
        return m


CASCADE = CuratedModel(
    name="kinase_cascade",
    reactions={
        "activate_K1": ("K1 -> K1p", "k1 * L * K1", "k1"),
        "deactivate_K1": ("K1p -> K1", "k2 * K1p", "k2"),
        "activate_K2": ("K2 -> K2p", "k3 * K1p * K2", "k3"),
        "deactivate_K2": ("K2p -> K2", "k4 * K2p", "k4"),
    },
    rates={"k1": 0.8, "k2": 0.3, "k3": 2.0, "k4": 0.5},
    initial={"K1": "1", "K1p": "0", "K2": "1", "K2p": "0"},
    observed_order=("K2p", "K1p", "K1", "K2"),
    condition_parameter="L",
    training_values=lambda n: np.geomspace(0.1, 1.0, n) if n > 1 else np.array([0.5]),
    heldout_value=2.0,
    t_end=20.0,
    missing="deactivate_K1",
    spurious=SpuriousReaction("basal_K2", "K2 -> K2p", "k_basal * K2", "k_basal", 0.1),
)

LOTKA_VOLTERRA = CuratedModel(
    name="lotka_volterra",
    reactions={
        "prey_birth": ("X -> 2 X", "a * X", "a"),
        "predation": ("X + Y -> 2 Y", "b * X * Y", "b"),
        "predator_death": ("Y ->", "c * Y", "c"),
    },
    rates={"a": 1.0, "b": 0.5, "c": 0.8},
    initial={"X": "x0", "Y": "1"},
    observed_order=("X", "Y"),
    condition_parameter="x0",
    training_values=lambda n: np.linspace(1.0, 2.0, n) if n > 1 else np.array([1.5]),
    heldout_value=2.5,
    t_end=10.0,
    missing="predator_death",
    spurious=SpuriousReaction("prey_death", "X ->", "d * X", "d", 0.1),
)

# Receptor-ligand binding with a measurable Kd, driving a downstream kinase: the model of
# the prior-knowledge axis (a predicted Kd acts on log10(koff/kon)).
BINDING_CASCADE = CuratedModel(
    name="binding_cascade",
    reactions={
        "bind": ("L + R -> C", "kon * L * R", "kon"),
        "unbind": ("C -> L + R", "koff * C", "koff"),
        "activate_K": ("K -> Kp", "kcat * C * K", "kcat"),
        "deactivate_K": ("Kp -> K", "kdeact * Kp", "kdeact"),
    },
    rates={"kon": 0.5, "koff": 0.05, "kcat": 2.0, "kdeact": 0.4},
    initial={"L": "L0", "R": "1", "C": "0", "K": "1", "Kp": "0"},
    observed_order=("Kp", "C", "K", "L", "R"),
    condition_parameter="L0",
    training_values=lambda n: np.geomspace(0.05, 0.5, n) if n > 1 else np.array([0.2]),
    heldout_value=1.5,
    t_end=30.0,
    missing="deactivate_K",
    spurious=SpuriousReaction("basal_K", "K -> Kp", "k_basal * K", "k_basal", 0.1),
    binding=("kon", "koff"),
)

# Goodwin's negative-feedback oscillator (mRNA M, protein P, repressor R; Hill repression
# with a fixed coefficient); a hard case for every method.
GOODWIN = CuratedModel(
    name="goodwin",
    reactions={
        "transcribe": ("-> M", "v / (1 + R**10)", "v"),
        "degrade_M": ("M ->", "dm * M", "dm"),
        "translate": ("-> P", "kp * M", "kp"),
        "degrade_P": ("P ->", "dp * P", "dp"),
        "convert": ("-> R", "kr * P", "kr"),
        "degrade_R": ("R ->", "dr * R", "dr"),
    },
    rates={"v": 1.0, "dm": 0.2, "kp": 1.0, "dp": 0.2, "kr": 1.0, "dr": 0.2},
    initial={"M": "m0", "P": "0", "R": "0"},
    observed_order=("M", "P", "R"),
    condition_parameter="m0",
    training_values=lambda n: np.linspace(0.0, 1.0, n) if n > 1 else np.array([0.5]),
    heldout_value=2.0,
    t_end=60.0,
    missing="degrade_R",
    spurious=SpuriousReaction("basal_R", "-> R", "kb", "kb", 0.05),
)

CURATED_MODELS: dict[str, CuratedModel] = {m.name: m for m in (CASCADE, LOTKA_VOLTERRA, BINDING_CASCADE, GOODWIN)}
