"""Command line: ``python -m minialchemy info`` and ``python -m minialchemy tour``.

``info`` says what is installed and which backend runs (the compiled twins or the
pure-Python ones, and why); ``tour`` starts the guided tour on an in-memory SQLite
database.  This is a command-line entry point, so it writes to stdout and stderr.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import sys

__all__ = ["main", "info", "tour"]


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("minialchemy")
    except PackageNotFoundError:
        return "unknown (not installed as a distribution)"


def info() -> int:
    """Print versions, the active backend with its reason, and where each twin comes from."""
    from minialchemy import _accel

    print(f"minialchemy {_installed_version()}")
    print(f"Python      {platform.python_version()} ({platform.python_implementation()}) {sys.executable}")
    print(f"SQLite      {sqlite3.sqlite_version} (library used by the sqlite3 module)")
    print(f"backend     {_accel.BACKEND}: {_accel.REASON}")
    if _accel.BUILD_REPORT and not _accel.ACCELERATED:
        lines = _accel.BUILD_REPORT.splitlines()
        print(f"build       {lines[0]}")
        for line in lines[1:]:
            print(f"            {line.strip()}")
    for name in _accel.TWINS:
        module = getattr(_accel, name)
        print(f"  {name:<16}{module.__name__}  {module.__file__}")
    return 0


def tour(pause: bool = False) -> int:
    """Run the guided tour (:mod:`minialchemy.tour`)."""
    from minialchemy import tour as guided_tour

    return guided_tour.main(["--pause"] if pause else [])


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m minialchemy",
        description="minialchemy, a teaching ORM: say what is installed, or start the guided tour.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{info,tour}")
    commands.add_parser("info", help="versions, active backend and why, where each twin is loaded from")
    tour_parser = commands.add_parser("tour", help="the guided tour on an in-memory SQLite database")
    tour_parser.add_argument("--pause", action="store_true", help="wait for Enter between steps")
    arguments = parser.parse_args(argv)
    if arguments.command == "tour":
        return tour(pause=arguments.pause)
    return info()


if __name__ == "__main__":
    sys.exit(main())
