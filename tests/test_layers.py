"""The layers import downward only: sql <- engine <- orm <- package root and tour.

docs/how_it_works.md promises it; this test reads every module's imports (all of them: at the
top, inside functions, under ``TYPE_CHECKING``) with ``ast`` and checks each against the layer
it belongs to.  ``minialchemy.exc`` and ``minialchemy.inspection`` sit below every layer (each
layer registers its own types with ``inspect()``, so the registry needs none of them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import minialchemy

PACKAGE = Path(minialchemy.__file__).resolve().parent

#: layer of a module (by the longest matching prefix), lowest first
LAYER_OF_PREFIX = {
    "minialchemy.exc": 0,
    "minialchemy.inspection": 0,
    "minialchemy.sql": 1,
    "minialchemy.engine": 2,
    "minialchemy.orm": 3,
    "minialchemy._accel": 3,  # chooses the ORM's compiled or pure-Python twins
    "minialchemy._ext": 3,  # the compiled twins of orm/identity.py and orm/instrumentation.py
    "minialchemy": 4,  # the package root, __main__ and the tour
}
LAYER_NAMES = ["exc/inspection", "sql", "engine", "orm", "package root"]


def layer(module: str) -> int:
    prefix = max((p for p in LAYER_OF_PREFIX if module == p or module.startswith(p + ".")), key=len)
    return LAYER_OF_PREFIX[prefix]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    base = PACKAGE / relative
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists() or any(
        PACKAGE.joinpath(relative.parent).glob(f"{relative.name}.*.so")
    )


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of a minialchemy module in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("minialchemy")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("minialchemy"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.append((node.lineno, submodule if is_module(submodule) else node.module))
    return found


def test_every_module_imports_only_its_own_layer_and_the_layers_below():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        for line, imported in imported_modules(path):
            if layer(imported) > layer(importer):
                upward.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {importer} ({LAYER_NAMES[layer(importer)]}) "
                    f"imports {imported} ({LAYER_NAMES[layer(imported)]})"
                )
    assert upward == []


def test_the_layer_check_sees_an_upward_import(tmp_path):
    # the check itself works: a sql module importing the ORM is caught
    fake = tmp_path / "probe.py"
    fake.write_text("def f():\n    from minialchemy.orm.session import Session\n")
    [(line, imported)] = imported_modules(fake)
    assert (line, imported) == (2, "minialchemy.orm.session")
    assert layer(imported) > layer("minialchemy.sql.compiler")


def test_the_sql_layer_does_not_know_about_mappers():
    # entities reach the SQL layer through inspect(), never through ORM attribute names
    for path in (PACKAGE / "sql").glob("*.py"):
        text = path.read_text()
        assert "__mapper__" not in text and "__table__" not in text, path.name


def _private_methods(path: Path, classes: set[str]) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name in classes:
            names |= {
                item.name for item in node.body
                if isinstance(item, ast.FunctionDef) and item.name.startswith("_") and not item.name.endswith("__")
            }
    return names


def test_layers_above_the_engine_use_its_public_methods_only():
    # the cause of a statement travels as execution_options={"cause": ...} of a public method
    private = _private_methods(PACKAGE / "engine" / "base.py", {"Engine", "Connection", "Dialect"})
    assert "_execute_sql" in private
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "engine":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in private:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: .{node.attr}")
    assert found == []


def test_the_orm_writes_no_sql_text_of_its_own():
    # the ORM builds Core statements; SQL text comes from sql/compiler.py only, so nothing in
    # orm/ borrows the compiler's identifier quoting to glue SQL together
    for path in sorted((PACKAGE / "orm").glob("*.py")):
        for line, imported in imported_modules(path):
            source = path.read_text().splitlines()[line - 1]
            assert not (imported == "minialchemy.sql.compiler" and "quote" in source), f"{path.name}:{line}"
