"""Build the compiled twins: every ``ext/<stem>.pyx`` becomes ``minialchemy._ext.<stem>``.

Metadata lives in pyproject.toml; this file only holds the extension list.

* ``MINIALCHEMY_NO_EXT=1 pip install .`` builds no extension (a pure-Python install).
* If the extensions cannot be built (Cython missing, a Cython error, no C compiler, a
  compiler error), the install still succeeds as pure Python, with one warning saying why.
  ``python -m minialchemy info`` then reports the Python backend and the reason.
"""

import os
import sys
from glob import glob
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import BaseError, CCompilerError

CYTHON_DIRECTIVES = {"language_level": "3", "boundscheck": False, "wraparound": False}


def twin_extensions() -> list:
    """One Extension per ``ext/*.pyx``, unless MINIALCHEMY_NO_EXT asks for none."""
    if os.environ.get("MINIALCHEMY_NO_EXT", "") not in ("", "0"):
        return []
    return [
        Extension(f"minialchemy._ext.{Path(pyx).stem}", [pyx])
        for pyx in sorted(glob(os.path.join("ext", "*.pyx")))
    ]


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
        try:
            generated = cythonize(
                self.extensions,
                compiler_directives=CYTHON_DIRECTIVES,
                # src/ holds the .pxd files of twins that other twins cimport
                include_path=["src"],
                build_dir=os.path.join(self.build_temp, "cython"),
                quiet=True,
            )
            # cythonize() returns copies; keep setuptools' own Extension objects (it has
            # annotated them already) and give them the generated C sources.
            c_sources = {ext.name: ext.sources for ext in generated}
            for ext in self.extensions:
                ext.sources = c_sources[ext.name]
            super().run()
        except (CythonCompileError, BaseError, CCompilerError, OSError) as exc:
            self._fall_back_to_pure_python(f"{type(exc).__name__}: {exc}")

    def _fall_back_to_pure_python(self, reason: str) -> None:
        """Forget every extension (and remove any already built) and warn once."""
        for ext in self.extensions:
            built = self.get_ext_fullpath(ext.name)
            if os.path.exists(built):
                os.remove(built)
        self.extensions[:] = []
        sys.stderr.write(
            "\n"
            "WARNING: minialchemy's compiled twins could not be built; installing the\n"
            "pure-Python twins instead (same behaviour, slower hot paths).\n"
            f"  reason: {reason}\n"
            "  check:  python -m minialchemy info\n\n"
        )


setup(ext_modules=twin_extensions(), cmdclass={"build_ext": OptionalBuildExt})
