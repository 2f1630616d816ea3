"""Backend selection: the compiled (Cython) twins, or their pure-Python originals.

CPython's accelerator pattern (``heapq`` / ``_heapq``, ``datetime`` / ``_datetime``, PEP 399):
each hot-path module exists twice, a readable one under ``minialchemy.orm`` and a compiled
one under ``minialchemy._ext``, with the same classes and methods.  This module decides,
once at import, which set runs:

* ``MINIALCHEMY_PURE_PYTHON=1`` in the environment: the pure-Python twins.
* otherwise the compiled twins, if *every* one of them imports; if one does not (a
  pure-Python install, a failed build), all twins fall back to Python together, so a
  process never mixes backends.

Library code writes ``from minialchemy._accel import identity`` and gets whichever module
is active.  The pure-Python twins are imported lazily (on first access), because importing
``minialchemy.orm.identity`` runs ``minialchemy/orm/__init__.py``, which itself imports
from here.  Nothing heavy is imported: this module is read on every ``import minialchemy``.
The same first-use import serves the packages' own lazy names (:func:`import_lazy_name`).
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

__all__ = [
    "ACCELERATED",
    "BACKEND",
    "BUILD_REPORT",
    "PURE_PYTHON_VARIABLE",
    "REASON",
    "TWINS",
    "identity",
    "import_lazy_name",
    "instrumentation",
    "pure_python_requested",
]

#: Every twin: name -> (compiled module, pure-Python module).  One line per ``ext/*.pyx``;
#: tests/test_build.py checks that this table and ``ext/`` agree.
TWINS: dict[str, tuple[str, str]] = {
    "identity": ("minialchemy._ext.identity", "minialchemy.orm.identity"),
    "instrumentation": ("minialchemy._ext.instrumentation", "minialchemy.orm.instrumentation"),
}

PURE_PYTHON_VARIABLE = "MINIALCHEMY_PURE_PYTHON"


def pure_python_requested() -> bool:
    """True when ``MINIALCHEMY_PURE_PYTHON`` is set to anything but empty or ``0``."""
    return os.environ.get(PURE_PYTHON_VARIABLE, "") not in ("", "0")


def _import_module(name: str) -> ModuleType:
    """``importlib.import_module(name)`` for an absolute name, without importing importlib
    (with the ``warnings`` module it imports, a tenth of sqlite3's own import: issue 12)."""
    __import__(name)
    return sys.modules[name]


def _read_build_report() -> str | None:
    """What the build wrote when it installed no compiled twins (``_ext/build_report.txt``,
    see setup.py), or None."""
    path = os.path.join(os.path.dirname(__file__), "_ext", "build_report.txt")
    try:
        with open(path, encoding="utf-8") as report:
            return report.read().strip() or None
    except OSError:
        return None


#: Why the build installed no compiled twins (switched off, or the compiler's error), or None.
BUILD_REPORT: str | None = _read_build_report()


def _load_compiled_twins() -> tuple[dict[str, ModuleType], str]:
    """Import every compiled twin; return ``({name: module}, reason)``, empty on any failure."""
    if pure_python_requested():
        value = os.environ[PURE_PYTHON_VARIABLE]
        return {}, f"{PURE_PYTHON_VARIABLE}={value} is set"
    loaded = {}
    for name, (compiled_name, _pure_name) in TWINS.items():
        try:
            loaded[name] = _import_module(compiled_name)
        except ImportError as exc:
            built = f"; the build said: {BUILD_REPORT.splitlines()[0]}" if BUILD_REPORT else ""
            return {}, f"compiled extension not importable: {exc}{built}"
    names = ", ".join(compiled_name for compiled_name, _pure_name in TWINS.values())
    return loaded, f"compiled extension {names} loaded"


_active, _reason = _load_compiled_twins()
#: True when the compiled twins are the ones in use.
ACCELERATED: bool = bool(_active)
#: ``"cython"`` or ``"python"``: the name of the active backend.
BACKEND: str = "cython" if ACCELERATED else "python"
#: Why this backend is active, as a sentence (shown by ``python -m minialchemy info``).
REASON: str = _reason


def __getattr__(name: str) -> ModuleType:
    """Return the active module of twin *name* (PEP 562), importing a pure twin on first use."""
    if name not in TWINS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _active.get(name)
    if module is None:
        module = _import_module(TWINS[name][1])
    globals()[name] = module  # later lookups are plain attribute reads
    return module


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(TWINS))


def import_lazy_name(namespace: dict[str, object], lazy_names: dict[str, str], name: str) -> object:
    """PEP 562's module ``__getattr__`` for a package's names imported on first use: import
    ``name`` from the module ``lazy_names`` gives for it, and keep it in the package's
    ``namespace`` (later lookups are plain attribute reads).  ``minialchemy`` and ``minialchemy.orm``
    use it."""
    module_name = lazy_names.get(name)
    if module_name is None:
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
    value = getattr(__import__(module_name, fromlist=[name]), name)
    namespace[name] = value
    return value
