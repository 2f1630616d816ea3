"""How long ``import minialchemy.orm`` takes, next to ``import sqlite3`` and SQLAlchemy's ORM.

A script, not a test: ``python benchmarks/bench_import.py [--runs N] [--check]``;
``python benchmarks/report.py --micro`` shows the same ratio in its table
(:func:`import_medians`).

Each statement runs in a fresh interpreter under ``python -X importtime``; the time it
costs is the sum of the cumulative times of the top-level imports it triggered (those
printed after a marker, so the interpreter's own start-up imports are left out).  The
statements take turns, one fresh interpreter each per round, so a change in the machine's
load touches all of them alike; the median over the rounds is reported.  Issue 12's target
is a ratio, ``import minialchemy.orm`` at most 3 times ``import sqlite3`` (the driver it
wraps), measured in the same run.  With ``--check`` the exit status is 1 when the ratio is
over the target, and 2 when the import fails.  The backend is whatever the environment
selects (set ``MINIALCHEMY_PURE_PYTHON=1`` to measure the pure-Python twins).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

TARGET_STATEMENT = "import minialchemy.orm"
BASELINE_STATEMENT = "import sqlite3"
#: issue 12: ``import minialchemy.orm`` at most this many times ``import sqlite3``
TARGET_RATIO = 3.0
STATEMENTS = [BASELINE_STATEMENT, "import minialchemy", TARGET_STATEMENT, "import sqlalchemy.orm"]
OPTIONAL_STATEMENTS = {"import sqlalchemy.orm"}  # measured only if SQLAlchemy is installed
MARKER = "--minialchemy-bench-import--"


class ImportFailed(Exception):
    """The statement raised in the child interpreter."""


def _child_environment(environment: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the measured interpreters: bytecode caching allowed.

    With ``PYTHONDONTWRITEBYTECODE`` set (some machines set it globally), an editable install
    never gets ``.pyc`` files and every run compiles every module from source, which measures
    the compiler, not the import.  A normal ``pip install`` writes the ``.pyc`` files; this
    makes an editable install comparable (the warm-up run writes them).
    """
    environment = dict(os.environ if environment is None else environment)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def measure_once(statement: str, workdir: str, environment: dict[str, str] | None = None) -> int:
    """Run *statement* in a fresh interpreter (with *environment*, default this process's);
    return the microseconds its imports took."""
    code = f"import sys; sys.stderr.write({MARKER!r} + '\\n'); {statement}"
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        cwd=workdir,  # not the repository: measure the installed package
        env=_child_environment(environment),
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


def import_medians(
    statements: list[str], runs: int, workdir: str, environment: dict[str, str] | None = None
) -> dict[str, float | ImportFailed]:
    """Median milliseconds of each statement over *runs* rounds in which the statements take
    turns (after one warm-up round that leaves the bytecode caches written); a statement that
    fails maps to its :class:`ImportFailed`."""
    return {
        statement: taken if isinstance(taken, ImportFailed) else statistics.median(taken) / 1000
        for statement, taken in import_samples(statements, runs, workdir, environment).items()
    }


def import_samples(
    statements: list[str], runs: int, workdir: str, environment: dict[str, str] | None = None
) -> dict[str, list[int] | ImportFailed]:
    """The microseconds of each statement in each of *runs* rounds (as :func:`import_medians`
    takes them, in round order: round *i* of two statements ran next to each other)."""
    samples: dict[str, list[int] | ImportFailed] = {statement: [] for statement in statements}
    for round_number in range(runs + 1):
        for statement in statements:
            taken = samples[statement]
            if isinstance(taken, ImportFailed):
                continue
            try:
                microseconds = measure_once(statement, workdir, environment)
            except ImportFailed as failure:
                samples[statement] = failure
                continue
            if round_number > 0:  # round 0 is the warm-up
                taken.append(microseconds)
    return samples


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
        help=f"exit 1 if `{TARGET_STATEMENT}` takes more than {TARGET_RATIO:g} times `{BASELINE_STATEMENT}`",
    )
    arguments = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as workdir:
        print(f"python {sys.version.split()[0]} at {sys.executable}")
        print(f"backend {active_backend(workdir)}")
        print(f"median cumulative import time over {arguments.runs} rounds of fresh interpreters:")
        medians = import_medians(STATEMENTS, arguments.runs, workdir)
    baseline = medians[BASELINE_STATEMENT]
    for statement, result in medians.items():
        if isinstance(result, ImportFailed):
            if statement in OPTIONAL_STATEMENTS:
                print(f"  {statement:<26} not installed, skipped")
            else:
                print(f"  {statement:<26} FAILED: {result}")
            continue
        note = ""
        if isinstance(baseline, float) and statement != BASELINE_STATEMENT:
            note = f"   {result / baseline:5.2f}x {BASELINE_STATEMENT}"
            if statement == TARGET_STATEMENT:
                verdict = "met" if result / baseline <= TARGET_RATIO else "MISSED"
                note += f" (target <= {TARGET_RATIO:g}x: {verdict})"
        print(f"  {statement:<26} {result:8.1f} ms{note}")

    if not arguments.check:
        return 0
    target = medians[TARGET_STATEMENT]
    if isinstance(target, ImportFailed) or isinstance(baseline, ImportFailed):
        return 2
    return 0 if target / baseline <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
