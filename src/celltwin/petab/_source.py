"""Read a PEtab problem (v1 or v2) once: the YAML, every table, the SBML model.

Each file is read from disk once. The bytes feed both celltwin's own view of the tables
(every cell a string, for checks that name file, row and column) and the PEtab library's
problem object (for its linter), so neither re-reads a file the other has read. The
library's problem is built only when asked for: importing the library takes 1.3-1.5 s
(it imports its plotting modules, matplotlib's pyplot among them), a large part of a warm
process start; a v1 problem's tables as the library reads them come without it
(:meth:`PEtabSource.v1_tables`).

A v2 problem may be read with an :class:`Extension` (PEtab SciML): its section's tables are
read with the base tables, and the library's problem is not built (its v2 tables refuse the
extension's values, e.g. a ``nominalValue`` of ``array``).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PEtabError, SBMLError, UnsupportedFeatureError
from ..model import check_math_names
from ._extension import Extension
from ._files import ProblemFiles, problem_files, read_yaml
from ._tables import check_unique_ids, parse_table, read_bytes, read_sbml

if TYPE_CHECKING:
    import libsbml
    import pandas as pd

    from ..model import Model


@dataclasses.dataclass(frozen=True, eq=False)
class PEtabSource:
    """A PEtab problem as read from its files, before celltwin builds anything from it.

    Attributes:
        files: the YAML and the files it names.
        content: the YAML's content.
        tables: table kind -> ``(file, table)`` pairs; every cell a string as written ('' if empty).
        sbml: the SBML document of the model.
        raw_sbml: the model file's bytes.
        raw_tables: table kind -> ``(file, bytes)`` pairs.
        extension: the extension the problem was read with, or None.
    """

    files: ProblemFiles
    content: dict
    tables: dict[str, list[tuple[Path, pd.DataFrame]]]
    sbml: libsbml.SBMLDocument
    raw_sbml: bytes
    raw_tables: dict[str, list[tuple[Path, bytes]]]
    extension: Extension | None = None

    @functools.cached_property
    def library(self) -> Any:
        """The PEtab library's problem (``petab.v1.Problem`` or ``petab.v2.Problem``), built
        on first use; None for a problem read with an extension.

        Raises:
            PEtabError: the library cannot read the problem.
        """
        if self.extension is not None:
            return None
        return _library_problem(self.files, self.content, self.raw_sbml, self.raw_tables)

    def v1_tables(self) -> dict[str, pd.DataFrame | None]:
        """A v1 problem's measurement, observable, parameter and condition tables as the PEtab
        library reads them (numbers as floats, empty cells NaN; the last three indexed by their
        id column; several files of a kind one after the other), without importing it.

        Raises:
            PEtabError: a column name with leading or trailing whitespace (file named).
        """
        import pandas as pd

        out: dict[str, pd.DataFrame | None] = {}
        for kind in ("measurement", "observable", "parameter", "condition"):
            frames = []
            index = _V1_ID_COLUMNS.get(kind)
            for path, raw in self.raw_tables.get(kind, []):
                df = _frame(raw)
                padded = [str(c) for c in df.columns if str(c) != str(c).strip()]
                if padded:
                    raise PEtabError(f"{path}: the {kind} table's column name {padded[0]!r} has leading or "
                                     "trailing whitespace")
                frames.append(df.set_index(index) if index else df)  # (check_unique_ids: the column exists)
            out[kind] = (None if not frames else frames[0] if len(frames) == 1 else
                         pd.concat(frames, sort=False, ignore_index=index is None))
        return out

    @property
    def version(self) -> int:
        """The PEtab major version, 1 or 2."""
        return self.files.version

    @property
    def path(self) -> Path:
        return self.files.yaml

    @property
    def sbml_model(self) -> libsbml.Model:
        return self.sbml.getModel()

    @property
    def extension_section(self) -> dict:
        """The YAML section of the extension the problem was read with ({} for none)."""
        return self.content["extensions"][self.extension.name] if self.extension is not None else {}

    def model(self) -> Model:
        """celltwin's model of the problem's SBML model; errors name the model file.

        Raises:
            SBMLError, UnsupportedFeatureError: the model uses something celltwin cannot simulate.
        """
        from ..model import from_sbml

        label = str(self.files.sbml[0])
        try:
            return from_sbml(self.sbml_model)
        except (SBMLError, UnsupportedFeatureError) as exc:  # the model's elements: say which file holds them
            if label in str(exc) or str(self.path.parent) in str(exc):
                raise
            raise type(exc)(f"{label}: {exc}") from None

    def table(self, kind: str) -> pd.DataFrame | None:
        """All files of one table kind as one table (strings), or None where the problem has none."""
        import pandas as pd

        frames = [df for _, df in self.tables.get(kind, [])]
        if not frames:
            return None
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def read_petab(path: str | os.PathLike | PEtabSource, *, extension: Extension | None = None) -> PEtabSource:
    """Read a PEtab problem YAML and everything it names (a :class:`PEtabSource` is returned as is).

    Arguments:
        path: the problem YAML file.
        extension: a v2 extension the problem declares, whose tables are read too.

    Raises:
        PEtabError, SBMLError: naming the file (and the row, column or YAML field) at fault.
        UnsupportedFeatureError: a v2 problem with several models or one that is not SBML; a
            problem read with an extension that is not PEtab v2.
    """
    if isinstance(path, PEtabSource):
        return path
    path = Path(path)
    content = read_yaml(path, extension)
    declared = content.get("extensions") if isinstance(content, dict) else None
    if extension is None and isinstance(declared, dict) and "sciml" in declared:
        # Its tables hold what plain PEtab does not (nominalValue 'array', network inputs).
        raise UnsupportedFeatureError(f"{path}: a PEtab SciML problem (extensions: sciml); read it as a hybrid "
                                      "model: `celltwin hybrid` or celltwin.hybrid.sciml.from_petab_sciml")
    files = problem_files(path, content, extension)
    raw_sbml, document = read_sbml(files.sbml[0])
    raw_tables: dict[str, list[tuple[Path, bytes]]] = {}
    tables: dict[str, list[tuple[Path, pd.DataFrame]]] = {}
    for kind, paths in files.tables.items():
        what = f"{kind} table"
        raw_tables[kind] = [(p, read_bytes(p, what)) for p in paths]
        tables[kind] = [(p, parse_table(p, raw, what)) for p, raw in raw_tables[kind]]
    check_unique_ids(files.version, tables)
    # Before the PEtab library may read the model (PEtabSource.library): it sympifies some SBML math.
    check_math_names(document.getModel(), str(files.sbml[0]))
    return PEtabSource(files, content, tables, document, raw_sbml, raw_tables, extension)


_V1_ID_COLUMNS = {"observable": "observableId", "parameter": "parameterId", "condition": "conditionId"}


def _library_problem(files: ProblemFiles, content: dict, raw_sbml: bytes, raw_tables) -> Any:
    """The PEtab library's problem object, built from the bytes already read."""
    logging.getLogger("petab").setLevel(logging.ERROR)
    try:
        if files.version == 1:
            return _v1_problem(files, raw_sbml, raw_tables)
        return _v2_problem(files, content, raw_sbml, raw_tables)
    except PEtabError:
        raise
    except Exception as exc:  # noqa: BLE001 - the library raises many types for malformed tables
        raise PEtabError(f"{files.yaml}: cannot read the PEtab problem: {exc}") from None


def _frame(raw: bytes) -> pd.DataFrame:
    """A table as the PEtab library reads one (numbers as floats, empty cells NaN)."""
    import pandas as pd

    return pd.read_csv(io.BytesIO(raw), sep="\t", float_precision="round_trip")


def _sbml_model(raw_sbml: bytes, path: Path, model_id: str | None = None):
    from petab.v1.models.sbml_model import SbmlModel

    try:
        return SbmlModel.from_string(raw_sbml.decode("utf-8"), model_id=model_id)
    except UnicodeDecodeError:
        return SbmlModel.from_file(str(path), model_id=model_id)


def _v1_problem(files: ProblemFiles, raw_sbml: bytes, raw_tables):
    import pandas as pd
    import petab.v1 as petab
    from petab.v1 import core

    readers = {"condition": petab.get_condition_df, "measurement": petab.get_measurement_df,
               "observable": petab.get_observable_df, "parameter": petab.get_parameter_df,
               "visualization": core.get_visualization_df, "mapping": petab.get_mapping_df}

    def table(kind: str):
        frames = [readers[kind](_frame(raw)) for _, raw in raw_tables.get(kind, [])]
        if not frames:
            return None
        if kind == "parameter":  # indexed by parameterId, unlike the others
            return frames[0] if len(frames) == 1 else pd.concat(frames)
        return core.concat_tables(frames)

    return petab.Problem(
        model=_sbml_model(raw_sbml, files.sbml[0]),
        condition_df=table("condition"), measurement_df=table("measurement"),
        parameter_df=table("parameter"), observable_df=table("observable"),
        visualization_df=table("visualization"), mapping_df=table("mapping"),
    )


def _v2_problem(files: ProblemFiles, content: dict, raw_sbml: bytes, raw_tables):
    from petab.v2 import core
    from petab.v2.core import ProblemConfig

    classes = {"condition": core.ConditionTable, "experiment": core.ExperimentTable,
               "measurement": core.MeasurementTable, "observable": core.ObservableTable,
               "parameter": core.ParameterTable, "mapping": core.MappingTable}
    base = files.yaml.parent

    def tables(kind: str):
        return [classes[kind].from_df(_frame(raw), rel_path=p.relative_to(base) if p.is_relative_to(base) else p,
                                      base_path=base) for p, raw in raw_tables.get(kind, [])] or None

    config = ProblemConfig(**content, base_path=base, filepath=files.yaml)
    (model_id,) = content["model_files"]
    return core.Problem(
        config=config, models=[_sbml_model(raw_sbml, files.sbml[0], model_id)],
        condition_tables=tables("condition"), experiment_tables=tables("experiment"),
        observable_tables=tables("observable"), measurement_tables=tables("measurement"),
        parameter_tables=tables("parameter"), mapping_tables=tables("mapping"),
    )
