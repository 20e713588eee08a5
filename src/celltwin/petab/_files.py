"""The problem YAML of PEtab v1 and v2: its format version and the files it names (with those
of a v2 extension's section, where one is read)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .._textfile import read_yaml as read_yaml_file
from ..errors import PEtabError, UnsupportedFeatureError
from ._extension import Extension, extension_section

# Table files the YAML names: (field, table kind). v1 lists them under problems[0], v2 at the top.
_V1_TABLES = {
    "condition_files": "condition",
    "measurement_files": "measurement",
    "observable_files": "observable",
    "visualization_files": "visualization",
    "mapping_files": "mapping",
}
_V2_TABLES = {
    "condition_files": "condition",
    "experiment_files": "experiment",
    "measurement_files": "measurement",
    "observable_files": "observable",
    "mapping_files": "mapping",
}
_V1_REQUIRED = ("condition", "measurement", "observable")
_V2_REQUIRED = ("measurement", "observable")  # v2 problems without conditions or experiments exist


@dataclasses.dataclass(frozen=True)
class ProblemFiles:
    """The files a PEtab problem YAML names, resolved relative to it.

    Attributes:
        yaml: the problem file.
        version: the PEtab major version, 1 or 2.
        sbml: the model files (one).
        tables: table kind (``"measurement"``, ``"parameter"``, ...) -> its files, with the
            tables of an extension (``"hybridization"``, ...) where one was read.
        extension: the other files an extension's section lists, by its field (``"array_files"``).
    """

    yaml: Path
    version: int
    sbml: list[Path]
    tables: dict[str, list[Path]]
    extension: dict[str, list[Path]] = dataclasses.field(default_factory=dict)

    def names(self, kind: str) -> str:
        """The files of one kind (``"model"`` or a table kind), comma-separated, for messages."""
        paths = self.sbml if kind == "model" else self.tables.get(kind, [])
        return ", ".join(str(p) for p in paths)


def format_version(path: Path, content: dict) -> int:
    """The PEtab major version a YAML declares (1 where it declares none, as older files do).

    Raises:
        PEtabError: a version celltwin does not read.
    """
    version = str(content.get("format_version", "")).strip()
    if not version or version.split(".")[0] == "1":
        return 1
    if version.split(".")[0] == "2":
        return 2
    raise PEtabError(f"{path}: format_version {version!r}: only PEtab v1 (1) and v2 (2.0.0) problems are supported")


def read_yaml(path: str | os.PathLike, extension: Extension | None = None) -> dict:
    """Read a PEtab problem YAML file (v1 or v2), with errors that name the file and field.

    Arguments:
        path: the problem file.
        extension: a v2 extension the problem must declare (its section is checked).
    """
    path = Path(path)
    if path.is_dir():
        raise PEtabError(f"{path}: is a folder; pass the PEtab problem YAML file inside it")
    if not path.is_file():
        raise PEtabError(f"{path}: PEtab problem file not found")
    content = read_yaml_file(path, "PEtab problem file", PEtabError)
    if not isinstance(content, dict):
        raise PEtabError(f"{path}: not a PEtab problem file (a YAML mapping was expected)")
    if extension is not None:
        extension_section(path, content, format_version(path, content), extension)
    if format_version(path, content) == 2:
        if "problems" in content:
            raise PEtabError(f"{path}: format_version {content['format_version']!r} is PEtab v2, but the file "
                             "lists its files under 'problems' as PEtab v1 does; a v2 problem names model_files, "
                             "parameter_files, measurement_files, ... at the top level (or set format_version: 1)")
        return content
    if "problems" not in content:
        raise PEtabError(f"{path}: not a PEtab problem file (no 'problems' entry)")
    problems = content["problems"]
    if not isinstance(problems, list) or not all(isinstance(p, dict) for p in problems):
        raise PEtabError(f"{path}: field 'problems' must be a list of mappings (sbml_files, measurement_files, ...)")
    if len(problems) != 1:
        raise PEtabError(f"{path}: exactly one entry under 'problems' is supported, got {len(problems)}")
    return content


def _file_list(value, field: str, where: Path) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise PEtabError(f"{where}: field {field!r} must be a file name or a list of file names, got {value!r}")
    return values


def problem_files(path: str | os.PathLike, content: dict, extension: Extension | None = None) -> ProblemFiles:
    """The files that a problem YAML (read by :func:`read_yaml`) names, and those of ``extension``'s section.

    Raises:
        PEtabError: a required field is missing or is not a list of file names.
        UnsupportedFeatureError: a v2 problem with several models or a model that is not SBML.
    """
    path = Path(path)
    if format_version(path, content) == 2:
        files = _v2_files(path, content)
        return files if extension is None else _with_extension(files, content, extension)
    base = path.parent
    sub = content["problems"][0]
    param_files = _file_list(content.get("parameter_file"), "parameter_file", path)
    if not param_files:
        raise PEtabError(f"{path}: field 'parameter_file' is missing")
    sbml = [base / f for f in _file_list(sub.get("sbml_files"), "problems[0].sbml_files", path)]
    if not sbml:
        hint = (" (model_files belongs to PEtab v2 problems, which declare format_version: 2.0.0)"
                if "model_files" in sub else "")
        raise PEtabError(f"{path}: field 'problems[0].sbml_files' is missing{hint}")
    tables: dict[str, list[Path]] = {"parameter": [base / f for f in param_files]}
    for key, kind in _V1_TABLES.items():
        tables[kind] = [base / f for f in _file_list(sub.get(key), f"problems[0].{key}", path)]
        if not tables[kind] and kind in _V1_REQUIRED:
            raise PEtabError(f"{path}: field 'problems[0].{key}' is missing")
    return ProblemFiles(path, 1, sbml, tables)


def _v2_files(path: Path, content: dict) -> ProblemFiles:
    base = path.parent
    models = content.get("model_files")
    if not isinstance(models, dict) or not models:
        raise PEtabError(f"{path}: field 'model_files' is missing (a mapping: model id -> language and location)")
    if len(models) > 1:
        raise UnsupportedFeatureError(f"{path}, field 'model_files': {len(models)} models; celltwin reads PEtab "
                                      "problems with one model")
    (model_id, model), = models.items()
    if not isinstance(model, dict) or not isinstance(model.get("location"), str):
        raise PEtabError(f"{path}, field 'model_files.{model_id}': needs 'language' and 'location' (a file name)")
    language = str(model.get("language", "")).strip().lower()
    if language != "sbml":
        raise UnsupportedFeatureError(f"{path}, field 'model_files.{model_id}.language': {language!r} models; "
                                      "celltwin reads SBML models only")
    param_files = _file_list(content.get("parameter_files"), "parameter_files", path)
    if not param_files:
        raise PEtabError(f"{path}: field 'parameter_files' is missing")
    tables: dict[str, list[Path]] = {"parameter": [base / f for f in param_files]}
    for key, kind in _V2_TABLES.items():
        tables[kind] = [base / f for f in _file_list(content.get(key), key, path)]
        if not tables[kind] and kind in _V2_REQUIRED:
            raise PEtabError(f"{path}: field {key!r} is missing")
    return ProblemFiles(path, 2, [base / model["location"]], tables)


def _with_extension(files: ProblemFiles, content: dict, extension: Extension) -> ProblemFiles:
    """``files`` with the tables and other files that ``extension``'s section lists."""
    path, base = files.yaml, files.yaml.parent
    section = extension_section(path, content, files.version, extension)
    tables = dict(files.tables)
    for key, kind in extension.tables.items():
        tables[kind] = [base / f for f in _file_list(section.get(key), f"extensions.{extension.name}.{key}", path)]
    other = {key: [base / f for f in _file_list(section.get(key), f"extensions.{extension.name}.{key}", path)]
             for key in extension.files}
    return dataclasses.replace(files, tables=tables, extension=other)
