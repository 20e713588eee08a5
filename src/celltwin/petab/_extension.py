"""PEtab v2 extensions: a section under the YAML's ``extensions`` that adds files to a problem.

An extension (PEtab SciML, for one) is read by the same reader as the base problem: the
YAML, the model and the v2 tables once, plus the tables the extension's section lists. What
the extension's files mean is left to the package that reads the extension.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from ..errors import PEtabError, UnsupportedFeatureError


@dataclasses.dataclass(frozen=True)
class Extension:
    """A PEtab v2 extension that :func:`~celltwin.petab.read_petab` reads with the base problem.

    Attributes:
        name: the extension's key under the YAML's ``extensions`` (``"sciml"``).
        tables: field of the section -> table kind, for the tab-separated tables it lists; they
            are read like the base tables (every cell a string) into ``PEtabSource.tables``.
        files: fields of the section that list other files (arrays, ...): resolved relative
            to the YAML into ``ProblemFiles.extension``, not read.
    """

    name: str
    tables: Mapping[str, str] = dataclasses.field(default_factory=dict)
    files: tuple[str, ...] = ()


def extension_section(path: Path, content: dict, version: int, extension: Extension) -> dict:
    """The YAML section of ``extension``.

    Raises:
        UnsupportedFeatureError: the problem is not PEtab v2 (extensions are a v2 feature).
        PEtabError: the problem has no such section, or it is not a mapping.
    """
    if version != 2:
        raise UnsupportedFeatureError(
            f"{path}: format_version {content.get('format_version', '(none)')!r}: PEtab {extension.name} problems "
            "are PEtab v2 problems (format_version: 2.0.0)")
    extensions = content.get("extensions")
    section = extensions.get(extension.name) if isinstance(extensions, dict) else None
    if section is None:
        raise PEtabError(f"{path}: no extensions.{extension.name} section: not a PEtab {extension.name} problem")
    if not isinstance(section, dict):
        raise PEtabError(f"{path}: field 'extensions.{extension.name}' must be a mapping of its settings and files")
    return section
