"""The guided tour: SQLAlchemy's ORM tutorial ("Data Manipulation with the ORM"), run live.

``python -m minialchemy tour`` walks the tutorial's story on an in-memory SQLite database:
each step shows the code it runs (the tour executes exactly that text), every SQL statement
the code caused with the reason the ORM sent it (flush, autoflush, lazy load, ...), and what
happened to the objects (their state: transient, pending, persistent, deleted, detached; what
``session.new`` / ``dirty`` / ``deleted`` hold; which attributes are expired).

``--pause`` waits for Enter between steps.  This is a command-line program, so it prints.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from typing import Any, Callable, TextIO

__all__ = ["main", "Tour"]

SETUP = '''
from typing import List, Optional
from minialchemy import ForeignKey, String, create_engine, delete, insert, inspect, select, update
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    fullname: Mapped[Optional[str]]
    addresses: Mapped[List["Address"]] = relationship(back_populates="user")

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, name={self.name!r}, fullname={self.fullname!r})"

class Address(Base):
    __tablename__ = "address"
    id: Mapped[int] = mapped_column(primary_key=True)
    email_address: Mapped[str]
    user_id = mapped_column(ForeignKey("user_account.id"))
    user: Mapped[User] = relationship(back_populates="addresses")

    def __repr__(self) -> str:
        return f"Address(id={self.id!r}, email_address={self.email_address!r})"

engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
with engine.begin() as conn:
    conn.execute(insert(User), [
        {"name": "spongebob", "fullname": "Spongebob Squarepants"},
        {"name": "sandy", "fullname": "Sandy Cheeks"},
        {"name": "patrick", "fullname": "Patrick Star"},
    ])
    conn.execute(insert(Address), [
        {"email_address": "spongebob@sqlalchemy.org", "user_id": 1},
        {"email_address": "sandy@sqlalchemy.org", "user_id": 2},
        {"email_address": "sandy@squirrelpower.org", "user_id": 2},
    ])
'''

#: (title, explanation, code, expressions whose values are shown afterwards)
STEPS: list[tuple[str, str, str, list[str]]] = [
    (
        "Instances of classes represent rows",
        "A new object is transient: no Session, no row. Unset attributes read None, "
        "and the id is None until the database assigns one.",
        'squidward = User(name="squidward", fullname="Squidward Tentacles")\n'
        'krabs = User(name="ehkrabs", fullname="Eugene H. Krabs")',
        ["squidward", "squidward.id"],
    ),
    (
        "Adding objects to a Session",
        "add() makes the objects pending. Nothing is sent to the database yet; "
        "session.new is an IdentitySet (members compared by id(), not ==).",
        "session = Session(engine)\nsession.add(squidward)\nsession.add(krabs)",
        ["session.new"],
    ),
    (
        "Flushing",
        "The unit of work turns pending objects into INSERTs inside a transaction "
        "(begun automatically). The new primary keys are read back into the objects, "
        "which become persistent and enter the identity map.",
        "session.flush()",
        ["squidward.id", "krabs.id", "session.new"],
    ),
    (
        "Getting objects by primary key from the identity map",
        "get() looks in the identity map first: the same Python object, and no SQL.",
        "some_squidward = session.get(User, 4)",
        ["some_squidward is squidward"],
    ),
    (
        "Committing",
        "COMMIT, then every object is expired: its __dict__ keeps only the ORM's state.",
        "session.commit()",
        ["squidward.__dict__", "inspect(squidward).expired_attributes"],
    ),
    (
        "Expired objects reload on access",
        "Touching an expired attribute starts a new transaction and reloads the row.",
        "name = squidward.name",
        ["name"],
    ),
    (
        "Updating ORM objects: dirty tracking",
        "Setting an attribute of a persistent object keeps its committed value and marks "
        "the object dirty. No SQL yet.",
        'sandy = session.execute(select(User).filter_by(name="sandy")).scalar_one()\n'
        'sandy.fullname = "Sandy Squirrel"',
        ["sandy in session.dirty", "inspect(sandy).attrs.fullname.history"],
    ),
    (
        "Autoflush",
        "Before a query, the Session flushes pending changes (autoflush), so the query "
        "sees them: the UPDATE goes out first, then the SELECT.",
        "sandy_fullname = session.execute(select(User.fullname).where(User.id == 2)).scalar_one()",
        ["sandy_fullname", "sandy in session.dirty"],
    ),
    (
        "ORM-enabled UPDATE",
        "One UPDATE for any number of rows. synchronize_session='auto' evaluates the WHERE "
        "in Python against the objects already in the session and sets their new values.",
        'session.execute(update(User).where(User.name == "sandy").values(fullname="Sandy Squirrel Extraordinaire"))',
        ["sandy.fullname"],
    ),
    (
        "Deleting ORM objects",
        "delete() only marks the object; the DELETE waits for the next flush.",
        "patrick = session.get(User, 3)\nsession.delete(patrick)",
        ["patrick in session.deleted", "inspect(patrick).persistent"],
    ),
    (
        "The delete is flushed by the next query",
        "Before the DELETE, the unit of work loads patrick's addresses to set their "
        "user_id to NULL (the default cascade on a parent's delete).",
        'found = session.execute(select(User).where(User.name == "patrick")).first()',
        ["found", "patrick in session", "inspect(patrick).deleted"],
    ),
    (
        "ORM-enabled DELETE",
        "Matching objects in the session are marked deleted.",
        'squidward = session.scalars(select(User).filter_by(name="squidward")).one()\n'
        'session.execute(delete(User).where(User.name == "squidward"))',
        ["squidward in session", "inspect(squidward).deleted"],
    ),
    (
        "Rolling back",
        "ROLLBACK; every object is expired, deleted objects come back.",
        "session.rollback()",
        ["sandy.__dict__", "patrick in session"],
    ),
    (
        "Lazy reload after rollback",
        "sandy's fullname is back to what the database holds.",
        "fullname = sandy.fullname",
        ["fullname", 'session.execute(select(User).where(User.name == "patrick")).scalar_one() is patrick'],
    ),
    (
        "Closing a Session",
        "close() releases the connection and detaches every object.",
        "session.close()",
        ["inspect(squidward).detached"],
    ),
    (
        "Detached objects",
        "squidward was expired by the rollback, and a detached object has no Session to "
        "reload from.",
        "try:\n    squidward.name\nexcept Exception as error:\n    problem = error",
        ["type(problem).__name__", "str(problem)"],
    ),
    (
        "Re-adding a detached object",
        "add() re-attaches it; its attributes load again.",
        "session = Session(engine)\nsession.add(squidward)\nname = squidward.name",
        ["name", "inspect(squidward).persistent"],
    ),
]


class _SQLPrinter(logging.Handler):
    """Prints each statement the engine sends, with its parameters and why it was sent."""

    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._write = write

    def emit(self, record: logging.LogRecord) -> None:
        sql = getattr(record, "sql", None)
        if sql is None:
            return
        cause = getattr(record, "cause", None)
        params = getattr(record, "params", None)
        text = record.getMessage()
        self._write(f"    SQL  {text.replace(chr(10), ' ')}")
        details = []
        if params not in (None, (), []):
            details.append(f"params {params!r}")
        if cause:
            details.append(f"why: {cause}")
        if details:
            self._write(f"         ({'; '.join(details)})")


def _object_states(namespace: dict[str, Any]) -> list[str]:
    """One line per User object of the tour: its state and expired attributes."""
    from minialchemy import inspect

    lines = []
    for name in ("squidward", "krabs", "sandy", "patrick"):
        obj = namespace.get(name)
        if obj is None:
            continue
        state = inspect(obj)
        label = next(s for s in ("transient", "pending", "persistent", "deleted", "detached") if getattr(state, s))
        expired = sorted(state.expired_attributes)
        lines.append(f"    {name:<10} {label}" + (f", expired {expired}" if expired else ""))
    return lines


class Tour:
    """Runs the steps, writing to ``out``; ``pause`` waits for Enter between steps."""

    def __init__(self, out: TextIO = sys.stdout, pause: bool = False) -> None:
        self.out = out
        self.pause = pause

    def write(self, line: str = "") -> None:
        self.out.write(line + "\n")

    def run(self) -> int:
        namespace: dict[str, Any] = {"__name__": "minialchemy_tour"}
        exec(compile(SETUP, "<tour setup>", "exec"), namespace)  # noqa: S102 - our own code
        self.write("minialchemy guided tour: the ORM tutorial's 'Data Manipulation with the ORM'")
        self.write("on an in-memory SQLite database holding spongebob, sandy and patrick.")
        logger = logging.getLogger("minialchemy.engine")
        handler = _SQLPrinter(self.write)
        old_level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            for number, (title, explanation, code, shown) in enumerate(STEPS, 1):
                self._step(number, title, explanation, code, shown, namespace)
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            session = namespace.get("session")
            if session is not None:
                session.close()
            namespace["engine"].dispose()
        self.write()
        self.write("The end. Every step above is in tests/orm/test_seed_narrative.py too.")
        return 0

    def _step(self, number: int, title: str, explanation: str, code: str, shown: list[str], namespace: dict[str, Any]) -> None:
        self.write()
        self.write(f"== {number}. {title} ".ljust(78, "="))
        for line in textwrap.wrap(explanation, 76):
            self.write(f"  {line}")
        self.write()
        for line in code.splitlines():
            self.write(f"  >>> {line}")
        exec(compile(code, f"<tour step {number}>", "exec"), namespace)  # noqa: S102 - our own code
        for expression in shown:
            value = eval(expression, namespace)  # noqa: S307 - our own code
            self.write(f"  {expression} -> {value!r}")
        states = _object_states(namespace)
        if states:
            self.write("  objects:")
            for line in states:
                self.write(line)
        if self.pause:
            input("  [Enter] ")


def main(argv: list[str] | None = None) -> int:
    """Run the tour; ``--pause`` waits for Enter between steps."""
    parser = argparse.ArgumentParser(prog="python -m minialchemy tour")
    parser.add_argument("--pause", action="store_true", help="wait for Enter between steps")
    arguments = parser.parse_args(argv)
    return Tour(pause=arguments.pause).run()
