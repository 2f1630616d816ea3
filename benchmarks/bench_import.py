"""How long ``import minialchemy.orm`` takes, next to ``import sqlite3`` and SQLAlchemy's ORM.

A script, not a test: ``python benchmarks/bench_import.py [--runs N] [--check]``.

Each statement runs in a fresh interpreter under ``python -X importtime``; the time it
costs is the sum of the cumulative times of the top-level imports it triggered (those
printed after a marker, so the interpreter's own start-up imports are left out).  The
median over the runs is reported.  With ``--check`` the exit status is 1 when
``import minialchemy.orm`` takes longer than the target, and 2 when it fails.
The backend is whatever the environment selects (set ``MINIALCHEMY_PURE_PYTHON=1`` to
measure the pure-Python twins).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

TARGET_STATEMENT = "import minialchemy.orm"
TARGET_MILLISECONDS = 30.0
STATEMENTS = ["import sqlite3", "import minialchemy", TARGET_STATEMENT, "import sqlalchemy.orm"]
OPTIONAL_STATEMENTS = {"import sqlalchemy.orm"}  # measured only if SQLAlchemy is installed
MARKER = "--minialchemy-bench-import--"


class ImportFailed(Exception):
    """The statement raised in the child interpreter."""


def _child_environment() -> dict[str, str]:
    """The environment of the measured interpreters: bytecode caching allowed.

    With ``PYTHONDONTWRITEBYTECODE`` set (some machines set it globally), an editable install
    never gets ``.pyc`` files and every run compiles every module from source, which measures
    the compiler, not the import.  A normal ``pip install`` writes the ``.pyc`` files; this
    makes an editable install comparable (the warm-up run writes them).
    """
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def measure_once(statement: str, workdir: str) -> int:
    """Run *statement* in a fresh interpreter; return the microseconds its imports took."""
    code = f"import sys; sys.stderr.write({MARKER!r} + '\\n'); {statement}"
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        cwd=workdir,  # not the repository: measure the installed package
        env=_child_environment(),
    )
    lines = completed.stderr.splitlines()
    if completed.returncode != 0:
        last_line = lines[-1] if lines else f"exit status {completed.returncode}"
        raise ImportFailed(last_line)
    total = 0
    for line in lines[lines.index(MARKER) + 1 :]:
        if not line.startswith("import time:"):
            continue
        _label, _self_us, cumulative_us, name = _fields(line)
        if name.startswith("  "):  # nested: already counted in its parent's cumulative time
            continue
        total += int(cumulative_us)
    return total


def _fields(line: str) -> tuple[str, str, str, str]:
    """Split ``import time: SELF | CUMULATIVE | <2 spaces per level>NAME``."""
    head, cumulative_us, name = line.split("|", 2)
    label, self_us = head.split(":", 1)
    return label, self_us.strip(), cumulative_us.strip(), name[1:]


def median_milliseconds(statement: str, runs: int, workdir: str) -> float:
    """Median over *runs* fresh interpreters, in milliseconds (after one warm-up run that
    leaves the bytecode caches written)."""
    measure_once(statement, workdir)
    return statistics.median(measure_once(statement, workdir) for _ in range(runs)) / 1000


def active_backend(workdir: str) -> str:
    """The backend sentence the measured interpreter would report, or why there is none."""
    completed = subprocess.run(
        [sys.executable, "-c", "import minialchemy._accel as a; print(a.BACKEND + ': ' + a.REASON)"],
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    if completed.returncode != 0:
        return "unknown (minialchemy._accel does not import)"
    return completed.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    """Measure every statement, print a table, and apply the target with ``--check``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per statement (default 7)")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 if `{TARGET_STATEMENT}` takes more than {TARGET_MILLISECONDS:g} ms",
    )
    arguments = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as workdir:
        print(f"python {sys.version.split()[0]} at {sys.executable}")
        print(f"backend {active_backend(workdir)}")
        print(f"median cumulative import time over {arguments.runs} fresh interpreters:")
        target_result = None
        for statement in STATEMENTS:
            try:
                milliseconds = median_milliseconds(statement, arguments.runs, workdir)
            except ImportFailed as failure:
                if statement in OPTIONAL_STATEMENTS:
                    print(f"  {statement:<26} not installed, skipped")
                    continue
                print(f"  {statement:<26} FAILED: {failure}")
                if statement == TARGET_STATEMENT:
                    target_result = failure
                continue
            note = ""
            if statement == TARGET_STATEMENT:
                target_result = milliseconds
                verdict = "ok" if milliseconds <= TARGET_MILLISECONDS else "OVER TARGET"
                note = f"   (target <= {TARGET_MILLISECONDS:g} ms: {verdict})"
            print(f"  {statement:<26} {milliseconds:8.1f} ms{note}")

    if not arguments.check:
        return 0
    if isinstance(target_result, ImportFailed):
        return 2
    return 0 if target_result <= TARGET_MILLISECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
