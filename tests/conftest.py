"""Suite-wide test set-up: which backend is active, and the ``backend`` fixture for twin tests.

The twins (``minialchemy.orm.<name>`` in Python, ``minialchemy._ext.<name>`` compiled) are
tested side by side, as PEP 399 asks of CPython's accelerator modules: a test that takes
the ``backend`` fixture runs once per twin.  CI runs the whole suite twice, once as
installed (compiled) and once with ``MINIALCHEMY_PURE_PYTHON=1``.

After an install that fell back to pure Python (no compiler, a build error: see
``python -m minialchemy info``), the compiled half (``backend`` = cython, and tests marked
``compiled``) is skipped with one reason, unless ``MINIALCHEMY_REQUIRE_COMPILED=1`` asks for
the compiled twins (CI sets it): then those tests fail.
"""

import os
from importlib import import_module
from types import SimpleNamespace

import pytest

from minialchemy import _accel


REQUIRE_COMPILED_VARIABLE = "MINIALCHEMY_REQUIRE_COMPILED"


def compiled_twins_missing_reason():
    """Why the compiled half cannot run in this install, or None when it can (or must)."""
    if _accel.pure_python_requested() or _accel.ACCELERATED:
        return None
    if os.environ.get(REQUIRE_COMPILED_VARIABLE, "") not in ("", "0"):
        return None
    return (
        f"the compiled twins are not installed ({_accel.REASON}); testing the pure-Python twins "
        f"only. `python -m minialchemy info` says why; set {REQUIRE_COMPILED_VARIABLE}=1 to fail instead"
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "compiled: needs the compiled twins installed")


def pytest_collection_modifyitems(config, items):
    """Skip the compiled half, with one reason, after a pure-Python (fallback) install."""
    reason = compiled_twins_missing_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.get_closest_marker("compiled") or (callspec and callspec.params.get("backend") == "cython"):
            item.add_marker(skip)


def pytest_report_header(config):
    """Say at the top of the run which backend the library itself is using, and why."""
    return f"minialchemy backend: {_accel.BACKEND} ({_accel.REASON})"


@pytest.fixture(scope="session", params=["python", "cython"])
def backend(request):
    """One twin set, imported directly: ``backend.identity`` is that backend's module.

    The ``cython`` case fails when the compiled twins are not importable (the build did
    not produce them), except with ``MINIALCHEMY_PURE_PYTHON=1``, where it is skipped.
    """
    if request.param == "cython" and _accel.pure_python_requested():
        pytest.skip(f"{_accel.PURE_PYTHON_VARIABLE} is set: testing the pure-Python twins only")
    position = 0 if request.param == "cython" else 1
    modules = {}
    for name, module_names in _accel.TWINS.items():
        try:
            modules[name] = import_module(module_names[position])
        except ImportError as exc:
            pytest.fail(
                f"the {request.param} twin {module_names[position]} is not importable: {exc} "
                f"(reinstall with `pip install .`, `python -m minialchemy info` says why the "
                f"build has none; or set {_accel.PURE_PYTHON_VARIABLE}=1 to test the pure-Python "
                f"twins only)"
            )
    return SimpleNamespace(name=request.param, **modules)
