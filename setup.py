"""Build the compiled twins: every ``ext/<stem>.pyx`` becomes ``minialchemy._ext.<stem>``.

Metadata lives in pyproject.toml; this file only holds the extension list.

* ``MINIALCHEMY_NO_EXT=1 pip install .`` builds no extension (a pure-Python install).
* If the extensions cannot be built (Cython missing, a Cython error, no C compiler, a
  compiler error), the install still succeeds as pure Python, with one warning saying why.

pip hides a successful build's output, warning included, so the reason is also written into
the installed package (``minialchemy/_ext/build_report.txt``, :data:`BUILD_REPORT`):
``python -m minialchemy info`` prints it, and the test suite names it when it skips the
compiled half.  A build that compiles the twins removes any older report.
"""

import contextlib
import io
import os
import subprocess
import sys
from glob import glob
from typing import Any
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import BaseError, CCompilerError, ExecError

CYTHON_DIRECTIVES = {"language_level": "3", "boundscheck": False, "wraparound": False}
#: where, inside the package, a build that installs no compiled twins says why
BUILD_REPORT = os.path.join("minialchemy", "_ext", "build_report.txt")
NO_EXT_VARIABLE = "MINIALCHEMY_NO_EXT"
#: how many lines of the compiler's (or Cython's) error output the report keeps
REPORT_LINES = 8


def no_ext_requested() -> bool:
    return os.environ.get(NO_EXT_VARIABLE, "") not in ("", "0")


def write_build_report(package_root: str, reason: str | None) -> None:
    """Write the reason into ``<package_root>/minialchemy/_ext/build_report.txt`` (None:
    remove an older report, the twins were built)."""
    path = os.path.join(package_root, BUILD_REPORT)
    if reason is None:
        if os.path.exists(path):
            os.remove(path)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as report:
        report.write(reason.rstrip() + "\n")


def twin_extensions() -> list:
    """One Extension per ``ext/*.pyx``, unless MINIALCHEMY_NO_EXT asks for none."""
    if no_ext_requested():
        return []
    return [
        Extension(f"minialchemy._ext.{Path(pyx).stem}", [pyx])
        for pyx in sorted(glob(os.path.join("ext", "*.pyx")))
    ]


class BuildPyWithReport(build_py):
    """Copy the package; write the build report of a build that compiles nothing on purpose
    (``MINIALCHEMY_NO_EXT``), remove a stale one otherwise (build_ext runs after this)."""

    def run(self) -> None:
        super().run()
        root = "src" if getattr(self, "editable_mode", False) else self.build_lib
        value = os.environ.get(NO_EXT_VARIABLE, "")
        write_build_report(
            root,
            f"switched off: {NO_EXT_VARIABLE}={value} was set when the package was built"
            if no_ext_requested() else None,
        )


class OptionalBuildExt(build_ext):
    """Cythonize and compile the twins; on any build failure, install pure Python instead."""

    def run(self) -> None:
        if not self.extensions:
            return
        try:
            from Cython.Build import cythonize
            from Cython.Compiler.Errors import CompileError as CythonCompileError
        except ImportError as exc:
            self._fall_back_to_pure_python(f"Cython is not installed ({exc})")
            return
        cython_output = io.StringIO()
        self._compiler_output: list[str] = []
        try:
            with contextlib.redirect_stderr(cython_output), contextlib.redirect_stdout(cython_output):
                    generated = cythonize(
                    self.extensions,
                    compiler_directives=CYTHON_DIRECTIVES,
                    # src/ holds the .pxd files of twins that other twins cimport
                    include_path=["src"],
                    build_dir=os.path.join(self.build_temp, "cython"),
                    quiet=True,
                )
            # cythonize() returns copies; keep setuptools' own Extension objects (it has
            # annotated them already) and give them the generated C sources and the macros of
            # the .pyx's ``# distutils: define_macros=`` line.
            copies = {ext.name: ext for ext in generated}
            for ext in self.extensions:
                ext.sources = copies[ext.name].sources
                ext.define_macros = copies[ext.name].define_macros
            super().run()
        except (CythonCompileError, BaseError, CCompilerError, OSError) as exc:
            output = (cython_output.getvalue().splitlines() + self._compiler_output)[:REPORT_LINES]
            details = "".join(f"\n    {line}" for line in output if line.strip())
            self._fall_back_to_pure_python(f"{type(exc).__name__}: {exc}{details}")
            return
        finally:
            sys.stderr.write(cython_output.getvalue())
        write_build_report(self._package_root(), None)

    def build_extensions(self) -> None:
        """Compile, keeping the compiler's error output for the build report.  (setuptools
        runs compiler commands through ``compiler.call`` since 2025, ``spawn`` before.)"""
        if hasattr(self.compiler, "call"):
            self.compiler.call = self._call_keeping_errors
        else:
            self.compiler.spawn = self._spawn_keeping_errors
        super().build_extensions()

    def _run_keeping_errors(self, command: list[Any], **kwargs: Any) -> int:
        """Run one compiler command; show its output as usual, and keep it if it fails."""
        completed = subprocess.run([os.fspath(part) for part in command], capture_output=True, text=True, **kwargs)
        sys.stderr.write(completed.stdout + completed.stderr)
        if completed.returncode != 0:
            self._compiler_output = (completed.stderr or completed.stdout).splitlines()
        return completed.returncode

    def _call_keeping_errors(self, command: list[Any], **kwargs: Any) -> None:
        returncode = self._run_keeping_errors(command, **kwargs)
        if returncode != 0:
            raise subprocess.CalledProcessError(returncode, [os.fspath(command[0])])

    def _spawn_keeping_errors(self, command: list[Any], **kwargs: Any) -> None:
        kwargs.pop("dry_run", None)
        if self._run_keeping_errors(command, **kwargs) != 0:
            raise ExecError(f"command {os.fspath(command[0])!r} failed")

    def _package_root(self) -> str:
        """The folder holding the ``minialchemy`` package being built (the build's, or src/
        for an in-place build)."""
        built = self.get_ext_fullpath("minialchemy._ext.identity")
        return os.path.dirname(os.path.dirname(os.path.dirname(built)))

    def _fall_back_to_pure_python(self, reason: str) -> None:
        """Forget every extension (and remove any already built) and warn once."""
        for ext in self.extensions:
            built = self.get_ext_fullpath(ext.name)
            if os.path.exists(built):
                os.remove(built)
        self.extensions[:] = []
        write_build_report(self._package_root(), f"the compiled twins could not be built: {reason}")
        sys.stderr.write(
            "\n"
            "WARNING: minialchemy's compiled twins could not be built; installing the\n"
            "pure-Python twins instead (same behaviour, slower hot paths).\n"
            f"  reason: {reason}\n"
            "  check:  python -m minialchemy info\n\n"
        )


setup(ext_modules=twin_extensions(), cmdclass={"build_ext": OptionalBuildExt, "build_py": BuildPyWithReport})
