"""The guided tour: SQLAlchemy's ORM tutorial ("Data Manipulation with the ORM"), run live.

``python -m minialchemy tour`` walks the tutorial's story on an in-memory SQLite database.  It
first shows the models and the rows the database starts with; then, step by step, it runs each
statement of the step's code *on its own* and prints, right under that statement, the SQL it
caused (with the reason the ORM sent it: flush, autoflush, lazy load, ...) and its value when it
is an expression (as the Python prompt does).  After each step it says what happened to the
objects: their state (transient, pending, persistent, deleted, detached) and which attributes
are expired.

Output fits the terminal's width (80 columns when piped), in colour only on a terminal.
``--pause`` waits for Enter between steps.  This is a command-line program, so it prints.

The tour is a list of :class:`Section` s, each a list of :class:`Step` s, all run in one
namespace.  Another chapter is one more section: ``SECTIONS.append(Section(...))`` in this
module (its code may define its own models and engine, or use the tutorial's).
"""

from __future__ import annotations

import argparse
import ast
import logging
import os
import shutil
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

__all__ = ["main", "Tour", "Section", "Step", "SECTIONS", "TUTORIAL", "N_PLUS_ONE", "TREE"]


@dataclass
class Step:
    """One step: a title, a sentence or two of explanation, and the code it runs.

    Each top-level statement of ``code`` runs on its own; an expression statement prints its
    value, like the Python prompt."""

    title: str
    explanation: str
    code: str


@dataclass
class Section:
    """A chapter of the tour: its steps, and the names of the objects whose state is shown
    after each step (``watch``)."""

    title: str
    intro: str
    steps: list[Step]
    watch: tuple[str, ...] = ()
    #: tables whose rows are printed after the section's first step (the seed data)
    show_tables_after_first_step: tuple[str, ...] = field(default=())


MODELS = '''\
from typing import List, Optional
from minialchemy import ForeignKey, String, create_engine, inspect
from minialchemy import delete, insert, select, update
from minialchemy.orm import DeclarativeBase, Mapped, Session
from minialchemy.orm import mapped_column, relationship
class Base(DeclarativeBase):
    pass
class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    fullname: Mapped[Optional[str]]
    addresses: Mapped[List["Address"]] = relationship(
        back_populates="user")
class Address(Base):
    __tablename__ = "address"
    id: Mapped[int] = mapped_column(primary_key=True)
    email_address: Mapped[str]
    user_id = mapped_column(ForeignKey("user_account.id"))
    user: Mapped[User] = relationship(back_populates="addresses")
engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
with engine.begin() as conn:
    _ = conn.execute(insert(User), [
        {"name": "spongebob", "fullname": "Spongebob Squarepants"},
        {"name": "sandy", "fullname": "Sandy Cheeks"},
        {"name": "patrick", "fullname": "Patrick Star"},
    ])
    _ = conn.execute(insert(Address), [
        {"email_address": "spongebob@sqlalchemy.org", "user_id": 1},
        {"email_address": "sandy@sqlalchemy.org", "user_id": 2},
        {"email_address": "sandy@squirrelpower.org", "user_id": 2},
        {"email_address": "patrick@sqlalchemy.org", "user_id": 3},
    ])
'''

TUTORIAL = Section(
    "Data Manipulation with the ORM",
    "SQLAlchemy's ORM tutorial chapter, on minialchemy.",
    [
        Step(
            "The models and the rows",
            "Two mapped classes: a User has a collection of Addresses, an Address refers "
            "to its User (back_populates keeps both sides in step). Neither class defines "
            "__repr__, so objects print with minialchemy's default one, which never "
            "loads anything. Then the tables are created and filled, without the ORM.",
            MODELS,
        ),
        Step(
            "Instances of classes represent rows",
            "A new object is transient: no Session, no row. Unset attributes read None, "
            "and the id is None until the database assigns one.",
            'squidward = User(name="squidward", fullname="Squidward Tentacles")\n'
            'krabs = User(name="ehkrabs", fullname="Eugene H. Krabs")\n'
            "squidward\n"
            "squidward.id",
        ),
        Step(
            "Adding objects to a Session",
            "add() makes the objects pending. Nothing is sent to the database yet; "
            "session.new is an IdentitySet (members compared by id(), not ==).",
            "session = Session(engine)\nsession.add(squidward)\nsession.add(krabs)\nsession.new",
        ),
        Step(
            "Flushing",
            "The unit of work turns pending objects into INSERTs inside a transaction "
            "(begun automatically). The new primary keys are read back into the objects, "
            "which become persistent and enter the identity map.",
            "session.flush()\nsquidward.id\nkrabs.id\nsession.new",
        ),
        Step(
            "Getting objects by primary key from the identity map",
            "get() looks in the identity map first: the same Python object, and no SQL.",
            "some_squidward = session.get(User, 4)\nsome_squidward is squidward",
        ),
        Step(
            "Committing",
            "COMMIT, then every object is expired: its __dict__ keeps only the ORM's state.",
            "session.commit()\nsquidward\nsorted(inspect(squidward).expired_attributes)",
        ),
        Step(
            "Expired objects reload on access",
            "Touching an expired attribute starts a new transaction and reloads the row.",
            "squidward.name\nsquidward",
        ),
        Step(
            "Updating ORM objects: dirty tracking",
            "Setting an attribute of a persistent object keeps its committed value and marks "
            "the object dirty. No SQL for the change itself.",
            'sandy = session.execute(select(User).filter_by(name="sandy")).scalar_one()\n'
            'sandy.fullname = "Sandy Squirrel"\n'
            "sandy in session.dirty\n"
            "inspect(sandy).attrs.fullname.history",
        ),
        Step(
            "Autoflush",
            "Before a query, the Session flushes pending changes (autoflush), so the query "
            "sees them: the UPDATE goes out first, then the SELECT.",
            "session.execute(select(User.fullname).where(User.id == 2)).scalar_one()\n"
            "sandy in session.dirty",
        ),
        Step(
            "ORM-enabled UPDATE",
            "One UPDATE for any number of rows. synchronize_session='auto' evaluates the WHERE "
            "in Python against the objects already in the session and sets their new values.",
            "_ = session.execute(\n"
            '    update(User)\n'
            '    .where(User.name == "sandy")\n'
            '    .values(fullname="Sandy Squirrel Extraordinaire")\n'
            ")\n"
            "sandy.fullname",
        ),
        Step(
            "Deleting ORM objects",
            "delete() only marks the object; the DELETE waits for the next flush.",
            "patrick = session.get(User, 3)\n"
            "session.delete(patrick)\n"
            "patrick in session.deleted\n"
            "inspect(patrick).persistent",
        ),
        Step(
            "The delete is flushed by the next query",
            "patrick has an address. Before the DELETE, the unit of work loads patrick's "
            "addresses and sets their user_id to NULL (the default when a parent is deleted "
            'without cascade="delete"), then deletes patrick.',
            'session.execute(select(User).where(User.name == "patrick")).first()\n'
            "patrick in session\n"
            "inspect(patrick).deleted",
        ),
        Step(
            "ORM-enabled DELETE",
            "Matching objects in the session are marked deleted.",
            "squidward = session.scalars(\n"
            '    select(User).filter_by(name="squidward")\n'
            ").one()\n"
            '_ = session.execute(delete(User).where(User.name == "squidward"))\n'
            "squidward in session\n"
            "inspect(squidward).deleted",
        ),
        Step(
            "Rolling back",
            "ROLLBACK; every object is expired, deleted objects come back.",
            "session.rollback()\nsandy\npatrick in session",
        ),
        Step(
            "Lazy reload after rollback",
            "sandy's fullname is back to what the database holds.",
            "sandy.fullname\n"
            'found = session.execute(select(User).where(User.name == "patrick"))\n'
            "found.scalar_one() is patrick",
        ),
        Step(
            "Closing a Session",
            "close() releases the connection and detaches every object.",
            "session.close()\ninspect(squidward).detached",
        ),
        Step(
            "Detached objects",
            "squidward was expired by the rollback, and a detached object has no Session to "
            "reload from.",
            "try:\n    squidward.name\nexcept Exception as error:\n    problem = error\n"
            "type(problem).__name__\nstr(problem)",
        ),
        Step(
            "Re-adding a detached object",
            "add() re-attaches it; its attributes load again.",
            "session = Session(engine)\nsession.add(squidward)\nsquidward.name\n"
            "inspect(squidward).persistent",
        ),
    ],
    watch=("squidward", "krabs", "sandy", "patrick"),
    show_tables_after_first_step=("user_account", "address"),
)

N_PLUS_ONE = Section(
    "Loading related objects: the N+1 problem",
    "Reading user.addresses for every user of a list costs one SELECT per user: 1 + N "
    "statements where 2 would do. minialchemy counts them and says so; selectinload fixes it.",
    [
        Step(
            "Twelve users, one address each",
            "A second in-memory database with more users than the tutorial's three, and a new "
            "Session on it.",
            "import textwrap, warnings\n"
            "crowd = create_engine(\"sqlite://\")\n"
            "Base.metadata.create_all(crowd)\n"
            "with crowd.begin() as conn:\n"
            "    _ = conn.execute(insert(User), [\n"
            "        {\"name\": f\"user{i}\"} for i in range(1, 13)])\n"
            "    _ = conn.execute(insert(Address), [\n"
            "        {\"email_address\": f\"user{i}@example.org\", \"user_id\": i}\n"
            "        for i in range(1, 13)])\n"
            "session.close()\n"
            "session = Session(crowd)",
        ),
        Step(
            "The N+1 problem",
            "One SELECT loads the users; then each user.addresses is a lazy load, one SELECT "
            "per user, each labelled in the log with its running count. At the tenth different "
            "user the session warns once (a NPlusOneWarning, caught here to print it), naming "
            "the option that loads them all at once.",
            "users = session.scalars(select(User)).all()\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter(\"always\")\n"
            "    counts = [len(user.addresses) for user in users]\n"
            "len(caught), caught[0].category.__name__\n"
            "textwrap.wrap(str(caught[0].message), 64)",
        ),
        Step(
            "selectinload: one more SELECT for all of them",
            "The same loop, with the users loaded by a statement carrying "
            "selectinload(User.addresses): after the users, one SELECT ... WHERE user_id IN "
            "(...) loads every collection, and the loop sends nothing.",
            "from minialchemy.orm import selectinload\n"
            "session.close()\n"
            "users = session.scalars(\n"
            "    select(User).options(selectinload(User.addresses))).all()\n"
            "[len(user.addresses) for user in users]",
        ),
    ],
)

TREE = Section(
    "A tree in one table: the adjacency list",
    "A table whose foreign key points at itself holds a tree. The rows of one table must then "
    "be ordered one by one: parents INSERTed before their children, children DELETEd before "
    "their parents. explain_flush() shows how the unit of work does it.",
    [
        Step(
            "Node: parent and children in the same table",
            "Both relationships join node.parent_id to node.id; remote_side=[id] says that for "
            "parent the far side is the parent's id (a many-to-one), so children is the "
            "one-to-many. A new database with just this table, and a new Session.",
            "class Trees(DeclarativeBase):\n"
            "    pass\n"
            "class Node(Trees):\n"
            "    __tablename__ = \"node\"\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    parent_id = mapped_column(ForeignKey(\"node.id\"))\n"
            "    name: Mapped[str]\n"
            "    parent: Mapped[Optional[\"Node\"]] = relationship(\n"
            "        back_populates=\"children\", remote_side=[id])\n"
            "    children: Mapped[List[\"Node\"]] = relationship(\n"
            "        back_populates=\"parent\", cascade=\"all, delete-orphan\")\n"
            "forest = create_engine(\"sqlite://\")\n"
            "Trees.metadata.create_all(forest)\n"
            "session.close()\n"
            "session = Session(forest)",
        ),
        Step(
            "Added leaves first, planned parents first",
            "The nodes are added children first. The plan INSERTs the tree level by level; "
            "before each level, a SYNC step copies the keys the level above just got into "
            "parent_id.",
            "root = Node(name=\"root\")\n"
            "a = Node(name=\"a\", parent=root)\n"
            "b = Node(name=\"b\", parent=root)\n"
            "a1 = Node(name=\"a1\", parent=a)\n"
            "session.add_all([a1, b, a, root])\n"
            "plan = session.explain_flush()\n"
            "\" / \".join(f\"{step.operation} {len(step.objects)}\" for step in plan)\n"
            "plan[3].why",
        ),
        Step(
            "The flush runs the plan",
            "Each INSERT names its plan step in the log; every parent_id is its parent's new id.",
            "session.commit()\n"
            "[(n.name, n.parent_id) for n in session.scalars(select(Node).order_by(Node.id))]",
        ),
        Step(
            "Deleting a subtree: leaves first",
            "cascade=\"all, delete-orphan\" deletes a's children with it (loading them to know "
            "them); the plan DELETEs the deepest level first, so no row ever points at a row "
            "already gone.",
            "session.delete(a)\n"
            "[(step.operation, step.objects) for step in session.explain_flush()]\n"
            "session.commit()\n"
            "session.scalars(select(Node.name).order_by(Node.id)).all()",
        ),
    ],
    watch=("root", "a", "a1"),
)

#: The tour's chapters, in order (another chapter: append a :class:`Section`).
SECTIONS: list[Section] = [TUTORIAL, N_PLUS_ONE, TREE]

#: where the words of the log are explained
GLOSSARY = "docs/glossary.md"

_STATES = ("transient", "pending", "persistent", "deleted", "detached")


class _Style:
    """ANSI colours, or nothing at all when the output is not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled and text else text

    def heading(self, text: str) -> str:
        return self._wrap("1", text)

    def code(self, text: str) -> str:
        return self._wrap("36", text)

    def sql(self, text: str) -> str:
        return self._wrap("33", text)

    def note(self, text: str) -> str:
        return self._wrap("2", text)


class _SQLPrinter(logging.Handler):
    """Hands each statement the engine sends (text, parameters, why) to the tour."""

    def __init__(self, show: Callable[[str, Any, str | None], None]) -> None:
        super().__init__(logging.INFO)
        self._show = show

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "sql", None) is None:
            return
        self._show(record.getMessage(), getattr(record, "params", None), getattr(record, "cause", None))


def _statements(code: str) -> list[tuple[str, ast.Module | ast.Expression, bool]]:
    """Split ``code`` into its top-level statements: ``(source, compiled tree, is_expression)``."""
    tree = ast.parse(code)
    lines = code.splitlines()
    pieces = []
    for node in tree.body:
        source = "\n".join(lines[node.lineno - 1 : node.end_lineno])
        if isinstance(node, ast.Expr):
            pieces.append((source, ast.Expression(node.value), True))
        else:
            pieces.append((source, ast.Module([node], type_ignores=[]), False))
    return pieces


def _short_repr(value: Any, width: int) -> list[str]:
    """``repr(value)`` in lines of at most ``width`` columns: a long collection shows one member
    per line (at most 4, then how many more), anything else is cut with ``...``."""
    text = repr(value)
    if len(text) <= width:
        return [text]
    members = None
    if isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ == "IdentitySet":
        members = list(value)
    if members is not None:
        name = type(value).__name__
        lines = [f"{name} of {len(members)}:"]
        for member in members[:4]:
            lines.append(_cut(f"  {member!r}", width))
        if len(members) > 4:
            lines.append(f"  ... and {len(members) - 4} more")
        return lines
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [text]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


class Tour:
    """Runs the sections, writing to ``out``; ``pause`` waits for Enter between steps.

    ``width``: columns to fit in (default: the terminal's, 80 when ``out`` is not a terminal);
    ``colour``: ANSI colours (default: only when ``out`` is a terminal and NO_COLOR is unset)."""

    def __init__(
        self,
        out: TextIO = sys.stdout,
        pause: bool = False,
        width: int | None = None,
        colour: bool | None = None,
        sections: list[Section] | None = None,
    ) -> None:
        self.out = out
        self.pause = pause
        tty = bool(getattr(out, "isatty", lambda: False)())
        if width is None:
            width = shutil.get_terminal_size((80, 24)).columns if tty else 80
        self.width = max(width, 60)
        if colour is None:
            colour = tty and not os.environ.get("NO_COLOR")
        self.style = _Style(colour)
        self.sections = SECTIONS if sections is None else sections
        self._explained_why = False

    # -- writing -----------------------------------------------------------------------------

    def write(self, line: str = "") -> None:
        self.out.write(line + "\n")

    def _wrapped(self, text: str, indent: str, later_indent: str | None = None, style: Callable[[str], str] | None = None) -> None:
        """Write ``text`` wrapped to the width, first line after ``indent``, others after
        ``later_indent``."""
        later = indent if later_indent is None else later_indent
        lines = textwrap.wrap(
            text, self.width, initial_indent=indent, subsequent_indent=later,
            break_long_words=True, break_on_hyphens=False,
        ) or [indent.rstrip()]
        for line in lines:
            body = line[len(indent):] if line.startswith(indent) else line
            lead = line[: len(line) - len(body)]
            self.write(lead + (style(body) if style else body))

    def _show_sql(self, text: str, params: Any, cause: str | None) -> None:
        statement = " ".join(text.split())
        self._wrapped(statement, "      SQL  ", "           ", self.style.sql)
        details = []
        if params not in (None, (), []):
            details.append(f"params {_cut(repr(params), 200)}")
        if cause:
            details.append(f"why: {cause}")
        if details:
            self._wrapped("; ".join(details), "           ", "           ", self.style.note)
        if cause and not self._explained_why:
            self._explained_why = True
            self._wrapped(
                f"('why:' is the reason the ORM sent the statement; its words, such as "
                f"flush and autoflush, are explained in {GLOSSARY})",
                "           ", "           ", self.style.note,
            )

    # -- running -----------------------------------------------------------------------------

    def run(self) -> int:
        namespace: dict[str, Any] = {"__name__": "minialchemy_tour"}
        self._wrapped(
            "minialchemy guided tour: SQLAlchemy's ORM tutorial, 'Data Manipulation with the "
            "ORM', on an in-memory SQLite database. Each statement runs on its own; under it, "
            "the SQL it sent and why, and its value.",
            "",
        )
        logger = logging.getLogger("minialchemy.engine")
        handler = _SQLPrinter(self._show_sql)
        old_level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        number = 0
        try:
            for section in self.sections:
                self.write()
                self.write(self.style.heading(_cut(f"## {section.title}", self.width)))
                self._wrapped(section.intro, "")
                for index, step in enumerate(section.steps):
                    number += 1
                    self._step(number, step, section, namespace)
                    if index == 0 and section.show_tables_after_first_step:
                        self._show_tables(namespace, section.show_tables_after_first_step)
                    if self.pause:
                        input("  [Enter] ")
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            session = namespace.get("session")
            if session is not None:
                session.close()
            engine = namespace.get("engine")
            if engine is not None:
                engine.dispose()
        self.write()
        self._wrapped("The end. Every step above is in tests/orm/test_seed_narrative.py too.", "")
        return 0

    def _step(self, number: int, step: Step, section: Section, namespace: dict[str, Any]) -> None:
        self.write()
        self.write(self.style.heading(f"== {number}. {step.title} ".ljust(self.width - 2, "=")[: self.width]))
        self._wrapped(step.explanation, "  ")
        self.write()
        for source, tree, is_expression in _statements(step.code):
            for index, line in enumerate(source.splitlines()):
                prompt = ">>> " if index == 0 else "... "
                self._wrapped(line, "  " + prompt, "  ...     ", self.style.code)
            if is_expression:
                value = eval(compile(tree, f"<tour step {number}>", "eval"), namespace)  # noqa: S307 - our own code
                for line in _short_repr(value, self.width - 2):  # None too: a learner looks for it
                    self.write(f"  {line}")
            else:
                exec(compile(tree, f"<tour step {number}>", "exec"), namespace)  # noqa: S102 - our own code
        states = self._object_states(namespace, section.watch)
        if states:
            self.write(self.style.note("  objects:"))
            for line in states:
                self.write(self.style.note(_cut(line, self.width)))

    @staticmethod
    def _object_states(namespace: dict[str, Any], names: tuple[str, ...]) -> list[str]:
        """One line per watched object: its state and its expired attributes."""
        from minialchemy import inspect

        lines = []
        for name in names:
            obj = namespace.get(name)
            if obj is None:
                continue
            state = inspect(obj)
            label = next(s for s in _STATES if getattr(state, s))
            expired = sorted(state.expired_attributes)
            lines.append(f"    {name:<10} {label}" + (f", expired {', '.join(expired)}" if expired else ""))
        return lines

    def _show_tables(self, namespace: dict[str, Any], tables: tuple[str, ...]) -> None:
        """Print the rows of ``tables`` (read quietly, outside the story's SQL log)."""
        raw = namespace["engine"].raw_connection()
        for table in tables:
            cursor = raw.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - our own table names
            names = [d[0] for d in cursor.description]
            rows = [[repr(v) if not isinstance(v, (int, str)) else str(v) for v in row] for row in cursor.fetchall()]
            widths = [max(len(n), *(len(r[i]) for r in rows)) for i, n in enumerate(names)]
            self.write()
            self.write(f"  rows in {table}:")
            for row in [names, *rows]:
                self.write(_cut("    " + "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip(), self.width))


def main(argv: list[str] | None = None) -> int:
    """Run the tour; ``--pause`` waits for Enter between steps."""
    parser = argparse.ArgumentParser(prog="python -m minialchemy tour")
    parser.add_argument("--pause", action="store_true", help="wait for Enter between steps")
    arguments = parser.parse_args(argv)
    return Tour(pause=arguments.pause).run()
