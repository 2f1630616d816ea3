"""The twins read side by side: same definitions, same order, same parameters.

Each pure-Python twin (``src/minialchemy/orm/<name>.py``) and its compiled twin
(``ext/<name>.pyx``) must define the same classes, methods and functions -- private helpers
included -- in the same order, each with the same parameter names, the same defaults present,
and the same ``*`` / ``**`` parameters.  The Python file is read with :mod:`ast`; the Cython
file with a small line scanner (below) that understands ``def``, ``cpdef``, ``cdef`` functions
with a C return type, ``class`` and ``cdef class``, and skips docstrings and nested functions.

Two kinds of definition in a ``.pyx`` have no Python twin, and only these are left out of the
comparison:

- ``cdef inline`` functions: each is the C spelling of one expression of the Python twin
  (``_id(obj)`` for ``id(obj)``, ``_instance_dict(obj)`` for ``obj.__dict__``...);
- ``__cinit__`` and ``__dealloc__``: C-level allocation hooks of a ``cdef class``.

A property is compared once (its setter is not a second definition).

The files are read, not imported, so this test runs whatever backend is installed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from minialchemy import _accel

ROOT = Path(__file__).resolve().parent.parent
PRIVATE_C_API = ("_PyType_Lookup", "_PyObject_GetDictPtr", "PyWeakref_GetObject", "PyWeakref_GET_OBJECT")


def python_definitions(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """``[(qualified name, parameters), ...]`` of a Python module, in file order."""
    tree = ast.parse(path.read_text())
    definitions = []

    def parameters(node: ast.FunctionDef) -> tuple[str, ...]:
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        first_default = len(positional) - len(args.defaults)
        params = [a.arg + ("=" if i >= first_default else "") for i, a in enumerate(positional)]
        if args.vararg is not None:
            params.append("*" + args.vararg.arg)
        elif args.kwonlyargs:
            params.append("*")
        params += [a.arg + ("" if d is None else "=") for a, d in zip(args.kwonlyargs, args.kw_defaults)]
        if args.kwarg is not None:
            params.append("**" + args.kwarg.arg)
        return tuple(params)

    def is_setter(node: ast.FunctionDef) -> bool:
        return any(isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter") for d in node.decorator_list)

    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            definitions.append((node.name, parameters(node)))
        elif isinstance(node, ast.ClassDef):
            definitions.append((f"class {node.name}", ()))
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not is_setter(item):
                    definitions.append((f"{node.name}.{item.name}", parameters(item)))
    return definitions


_FUNCTION = re.compile(
    r"^(?P<indent> *)(?:(?P<def>def)|(?P<cdef>cpdef|cdef)(?P<inline>\s+inline)?(?:\s+[\w.]+\s*\**)?)"
    r"\s+(?P<name>\w+)\s*\("
)
_CLASS = re.compile(r"^(?P<indent> *)(?:cdef\s+)?class\s+(?P<name>\w+)\s*[(:]")
_SETTER = re.compile(r"^ *@\w+\.(setter|deleter)\b")
C_ONLY_METHODS = {"__cinit__", "__dealloc__"}


def _cython_parameter(text: str) -> str:
    """``object key``, ``PyTypeObject* cls``, ``Py_ssize_t index=-1``, ``*``, ``**kw`` -> the
    parameter as :func:`python_definitions` spells it."""
    text = re.sub(r"\s+(not|or)\s+None\b", "", text.strip())
    has_default = "=" in text
    declaration = text.split("=", 1)[0].strip()
    if declaration.startswith("**"):
        return "**" + declaration[2:].strip()
    if declaration.startswith("*"):
        return "*" + declaration[1:].strip()
    name = re.findall(r"\w+", declaration)[-1]
    return name + ("=" if has_default else "")


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def cython_definitions(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """``[(qualified name, parameters), ...]`` of a Cython module, in file order, without the
    definitions that have no Python twin (see the module docstring)."""
    lines = path.read_text().splitlines()
    definitions = []
    current_class = None
    in_docstring = False
    skip_next_def = False
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        quotes = line.count('"""') + line.count("'''")
        if in_docstring:
            in_docstring = quotes % 2 == 0
            continue
        code = line.split("#", 1)[0]
        if not code.strip():
            continue
        indent = len(code) - len(code.lstrip(" "))
        if indent == 0 and not code.lstrip().startswith("@"):
            current_class = None
        if _SETTER.match(code):
            skip_next_def = True
            continue
        class_match = _CLASS.match(code)
        function_match = None if class_match else _FUNCTION.match(code)
        if class_match:
            if len(class_match["indent"]) == 0:
                current_class = class_match["name"]
                definitions.append((f"class {current_class}", ()))
        elif function_match:
            signature = code[function_match.end():]
            while signature.count("(") + 1 > signature.count(")") and index < len(lines):
                signature += " " + lines[index].split("#", 1)[0].strip()
                index += 1
            depth, end = 1, 0
            for end, char in enumerate(signature):
                depth += {"(": 1, ")": -1}.get(char, 0)
                if depth == 0:
                    break
            params = tuple(_cython_parameter(p) for p in _split_top_level(signature[:end]))
            name = function_match["name"]
            level = len(function_match["indent"])
            skip = skip_next_def or function_match["inline"] or name in C_ONLY_METHODS
            skip_next_def = False
            if level == 0 and not skip:
                definitions.append((name, params))
            elif level == 4 and current_class is not None and not skip:
                definitions.append((f"{current_class}.{name}", params))
            # deeper: a nested function, not part of the module's outline
        else:
            if quotes % 2 == 1:
                in_docstring = True
    return definitions


def _outline(definitions: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    return [name if name.startswith("class ") else f"{name}({', '.join(params)})" for name, params in definitions]


@pytest.mark.parametrize("twin", sorted(_accel.TWINS))
def test_the_twins_define_the_same_things_in_the_same_order_with_the_same_parameters(twin):
    python_twin = ROOT / "src" / "minialchemy" / "orm" / f"{twin}.py"
    cython_twin = ROOT / "ext" / f"{twin}.pyx"

    python_outline = _outline(python_definitions(python_twin))
    cython_outline = _outline(cython_definitions(cython_twin))

    assert len(python_outline) > 10
    assert cython_outline == python_outline


def test_the_cython_scanner_reads_the_forms_the_twins_use(tmp_path):
    pyx = tmp_path / "sample.pyx"
    pyx.write_text(
        '"""Module docstring with def fake(self): inside."""\n'
        "cdef inline object _spelled(object x):\n"
        "    return x\n"
        "cdef class Thing(Base):\n"
        '    """def not_a_method(self):\n'
        '    still the docstring"""\n'
        "    cdef readonly object key\n"
        "    def __cinit__(self):\n"
        "        pass\n"
        "    @property\n"
        "    def value(self):\n"
        "        def nested(y):\n"
        "            return y\n"
        "        return 1\n"
        "    @value.setter\n"
        "    def value(self, dict v):\n"
        "        pass\n"
        "    cpdef list items(self, object key, Py_ssize_t index=-1, *, bint strict=False):\n"
        "        pass\n"
        "cdef PyObject* _lookup(PyTypeObject* cls,\n"
        "                       object name) except? NULL:\n"
        "    pass\n"
        "def everything(a, *args, b=None, **kw):\n"
        "    pass\n"
    )

    assert _outline(cython_definitions(pyx)) == [
        "class Thing",
        "Thing.value(self)",
        "Thing.items(self, key, index=, *, strict=)",
        "_lookup(cls, name)",
        "everything(a, *args, b=, **kw)",
    ]


@pytest.mark.parametrize("twin", sorted(_accel.TWINS))
def test_the_compiled_twins_use_no_private_c_api_outside_the_version_guards(twin):
    """``_PyType_Lookup``, ``_PyObject_GetDictPtr`` and ``PyWeakref_GetObject`` are reached only
    through ``src/minialchemy/_ext/capi.pxd``, which guards each by Python version."""
    source = (ROOT / "ext" / f"{twin}.pyx").read_text()

    assert [name for name in PRIVATE_C_API if name in source] == []


def test_the_c_api_guards_name_the_versions_checked():
    guards = (ROOT / "src" / "minialchemy" / "_ext" / "capi.pxd").read_text()

    assert "Checked versions: CPython 3.10, 3.11, 3.12 and 3.13" in guards
    assert "PY_VERSION_HEX >= 0x030E0000" in guards  # above the checked versions: public API only
    assert "PY_VERSION_HEX >= 0x030D0000" in guards  # PyWeakref_GetRef from 3.13
