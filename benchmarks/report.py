"""Benchmark reports: ``python benchmarks/report.py --insert [--file]`` and ``--micro``.

Each report lives in a module of its own beside this script and is chosen by one flag:

- ``--insert``: INSERT primary-key retrieval strategies (``insert_report.py``), writing
  ``benchmarks/results/insert_pk.md``, ``.json`` and ``.png``.
- ``--micro``: the hot paths of the twins beside SQLAlchemy (``micro_report.py``), writing
  ``benchmarks/results/micro.md`` and ``.json``.
- ``--selectin``: ``selectinload`` of 10 000 users with their addresses beside SQLAlchemy and raw
  sqlite3 (``selectin_report.py``), writing ``benchmarks/results/selectin.md`` and ``.json``.

To add a report (say ``--foo``): write ``foo_report.py`` with ``add_arguments(parser)``
(its options, in an argument group) and ``run(args) -> int``, and add one line to ``REPORTS``.
Several flags run several reports, in the order of ``REPORTS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: flag -> (module beside this script, what it reports)
REPORTS: dict[str, tuple[str, str]] = {
    "insert": ("insert_report", "INSERT primary-key retrieval: per-row, batched RETURNING, client keys, peers"),
    "micro": ("micro_report", "hot paths (issues 4 and 12): attribute get/set, construct, Session.get, IdentitySet, load, flush, memory per object, import time"),
    "selectin": ("selectin_report", "selectinload of 10 000 users with their addresses vs SQLAlchemy and raw sqlite3 (issue 10)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run minialchemy's benchmark reports.")
    modules = {}
    for flag, (module_name, help_text) in REPORTS.items():
        parser.add_argument(f"--{flag}", action="store_true", help=help_text)
        modules[flag] = importlib.import_module(module_name)
        modules[flag].add_arguments(parser)
    args = parser.parse_args(argv)
    chosen = [flag for flag in REPORTS if getattr(args, flag)]
    if not chosen:
        parser.error("choose a report: " + ", ".join(f"--{flag}" for flag in REPORTS))
    status = 0
    for flag in chosen:
        status = modules[flag].run(args) or status
    return status


if __name__ == "__main__":
    sys.exit(main())
