"""Packages talk through their public names: no module under src/celltwin imports another
package's private module (``from celltwin.X._y import ...``, ``from ..X._y import ...``,
``from ..X import _y``). The root package's own private helpers (``celltwin._config``,
``_atomic``, ``_textfile``) are shared by every package and allowed."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_name(path: Path, src: Path) -> list[str]:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported_modules(path: Path, src: Path) -> list[tuple[int, list[str]]]:
    """``(line, dotted module path)`` of every module an import statement names, absolute."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path, src)
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name.split(".")) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = base + (node.module.split(".") if node.module else [])
            out.append((node.lineno, target))
            # ``from pkg import _mod``: a private name imported from a package may be a module
            if not any(_private(p) for p in target):
                out.extend((node.lineno, target + [alias.name]) for alias in node.names if _private(alias.name))
    return out


def private_cross_package_imports(src: Path = SRC) -> list[str]:
    """``file:line: imports module`` for every offending import under ``src/celltwin``."""
    offenders = []
    for path in sorted((src / "celltwin").rglob("*.py")):
        here = _module_name(path, src)
        own = here[1] if len(here) > 1 else None
        for line, target in _imported_modules(path, src):
            if target[:1] != ["celltwin"] or len(target) < 3:
                continue  # another library, or the root package's own modules
            other, rest = target[1], target[2:]
            if other != own and any(_private(p) for p in rest):
                offenders.append(f"{path.relative_to(src.parent)}:{line}: imports {'.'.join(target)}")
    return offenders


def test_no_package_imports_another_packages_private_module():
    offenders = private_cross_package_imports()
    assert not offenders, "private modules of other packages imported:\n" + "\n".join(offenders)


def test_the_check_sees_relative_and_absolute_imports(tmp_path):
    src = tmp_path / "src"
    for pkg in ("alpha", "beta"):
        (src / "celltwin" / pkg).mkdir(parents=True)
        (src / "celltwin" / pkg / "__init__.py").write_text("")
    (src / "celltwin" / "__init__.py").write_text("")
    (src / "celltwin" / "alpha" / "_own.py").write_text("")
    (src / "celltwin" / "alpha" / "a.py").write_text(
        "from ..beta._hidden import x\nfrom celltwin.beta._hidden import y\nfrom ..beta import _hidden\n"
        "from ._own import z\nfrom .. import _config\nfrom ..beta import public\n")
    found = private_cross_package_imports(src)
    assert [f.split(": ")[0].rsplit(":", 1)[1] for f in found] == ["1", "2", "3"]
