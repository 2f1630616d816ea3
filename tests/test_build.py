"""The build: the compiled twins are really compiled, and the backend choice says so.

Run as installed, these tests demand the compiled backend; with
``MINIALCHEMY_PURE_PYTHON=1`` they demand the pure-Python one.  Either way the twins
must have the same shape (PEP 399: the accelerator is a drop-in for the Python module).
"""

import importlib
import importlib.machinery
import subprocess
import sys
from pathlib import Path

import pytest

from minialchemy import _accel

EXT_DIR = Path(__file__).resolve().parent.parent / "ext"

pure_mode = pytest.mark.skipif(
    not _accel.pure_python_requested(), reason="checks the MINIALCHEMY_PURE_PYTHON=1 run"
)
_compiled_run = pytest.mark.skipif(
    _accel.pure_python_requested(), reason="checks the compiled run (MINIALCHEMY_PURE_PYTHON is set)"
)


def compiled_mode(test):
    """Checks the compiled run; marked ``compiled`` (skipped after a fallback install)."""
    return pytest.mark.compiled(_compiled_run(test))


@compiled_mode
def test_compiled_twins_are_extension_modules():
    for compiled_name, _pure_name in _accel.TWINS.values():
        module = importlib.import_module(compiled_name)
        assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), (
            f"{compiled_name} was loaded from {module.__file__}, not from a compiled extension"
        )
        assert module.COMPILED is True


@compiled_mode
def test_installed_package_runs_accelerated():
    assert _accel.ACCELERATED, _accel.REASON
    assert _accel.BACKEND == "cython"
    assert _accel.REASON.startswith("compiled extension")
    for name, (compiled_name, _pure_name) in _accel.TWINS.items():
        assert getattr(_accel, name).__name__ == compiled_name


@pure_mode
def test_pure_python_variable_selects_the_python_twins():
    assert not _accel.ACCELERATED
    assert _accel.BACKEND == "python"
    assert "MINIALCHEMY_PURE_PYTHON" in _accel.REASON
    for name, (_compiled_name, pure_name) in _accel.TWINS.items():
        module = getattr(_accel, name)
        assert module.__name__ == pure_name
        assert module.__file__.endswith(".py")


def test_every_pyx_file_has_a_row_in_the_twin_table():
    pyx_stems = sorted(path.stem for path in EXT_DIR.glob("*.pyx"))

    assert pyx_stems == sorted(_accel.TWINS)
    for stem in pyx_stems:
        assert _accel.TWINS[stem] == (f"minialchemy._ext.{stem}", f"minialchemy.orm.{stem}")


@compiled_mode
def test_the_twins_expose_the_same_names():
    """Every public name, class and method of a Python twin exists in the compiled twin too."""
    for name, (compiled_name, pure_name) in _accel.TWINS.items():
        pure = importlib.import_module(pure_name)
        compiled = importlib.import_module(compiled_name)
        assert compiled.__all__ == pure.__all__
        for export in pure.__all__:
            assert hasattr(compiled, export), f"{name}: compiled twin lacks {export}"
        for class_name in [export for export in pure.__all__ if isinstance(getattr(pure, export), type)]:
            pure_methods = {
                attribute
                for attribute in vars(getattr(pure, class_name))
                if not attribute.startswith("_") or attribute.endswith("__")
            } - {"__module__", "__slots__", "__dict__", "__weakref__", "__annotations__",
               "__firstlineno__", "__static_attributes__"}  # class bookkeeping (3.13)
            missing = pure_methods - set(dir(getattr(compiled, class_name)))
            assert not missing, f"{class_name} of {name}: compiled twin lacks {sorted(missing)}"


def test_info_command_reports_the_active_backend():
    completed = subprocess.run(
        [sys.executable, "-m", "minialchemy", "info"],
        capture_output=True,
        text=True,
        check=True,
    )

    assert _accel.REASON in completed.stdout
    for compiled_name, pure_name in _accel.TWINS.values():
        assert (compiled_name if _accel.ACCELERATED else pure_name) in completed.stdout
