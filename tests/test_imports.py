"""What ``import minialchemy.orm`` costs: modules it leaves for later (issue 12).

``logging`` is imported only when something is logged or echoed (``minialchemy/engine/log.py``
says why that loses no record).  ``typing`` is imported by type checkers only (each module's
``if TYPE_CHECKING:``; ``Mapped[int]`` is a ``types.GenericAlias``), ``decimal`` only by the
program that makes a ``Decimal``, and ``re`` only by ``text()``, string annotations and
``ondelete=`` (``quote()`` checks names with sets of characters).  ``threading`` is not
needed (its ``local`` and ``Lock`` come from the built-in ``_thread``), nor ``contextlib`` (the
Session's context managers are small classes), ``importlib`` (``minialchemy._accel`` calls
``__import__``) or ``warnings`` (imported by the code that warns), though the flush may
import the last two.  With the compiled twins, ``weakref.py`` is not imported by a first query either
(``minialchemy.orm.weakmaps``).  Each test runs a fresh interpreter: this test process has imported
everything long ago.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

DEFERRED = ("logging", "uuid", "platform", "typing", "decimal", "re")
#: not imported by ``import minialchemy.orm``, though a flush may import them later
NOT_AT_IMPORT = DEFERRED + ("threading", "contextlib", "importlib", "warnings")
#: printed by a fresh interpreter: the DEFERRED modules it imported after its start-up (which,
#: with some site-packages, may import re or typing: those are not ours to defer)
PRINT_IMPORTED = f"print(sorted(n for n in {DEFERRED!r} if n in sys.modules and n not in started))"
PRINT_IMPORTED_AT_IMPORT = PRINT_IMPORTED.replace(repr(DEFERRED), repr(NOT_AT_IMPORT))


def run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter; return what it printed."""
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return completed.stdout


def test_import_minialchemy_orm_imports_none_of_the_deferred_modules():
    printed = run_fresh(
        f"""
        import sys
        started = set(sys.modules)
        import minialchemy.orm
        {PRINT_IMPORTED_AT_IMPORT}
        """
    )
    assert printed.strip() == "[]"


def test_import_minialchemy_orm_leaves_the_packages_first_use_modules_for_later():
    """Modules of the package itself that a first query does not need: batched INSERT, DML
    statements, loader options, ``aliased``, the unit of work (imported by what uses them)."""
    printed = run_fresh(
        """
        import sys
        import minialchemy.orm
        later = ("minialchemy.engine.insertmanyvalues", "minialchemy.sql.dml", "minialchemy.orm.aliased",
                 "minialchemy.orm.strategy_options", "minialchemy.orm.unitofwork", "minialchemy.orm.persistence")
        print(sorted(name for name in later if name in sys.modules))
        from minialchemy.orm import aliased, selectinload
        print(aliased.__module__, selectinload.__module__)
        """
    )
    assert printed.split("\n")[:2] == ["[]", "minialchemy.orm.aliased minialchemy.orm.strategy_options"]


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


def test_a_mapped_class_and_its_first_query_import_none_of_the_deferred_modules():
    """Nor ``weakref.py``, with the compiled twins: the ORM's weak maps, weak sets and weak
    references come from the built-in ``_weakref`` module (``minialchemy.orm.weakmaps``).  The pure-Python identity map uses ``weakref.KeyedRef``."""
    printed = run_fresh(
        f"""
        import sys
        started = set(sys.modules)
        from minialchemy import create_engine, select
        from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

        class Base(DeclarativeBase):
            pass

        class User(Base):
            __tablename__ = "user_account"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str]

        engine = create_engine("sqlite://")
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            session.add(User(name="sandy"))
            session.commit()
            print(session.scalars(select(User.name).where(User.id == 1)).one())
        print(User.__table__.c.name.nullable)
        {PRINT_IMPORTED}
        from minialchemy import _accel
        print(_accel.BACKEND, "weakref" in sys.modules)
        """
    )
    lines = printed.split("\n")
    assert lines[:3] == ["sandy", "False", "[]"]
    backend, weakref_imported = lines[3].split()
    assert weakref_imported == ("True" if backend == "python" else "False")

