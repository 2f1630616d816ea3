"""What ``import minialchemy.orm`` costs: modules it leaves for later (issue 12).

``logging`` is imported only when something is logged or echoed (``minialchemy/engine/log.py``
says why that loses no record).  Each test runs a fresh interpreter: this test process has
imported everything long ago.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

DEFERRED = ("logging", "uuid", "platform")


def run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter; return what it printed."""
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return completed.stdout


def test_import_minialchemy_orm_does_not_import_logging():
    printed = run_fresh(
        f"""
        import sys
        import minialchemy.orm
        print(sorted(name for name in {DEFERRED!r} if name in sys.modules))
        """
    )
    assert printed.strip() == "[]"


def test_a_query_without_echo_does_not_import_logging():
    printed = run_fresh(
        """
        import sys
        from minialchemy import create_engine, text
        from minialchemy.orm import Session

        with Session(create_engine("sqlite://")) as session:
            print(session.execute(text("SELECT 1 + 1")).scalar())
        print("logging" in sys.modules)
        """
    )
    assert printed.split() == ["2", "False"]


def test_echo_prints_the_sql_in_a_fresh_interpreter():
    printed = run_fresh(
        """
        from minialchemy import create_engine, text

        with create_engine("sqlite://", echo=True).connect() as connection:
            connection.execute(text("SELECT 1 + 1"))
        """
    )
    assert "SELECT 1 + 1" in printed


def test_logging_configured_after_import_sees_the_sql():
    printed = run_fresh(
        """
        import sys
        from minialchemy import create_engine, text
        import logging

        logging.basicConfig(stream=sys.stdout, format="%(name)s: %(message)s")
        logging.getLogger("minialchemy.engine").setLevel(logging.INFO)
        with create_engine("sqlite://").connect() as connection:
            connection.execute(text("SELECT 1 + 1"))
        """
    )
    assert "minialchemy.engine: SELECT 1 + 1" in printed
