"""Suite-wide test set-up: which backend is active, and the ``backend`` fixture for twin tests.

The twins (``minialchemy.orm.<name>`` in Python, ``minialchemy._ext.<name>`` compiled) are
tested side by side, as PEP 399 asks of CPython's accelerator modules: a test that takes
the ``backend`` fixture runs once per twin.  CI runs the whole suite twice, once as
installed (compiled) and once with ``MINIALCHEMY_PURE_PYTHON=1``.
"""

from importlib import import_module
from types import SimpleNamespace

import pytest

from minialchemy import _accel


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
                f"(reinstall with `pip install .`, or set {_accel.PURE_PYTHON_VARIABLE}=1 "
                f"to test the pure-Python twins only)"
            )
    return SimpleNamespace(name=request.param, **modules)
