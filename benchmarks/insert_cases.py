"""The workloads of the INSERT primary-key benchmark: N new rows (or N new objects), each
getting its primary key, timed from the first object (or row) to the COMMIT.

Shared by ``bench_insert_pk.py`` (pytest-benchmark) and ``insert_report.py``
(``python benchmarks/report.py --insert``).  A case is prepared untimed (a fresh database with
the table, an engine or connection, the rows as tuples) and gives a :class:`Prepared`: ``run()``
does the timed work and returns an :class:`Outcome`, ``reset()`` (untimed) deletes the rows so
that the next round starts from an empty table on the same, warm connection (as an application's
engine would be: its statement cache filled), ``close()`` ends it.  :func:`verify` checks,
untimed, that every key landed where it should.

The table is the tutorial's ``user_account (id INTEGER PRIMARY KEY, name, fullname)``.  The
cases:

- raw sqlite3: one INSERT per row with ``cursor.lastrowid``; ``executemany`` (no keys back);
  batched ``INSERT ... VALUES (...), (...) RETURNING id`` (keys sorted, as if the order were
  known); and the statement minialchemy's flush sends (the same with an ORDER BY sentinel);
- minialchemy: construct the objects, ``add_all``, ``commit``, with the flush per-row
  (``insertmanyvalues=False``), batched, or with keys assigned by the client; the compiled or
  the pure-Python twins, whichever this process runs (``MINIALCHEMY_PURE_PYTHON=1`` selects
  the pure ones);
- SQLAlchemy (when installed): the same ORM steps with and without ``use_insertmanyvalues``.
"""

import gc
import itertools
import os
import sqlite3
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from tutorial_model import user_model  # a sibling module (benchmarks/ is on sys.path)

__all__ = [
    "CREATE_TABLE",
    "Case",
    "Database",
    "Outcome",
    "Prepared",
    "rows_for",
    "raw_cases",
    "minialchemy_cases",
    "sqlalchemy_cases",
    "all_cases",
    "verify",
    "batched_values_sql",
    "batched_ordered_sql",
    "objects_alive_after_flushes",
]

CREATE_TABLE = (
    "CREATE TABLE user_account (id INTEGER NOT NULL, name VARCHAR(30) NOT NULL, "
    "fullname VARCHAR, PRIMARY KEY (id))"
)
SINGLE_ROW = "INSERT INTO user_account (name, fullname) VALUES (?, ?)"


def rows_for(n: int) -> list[tuple[str, str | None]]:
    """The ``(name, fullname)`` of N users; every third fullname is NULL."""
    return [(f"user{i}", None if i % 3 == 0 else f"User Number {i}") for i in range(n)]


@dataclass
class Outcome:
    """What a run did: the key of each row in parameter order (None: not read back), and how
    long its phases took (ORM cases: construct, add_all, flush, commit)."""

    keys: list[Any] | None
    phases: dict[str, float] = field(default_factory=dict)


@dataclass
class Prepared:
    """A case ready to run at one N (see the module docstring)."""

    run: Callable[[], Outcome]
    reset: Callable[[], None]
    close: Callable[[], None]
    objects: list = field(default_factory=list)  # ORM cases: the objects of the last run
    engine: Any = None  # ORM cases: for verify()


@dataclass
class Case:
    """One strategy: ``prepare(n, database)`` -> :class:`Prepared`.

    (No ``from __future__ import annotations`` in this module: SQLAlchemy reads the models'
    ``Mapped[...]`` annotations as objects.)"""

    key: str
    label: str
    group: str
    prepare: Callable[[int, "Database"], Prepared]
    keys_given: bool = False  # True: the rows carry ids 1..N themselves


class Database:
    """Where a round's rows go: a fresh in-memory database, or a fresh file in ``directory``."""

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory
        self._count = 0

    @property
    def is_file(self) -> bool:
        return self.directory is not None

    def new_path(self) -> str:
        """A database nobody used yet (``":memory:"``, or a new file name)."""
        if self.directory is None:
            return ":memory:"
        self._count += 1
        path = os.path.join(self.directory, f"insert_pk_{os.getpid()}_{self._count}.db")
        for suffix in ("", "-journal", "-wal"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return path

    @staticmethod
    def url(path: str) -> str:
        return "sqlite://" if path == ":memory:" else f"sqlite:///{path}"

    @staticmethod
    def remove(path: str) -> None:
        if path != ":memory:":
            for suffix in ("", "-journal", "-wal"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)


# --- raw sqlite3 ------------------------------------------------------------------------


def batched_values_sql(n: int) -> str:
    """``INSERT ... VALUES (?, ?), ... RETURNING id``: the plain batched form."""
    return "INSERT INTO user_account (name, fullname) VALUES " + ", ".join(["(?, ?)"] * n) + " RETURNING id"


def batched_ordered_sql(n: int) -> str:
    """The form minialchemy's flush sends: VALUES with a sentinel, ORDER BY it."""
    rows = ", ".join(f"(?, ?, {i})" for i in range(n))
    return (
        "INSERT INTO user_account (name, fullname) SELECT column1, column2 FROM "
        f"(VALUES {rows}) ORDER BY column3 RETURNING id"
    )


def _raw_connection(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(CREATE_TABLE)
    return conn


def _prepare_raw_per_row(n: int, db: Database):
    path = db.new_path()
    conn = _raw_connection(path)
    rows = rows_for(n)

    def run() -> Outcome:
        execute = conn.execute
        conn.execute("BEGIN")
        keys = [execute(SINGLE_ROW, row).lastrowid for row in rows]
        conn.execute("COMMIT")
        return Outcome(keys)

    return _raw_prepared(run, conn, path, db)


def _raw_prepared(run: Callable[[], Outcome], conn: sqlite3.Connection, path: str, db: "Database") -> Prepared:
    return Prepared(run, lambda: conn.execute("DELETE FROM user_account"), lambda: (conn.close(), db.remove(path)))


def _prepare_raw_executemany(n: int, db: Database):
    path = db.new_path()
    conn = _raw_connection(path)
    rows = rows_for(n)

    def run() -> Outcome:
        conn.execute("BEGIN")
        conn.executemany(SINGLE_ROW, rows)
        conn.execute("COMMIT")
        return Outcome(None)

    return _raw_prepared(run, conn, path, db)


def make_raw_batched(rows_per_statement: int, ordered: bool) -> Callable:
    """A prepare function for batched RETURNING, ``rows_per_statement`` rows a statement,
    plain VALUES or minialchemy's ORDER BY form; keys sorted per statement."""
    make_sql = batched_ordered_sql if ordered else batched_values_sql

    def prepare(n: int, db: Database):
        path = db.new_path()
        conn = _raw_connection(path)
        rows = rows_for(n)
        size = max(1, rows_per_statement)
        full_sql = make_sql(size)

        def run() -> Outcome:
            keys: list[int] = []
            conn.execute("BEGIN")
            for start in range(0, n, size):
                chunk = rows[start:start + size]
                sql = full_sql if len(chunk) == size else make_sql(len(chunk))
                returned = [row[0] for row in conn.execute(sql, list(itertools.chain.from_iterable(chunk)))]
                returned.sort()
                keys += returned
            conn.execute("COMMIT")
            return Outcome(keys)

        return _raw_prepared(run, conn, path, db)

    return prepare


def raw_cases(rows_per_statement: int) -> list[Case]:
    return [
        Case("raw-per-row", "raw sqlite3: per-row lastrowid", "raw sqlite3", _prepare_raw_per_row),
        Case("raw-executemany", "raw sqlite3: executemany (no keys)", "raw sqlite3", _prepare_raw_executemany),
        Case("raw-batched", f"raw sqlite3: batched RETURNING ({rows_per_statement} rows/stmt)", "raw sqlite3",
             make_raw_batched(rows_per_statement, ordered=False)),
        Case("raw-batched-ordered", "raw sqlite3: batched RETURNING, ORDER BY sentinel", "raw sqlite3",
             make_raw_batched(rows_per_statement, ordered=True)),
    ]


# --- minialchemy ------------------------------------------------------------------------

_MINIALCHEMY_MODEL: Any = None


def minialchemy_model() -> Any:
    """The mapped ``User`` class and its metadata (mapped once per process)."""
    global _MINIALCHEMY_MODEL
    if _MINIALCHEMY_MODEL is None:
        _MINIALCHEMY_MODEL = user_model("minialchemy")[1]
    return _MINIALCHEMY_MODEL


def make_minialchemy(keys_given: bool, **engine_args: Any) -> Callable:
    """A prepare function: construct N ``User`` objects, ``add_all``, flush, ``commit``."""

    def prepare(n: int, db: Database):
        from minialchemy import create_engine
        from minialchemy.orm import Session

        User = minialchemy_model()
        path = db.new_path()
        engine = create_engine(Database.url(path), **engine_args)
        User.metadata.create_all(engine)
        rows = rows_for(n)
        objects: list[Any] = []

        def run() -> Outcome:
            t0 = time.perf_counter()
            if keys_given:
                objects[:] = [User(id=i, name=name, fullname=fullname) for i, (name, fullname) in enumerate(rows, 1)]
            else:
                objects[:] = [User(name=name, fullname=fullname) for name, fullname in rows]
            t1 = time.perf_counter()
            session = Session(engine)
            session.add_all(objects)
            t2 = time.perf_counter()
            session.flush()
            t3 = time.perf_counter()
            session.commit()
            t4 = time.perf_counter()
            session.close()
            return Outcome(None, {"construct": t1 - t0, "add_all": t2 - t1, "flush": t3 - t2, "commit": t4 - t3})

        def reset() -> None:
            objects.clear()
            with engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM user_account")

        def close() -> None:
            objects.clear()
            engine.dispose()
            db.remove(path)

        return Prepared(run, reset, close, objects, engine)

    return prepare


def minialchemy_cases() -> list[Case]:
    from minialchemy import _accel

    backend = _accel.BACKEND
    return [
        Case(f"minialchemy-per-row-{backend}", f"minialchemy ({backend}): flush per-row", "minialchemy",
             make_minialchemy(False, insertmanyvalues=False)),
        Case(f"minialchemy-batched-{backend}", f"minialchemy ({backend}): flush batched RETURNING", "minialchemy",
             make_minialchemy(False)),
        Case(f"minialchemy-client-{backend}", f"minialchemy ({backend}): flush client-assigned keys", "minialchemy",
             make_minialchemy(True), keys_given=True),
    ]


# --- SQLAlchemy -------------------------------------------------------------------------

_SQLALCHEMY_MODEL: Any = None


def sqlalchemy_model() -> Any:
    """SQLAlchemy's ``User``, the same declaration (mapped once per process)."""
    global _SQLALCHEMY_MODEL
    if _SQLALCHEMY_MODEL is None:
        _SQLALCHEMY_MODEL = user_model("sqlalchemy")[1]
    return _SQLALCHEMY_MODEL


def make_sqlalchemy(**engine_args: Any) -> Callable:
    def prepare(n: int, db: Database):
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        User = sqlalchemy_model()
        path = db.new_path()
        engine = create_engine(Database.url(path), **engine_args)
        User.metadata.create_all(engine)
        rows = rows_for(n)
        objects: list[Any] = []

        def run() -> Outcome:
            t0 = time.perf_counter()
            objects[:] = [User(name=name, fullname=fullname) for name, fullname in rows]
            t1 = time.perf_counter()
            session = Session(engine)
            session.add_all(objects)
            t2 = time.perf_counter()
            session.flush()
            t3 = time.perf_counter()
            session.commit()
            t4 = time.perf_counter()
            session.close()
            return Outcome(None, {"construct": t1 - t0, "add_all": t2 - t1, "flush": t3 - t2, "commit": t4 - t3})

        def reset() -> None:
            from sqlalchemy import text

            objects.clear()
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM user_account"))

        def close() -> None:
            objects.clear()
            engine.dispose()
            db.remove(path)

        return Prepared(run, reset, close, objects, engine)

    return prepare


def sqlalchemy_cases() -> list[Case]:
    """SQLAlchemy's ORM, default and ``use_insertmanyvalues=False``; [] when not installed."""
    try:
        import sqlalchemy
    except ImportError:
        return []
    version = sqlalchemy.__version__
    return [
        Case("sqlalchemy-default", f"SQLAlchemy {version} ORM: default", "SQLAlchemy", make_sqlalchemy()),
        Case("sqlalchemy-no-imv", f"SQLAlchemy {version} ORM: use_insertmanyvalues=False", "SQLAlchemy",
             make_sqlalchemy(use_insertmanyvalues=False)),
    ]


def all_cases(rows_per_statement: int) -> list[Case]:
    return [*raw_cases(rows_per_statement), *minialchemy_cases(), *sqlalchemy_cases()]


# --- correctness of a run -----------------------------------------------------------------


def _identity(obj: Any, group: str) -> Any:
    if group == "SQLAlchemy":
        from sqlalchemy import inspect
    else:
        from minialchemy import inspect
    return inspect(obj).identity


def verify(case: Case, n: int, prepared: Prepared, outcome: Outcome) -> None:
    """Check, untimed, that the run gave row *i* the key ``i + 1`` and that the row with that
    key holds row *i*'s values.  Raises AssertionError otherwise."""
    rows = rows_for(n)
    expected_keys = list(range(1, n + 1))
    if prepared.engine is None:  # raw sqlite3
        if outcome.keys is not None:
            assert outcome.keys == expected_keys, f"{case.label}: keys not 1..{n} in parameter order"
        return
    objects = prepared.objects
    keys = [_identity(obj, case.group)[0] for obj in objects]
    assert keys == expected_keys, f"{case.label}: object i did not get key i + 1"
    with prepared.engine.connect() as conn:
        if case.group == "SQLAlchemy":
            from sqlalchemy import text

            stored = conn.execute(text("SELECT id, name, fullname FROM user_account ORDER BY id")).all()
        else:
            stored = conn.exec_driver_sql("SELECT id, name, fullname FROM user_account ORDER BY id").all()
    assert [tuple(row) for row in stored] == [(i, *row) for i, row in enumerate(rows, 1)], (
        f"{case.label}: a row does not hold its object's values"
    )


# --- memory: what a long transaction keeps alive --------------------------------------------


def objects_alive_after_flushes(library: str, flushes: int = 10, per_flush: int = 5_000) -> dict[str, int]:
    """In one transaction, ``flushes`` times: construct ``per_flush`` new ``User`` objects,
    ``add_all``, ``flush``, and drop the program's references to them.  Then, before the
    COMMIT, count the objects still alive (a weak reference to each tells): ``"alive"`` as
    reference counting left them, ``"alive_after_collection"`` after ``gc.collect()``.

    ``library``: ``"minialchemy"`` or ``"sqlalchemy"``.  A session that held flushed objects
    strongly until the commit would keep all ``flushes * per_flush`` of them."""
    if library == "sqlalchemy":
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        User = sqlalchemy_model()
    else:
        from minialchemy import create_engine
        from minialchemy.orm import Session

        User = minialchemy_model()
    engine = create_engine("sqlite://")
    User.metadata.create_all(engine)
    watchers: list[weakref.ref] = []
    session = Session(engine)
    try:
        for flush_number in range(flushes):
            batch = [User(name=f"user {flush_number}-{n}", fullname=None) for n in range(per_flush)]
            session.add_all(batch)
            session.flush()
            watchers.extend(weakref.ref(user) for user in batch)
            del batch
        alive = sum(1 for watcher in watchers if watcher() is not None)
        gc.collect()
        alive_after_collection = sum(1 for watcher in watchers if watcher() is not None)
        session.commit()
    finally:
        session.close()
        engine.dispose()
    return {"alive": alive, "alive_after_collection": alive_after_collection, "flushed": flushes * per_flush}
