"""How the flush gets primary keys for new rows: client-assigned keys (one ``executemany``),
batched ``INSERT ... RETURNING`` (many rows a statement, keys matched by a checked rule), and
one INSERT per row.  ``docs/insert_strategies.md`` tells the argument these tests prove.

Every test looks at behaviour only: the keys objects get, the rows in the database, and the
statements the ``minialchemy.engine`` logger records (``record.sql``, ``record.params``,
``record.cause``).  None of them measures time.
"""

import logging
import random
import sqlite3
import sys
from types import SimpleNamespace
from typing import Optional
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minialchemy import String, create_engine, insert, inspect, select, text
from minialchemy.engine import insertmanyvalues
from minialchemy.engine.base import Connection
from minialchemy.exc import InsertManyValuesError, PendingRollbackError
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

pytestmark = pytest.mark.minialchemy_only  # minialchemy's own strategies and log wording

PAGE = 4  # rows per batched statement in the tests that want several batches


@pytest.fixture(autouse=True, scope="module")
def batch_from_two_rows():
    """Batch from 2 rows on (the library waits for MIN_BATCH_ROWS, where batching starts to
    pay), so that small examples exercise the batched strategy too."""
    with mock.patch.object(insertmanyvalues, "MIN_BATCH_ROWS", 2):
        yield


# --- models and fixtures -----------------------------------------------------------------


def make_models():
    """A table keyed by a rowid alias, one keyed by text a server default fills, one with a
    composite key, and one that has nothing but its key."""

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "user_account"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(30))
        fullname: Mapped[Optional[str]]

    class Tag(Base):
        __tablename__ = "tag"

        code: Mapped[str] = mapped_column(String(16), primary_key=True, server_default=text("(lower(hex(randomblob(8))))"))
        label: Mapped[str]

    class Line(Base):
        __tablename__ = "order_line"

        order_id: Mapped[int] = mapped_column(primary_key=True)
        number: Mapped[int] = mapped_column(primary_key=True)
        item: Mapped[Optional[str]]

    class Ticket(Base):
        __tablename__ = "ticket"

        id: Mapped[int] = mapped_column(primary_key=True)

    class Seat(Base):
        __tablename__ = "seat"

        hall: Mapped[int] = mapped_column(primary_key=True)
        code: Mapped[str] = mapped_column(String(16), primary_key=True, server_default=text("(lower(hex(randomblob(4))))"))
        price: Mapped[Optional[int]]

    return SimpleNamespace(Base=Base, User=User, Tag=Tag, Line=Line, Ticket=Ticket, Seat=Seat)


MODELS = make_models()  # module-wide: hypothesis tests cannot take function-scoped fixtures
User, Tag, Line, Ticket, Seat = MODELS.User, MODELS.Tag, MODELS.Line, MODELS.Ticket, MODELS.Seat


def new_engine(**kwargs):
    engine = create_engine("sqlite://", **kwargs)
    MODELS.Base.metadata.create_all(engine)
    return engine


@pytest.fixture
def engine_for():
    """Make fresh in-memory databases with every table created; disposed at the end."""
    engines = []

    def make(**kwargs):
        engine = new_engine(**kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


class StatementLog(logging.Handler):
    """The statements sent while it is installed: ``.records`` has ``sql``, ``params``, ``cause``."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        if getattr(record, "sql", None) is not None:
            self.records.append(SimpleNamespace(sql=record.sql, params=record.params, cause=record.cause))

    def inserts(self):
        return [r for r in self.records if r.sql.startswith("INSERT")]


@pytest.fixture
def statements():
    handler = StatementLog()
    logger = logging.getLogger("minialchemy.engine")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def table_rows(engine, sql="SELECT id, name, fullname FROM user_account ORDER BY id"):
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(sql).all()]


def users(n, start=0):
    return [User(name=f"user{i}", fullname=None if i % 3 == 0 else f"User Number {i}") for i in range(start, start + n)]


# --- batched RETURNING -----------------------------------------------------------------


def test_new_objects_go_in_one_batched_insert_returning(engine_for, statements):
    engine = engine_for()
    with Session(engine) as session:
        objects = users(5)
        session.add_all(objects)
        session.flush()
        assert [o.id for o in objects] == [1, 2, 3, 4, 5]
    [statement] = statements.inserts()
    assert statement.sql.startswith("INSERT INTO user_account (name, fullname) SELECT column1, column2 FROM (VALUES (?, ?, 0), (?, ?, 1),")
    assert statement.sql.endswith(", (?, ?, 4)) ORDER BY column3 RETURNING id")


def test_each_object_gets_the_key_of_the_row_holding_its_values(engine_for):
    engine = engine_for()
    with Session(engine) as session:
        objects = users(20)
        session.add_all(objects)
        session.commit()
        expected = {o.id: (o.name, o.fullname) for o in objects}
    assert {row[0]: row[1:] for row in table_rows(engine)} == expected


def test_keys_continue_after_the_largest_existing_rowid(engine_for):
    engine = engine_for()
    with engine.begin() as conn:
        conn.execute(insert(User.__table__), [{"id": 41, "name": "existing"}])
    with Session(engine) as session:
        objects = users(3)
        session.add_all(objects)
        session.flush()
        assert [o.id for o in objects] == [42, 43, 44]


def test_batches_hold_at_most_the_page_size(engine_for, statements):
    engine = engine_for(insertmanyvalues_page_size=PAGE)
    with Session(engine) as session:
        objects = users(10)
        session.add_all(objects)
        session.flush()
        assert [o.id for o in objects] == list(range(1, 11))
    sizes = [len(r.params) // 2 for r in statements.inserts()]
    assert sizes == [4, 4, 2]


def test_the_echo_log_names_the_strategy_and_the_batch_size(engine_for, statements):
    engine = engine_for(insertmanyvalues_page_size=PAGE)
    with Session(engine) as session:
        session.add_all(users(6))
        session.flush()
    causes = [r.cause for r in statements.inserts()]
    assert causes == [
        "flush, step 1 of 1: INSERT user_account: batched RETURNING, statement 1 of 2, 4 rows (batch size 4)",
        "flush, step 1 of 1: INSERT user_account: batched RETURNING, statement 2 of 2, 2 rows (batch size 4)",
    ]


def test_the_default_batch_size_is_the_measured_constant_not_the_largest_possible(engine_for, statements):
    engine = engine_for()
    assert insertmanyvalues.INSERT_BATCH_ROWS < engine.dialect.max_bind_params // 2
    with Session(engine) as session:
        session.add_all(users(insertmanyvalues.INSERT_BATCH_ROWS + 1))
        session.flush()
    sizes = [len(r.params) // 2 for r in statements.inserts()]
    assert sizes == [insertmanyvalues.INSERT_BATCH_ROWS, 1]


def test_batch_size_is_capped_by_the_bind_parameter_limit(engine_for, statements):
    engine = engine_for(insertmanyvalues_page_size=1000)
    engine.dialect.max_bind_params = 7  # as if SQLite allowed 7 "?" per statement: 3 rows of 2
    with Session(engine) as session:
        objects = users(8)
        session.add_all(objects)
        session.flush()
        assert [o.id for o in objects] == list(range(1, 9))
    sizes = [len(r.params) // 2 for r in statements.inserts()]
    assert sizes == [3, 3, 2]


def test_fewer_rows_than_min_batch_rows_go_one_per_statement(engine_for, statements):
    engine = engine_for()
    with mock.patch.object(insertmanyvalues, "MIN_BATCH_ROWS", 10):
        with Session(engine) as session:
            session.add_all(users(9))
            session.flush()
            session.add_all(users(10, start=9))
            session.flush()
    # the cause names the flush, its plan step, then the strategy: "flush, step 1 of 1: INSERT user_account: per-row, ..."
    kinds = [("RETURNING" in r.sql, r.cause.split(": ")[2].split(",")[0]) for r in statements.inserts()]
    assert kinds == [(False, "per-row")] * 9 + [(True, "batched RETURNING")]


def test_a_single_new_object_uses_a_plain_insert(engine_for, statements):
    engine = engine_for()
    with Session(engine) as session:
        user = User(name="squidward")
        session.add(user)
        session.flush()
        assert user.id == 1
    [statement] = statements.inserts()
    assert statement.sql == "INSERT INTO user_account (name, fullname) VALUES (?, ?)"
    assert statement.cause == "flush, step 1 of 1: INSERT user_account: per-row, key from lastrowid"


def test_rows_whose_columns_differ_are_batched_by_shape_in_add_order(engine_for, statements):
    class Base(DeclarativeBase):
        pass

    class Note(Base):
        __tablename__ = "note"

        id: Mapped[int] = mapped_column(primary_key=True)
        body: Mapped[str]
        status: Mapped[Optional[str]] = mapped_column(server_default="new")

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    notes = [Note(body="a"), Note(body="b"), Note(body="c", status="done"), Note(body="d")]
    with Session(engine) as session:
        session.add_all(notes)
        session.flush()
        assert [n.id for n in notes] == [1, 2, 3, 4]
        session.commit()
    assert [r.sql.split(" SELECT")[0].split(" VALUES")[0] for r in statements.inserts()] == [
        "INSERT INTO note (body)",
        "INSERT INTO note (body, status)",
        "INSERT INTO note (body)",
    ]
    assert table_rows(engine, "SELECT id, body, status FROM note ORDER BY id") == [
        (1, "a", "new"), (2, "b", "new"), (3, "c", "done"), (4, "d", "new"),
    ]
    engine.dispose()


# --- the correlation rule and its checks ---------------------------------------------------


def test_sqlite_inserts_rows_in_the_order_by_order_not_the_values_order(engine_for):
    # The rule's step 2, on the SQLite in use: sentinels running backwards give keys backwards.
    engine = engine_for()
    with engine.begin() as conn:
        rows = conn.exec_driver_sql(
            "INSERT INTO user_account (name, fullname) SELECT column1, column2 FROM "
            "(VALUES ('a', NULL, 2), ('b', NULL, 1), ('c', NULL, 0)) ORDER BY column3 RETURNING id, name"
        ).all()
    assert sorted(tuple(r) for r in rows) == [(1, "c"), (2, "b"), (3, "a")]


def shuffled_returning(seed):
    """Patch Connection._execute_sql so every RETURNING comes back in a shuffled order:
    SQLite allows any order, so the code must not rely on the one it happens to use."""
    real = Connection._execute_sql
    shuffle = random.Random(seed).shuffle

    class ShuffledCursor:
        def __init__(self, cursor):
            self._rows = cursor.fetchall()
            shuffle(self._rows)
            self.lastrowid = cursor.lastrowid
            self.rowcount = cursor.rowcount
            self.description = cursor.description

        def fetchall(self):
            return self._rows

        def fetchone(self):
            return self._rows[0] if self._rows else None

    def execute(self, sql, params, **kwargs):
        cursor = real(self, sql, params, **kwargs)
        return ShuffledCursor(cursor) if "RETURNING" in sql else cursor

    return mock.patch.object(Connection, "_execute_sql", execute)


def test_keys_are_matched_whatever_order_returning_uses(engine_for):
    engine = engine_for(insertmanyvalues_page_size=PAGE)
    with shuffled_returning(seed=5), Session(engine) as session:
        objects = users(11)
        session.add_all(objects)
        session.flush()
        assert [o.id for o in objects] == list(range(1, 12))
        expected = {o.id: (o.name, o.fullname) for o in objects}
        session.commit()
    assert {row[0]: row[1:] for row in table_rows(engine)} == expected


def test_keys_in_parameter_order_accepts_only_n_consecutive_integers():
    check = insertmanyvalues.keys_in_parameter_order
    assert check([7, 5, 6], 3) == range(5, 8)
    assert check([5, 7, 8], 3) is None  # a gap: a row of someone else's in between
    assert check([5, 5, 6], 3) is None  # a duplicate
    assert check([5, 7, 6], 2) is None  # not one key per row
    assert check([None, None], 2) is None  # NULL keys: not a rowid alias
    assert check(["a", "b"], 2) is None


def test_a_trigger_inserting_into_the_same_table_fails_the_check_and_writes_nothing(engine_for):
    engine = engine_for()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER shadow AFTER INSERT ON user_account WHEN NEW.name = 'twin' "
            "BEGIN INSERT INTO user_account (name) VALUES ('shadow'); END"
        )
    session = Session(engine)
    objects = [User(name="a"), User(name="twin"), User(name="b")]
    session.add_all(objects)
    # the same exception type as Core's insert().returning() with many parameter sets
    with pytest.raises(InsertManyValuesError, match="not 3 consecutive integers.*insertmanyvalues=False"):
        session.flush()
    assert [o.id for o in objects] == [None, None, None]  # the keys filled in are taken back
    with pytest.raises(PendingRollbackError):
        session.execute(select(User))
    session.rollback()
    session.close()
    assert table_rows(engine) == []


def test_a_trigger_inserting_into_the_same_table_works_one_row_per_statement(engine_for):
    engine = engine_for(insertmanyvalues=False)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER shadow AFTER INSERT ON user_account WHEN NEW.name = 'twin' "
            "BEGIN INSERT INTO user_account (name) VALUES ('shadow'); END"
        )
    with Session(engine) as session:
        objects = [User(name="a"), User(name="twin"), User(name="b")]
        session.add_all(objects)
        session.commit()
        assert [o.id for o in objects] == [1, 2, 4]
    assert [row[:2] for row in table_rows(engine)] == [(1, "a"), (2, "twin"), (3, "shadow"), (4, "b")]


def test_a_table_holding_the_largest_rowid_falls_back_to_one_row_per_statement(engine_for, statements):
    # With 2**63-1 taken, SQLite picks new rowids at random: the batched strategy's numbering
    # cannot hold, so the flush inserts one row per statement (keys from lastrowid) and succeeds.
    engine = engine_for()
    with engine.begin() as conn:
        conn.execute(insert(User.__table__), {"id": insertmanyvalues.MAX_ROWID, "name": "last"})
    with Session(engine) as session:
        objects = users(3)
        session.add_all(objects)
        session.commit()
        expected = {o.id: (o.name, o.fullname) for o in objects}
    assert not any("RETURNING" in r.sql for r in statements.inserts())
    rows = {row[0]: row[1:] for row in table_rows(engine)}
    assert rows[insertmanyvalues.MAX_ROWID] == ("last", None)
    assert len(rows) == 4 and all(rows[key] == values for key, values in expected.items())


def test_random_rowids_are_fine_one_row_per_statement(engine_for):
    engine = engine_for(insertmanyvalues=False)
    with engine.begin() as conn:
        conn.execute(insert(User.__table__), {"id": insertmanyvalues.MAX_ROWID, "name": "last"})
    with Session(engine) as session:
        objects = users(3)
        session.add_all(objects)
        session.commit()
        expected = {o.id: (o.name, o.fullname) for o in objects}
    rows = {row[0]: row[1:] for row in table_rows(engine)}
    assert all(rows[key] == values for key, values in expected.items())


# --- per-row and client-assigned keys ------------------------------------------------------


def test_insertmanyvalues_false_inserts_one_row_per_statement(engine_for, statements):
    engine = engine_for(insertmanyvalues=False)
    with Session(engine) as session:
        objects = users(3)
        session.add_all(objects)
        session.flush()
        assert [o.id for o in objects] == [1, 2, 3]
    assert [r.sql for r in statements.inserts()] == ["INSERT INTO user_account (name, fullname) VALUES (?, ?)"] * 3


def test_sqlalchemys_use_insertmanyvalues_spelling_is_accepted():
    engine = create_engine("sqlite://", use_insertmanyvalues=False)
    assert engine.insertmanyvalues is False


def test_sqlite_without_returning_inserts_one_row_per_statement(engine_for, statements):
    engine = engine_for()
    engine.dialect.supports_returning = False  # as SQLite < 3.35 reports
    with Session(engine) as session:
        objects = users(3)
        session.add_all(objects)
        session.flush()
        assert [o.id for o in objects] == [1, 2, 3]
    assert len(statements.inserts()) == 3
    assert not any("RETURNING" in r.sql for r in statements.inserts())


def test_objects_with_keys_set_go_in_one_executemany(engine_for, statements):
    engine = engine_for()
    with Session(engine) as session:
        session.add_all([User(id=10 + i, name=f"user{i}") for i in range(5)])
        session.flush()
    [statement] = statements.inserts()
    assert statement.sql == "INSERT INTO user_account (id, name, fullname) VALUES (?, ?, ?)"
    assert statement.params == [(10 + i, f"user{i}", None) for i in range(5)]
    assert statement.cause == "flush, step 1 of 1: INSERT user_account: client-assigned keys"


def test_set_keys_go_first_then_the_others_batched_in_add_order(engine_for, statements):
    engine = engine_for()
    with Session(engine) as session:
        objects = [User(name="a"), User(id=2, name="b"), User(name="c"), User(id=9, name="d"), User(name="e")]
        session.add_all(objects)
        session.flush()
        # a key SQLite picks cannot collide with one chosen in the same flush
        assert [o.id for o in objects] == [10, 2, 11, 9, 12]
        session.commit()
    kinds = [r.cause for r in statements.inserts()]
    assert kinds == [
        "flush, step 1 of 2: INSERT user_account: client-assigned keys",
        "flush, step 2 of 2: INSERT user_account: batched RETURNING, statement 1 of 1, 3 rows (batch size 500)",
    ]
    assert [row[:2] for row in table_rows(engine)] == [(2, "b"), (9, "d"), (10, "a"), (11, "c"), (12, "e")]


def test_a_text_key_filled_by_a_server_default_is_read_back_per_row(engine_for, statements):
    engine = engine_for()
    with Session(engine) as session:
        tags = [Tag(label=f"t{i}") for i in range(3)]
        session.add_all(tags)
        session.flush()
        codes = [t.code for t in tags]
        assert all(isinstance(code, str) and len(code) == 16 for code in codes)
        session.commit()
    assert [r.sql for r in statements.inserts()] == ["INSERT INTO tag (label) VALUES (?) RETURNING code"] * 3
    assert dict(table_rows(engine, "SELECT code, label FROM tag")) == {c: f"t{i}" for i, c in enumerate(codes)}


def test_a_server_generated_key_without_returning_is_read_by_rowid(engine_for, statements):
    engine = engine_for()
    engine.dialect.supports_returning = False
    with Session(engine) as session:
        tags = [Tag(label="x"), Tag(label="y")]
        session.add_all(tags)
        session.commit()
        codes = [t.code for t in tags]
    assert dict(table_rows(engine, "SELECT code, label FROM tag")) == {codes[0]: "x", codes[1]: "y"}
    assert [r.sql.split(" ")[0] for r in statements.records if r.sql.startswith(("INSERT", "SELECT tag.code \nFROM tag \nWHERE rowid"))] == [
        "INSERT", "SELECT", "INSERT", "SELECT",
    ]


def test_a_composite_key_partly_filled_by_a_server_default_is_read_back_per_row(engine_for, statements):
    engine = engine_for()
    with Session(engine) as session:
        seats = [Seat(hall=1, price=p) for p in range(12)] + [Seat(hall=2, code="vip", price=99)]
        session.add_all(seats)
        session.flush()
        keys = [(s.hall, s.code) for s in seats]
        session.commit()
    assert len(set(keys)) == 13 and keys[-1] == (2, "vip")
    rows = {(hall, code): price for hall, code, price in table_rows(engine, "SELECT hall, code, price FROM seat")}
    assert rows == {key: seat_price for key, seat_price in zip(keys, [*range(12), 99])}
    assert [r.sql for r in statements.inserts()] == [
        "INSERT INTO seat (hall, code, price) VALUES (?, ?, ?)",  # the one whose key is complete
        *["INSERT INTO seat (hall, price) VALUES (?, ?) RETURNING code"] * 12,
    ]


def test_a_composite_key_set_by_the_client_goes_in_one_executemany(engine_for, statements):
    engine = engine_for()
    with Session(engine) as session:
        session.add_all([Line(order_id=1, number=n, item=f"item{n}") for n in range(4)])
        session.commit()
    [statement] = statements.inserts()
    assert statement.sql == "INSERT INTO order_line (order_id, number, item) VALUES (?, ?, ?)"
    assert table_rows(engine, "SELECT order_id, number, item FROM order_line ORDER BY number") == [
        (1, n, f"item{n}") for n in range(4)
    ]


def test_a_table_with_only_its_key_is_inserted_with_default_values(engine_for, statements):
    engine = engine_for()
    with Session(engine) as session:
        tickets = [Ticket(), Ticket(), Ticket()]
        session.add_all(tickets)
        session.flush()
        assert [t.id for t in tickets] == [1, 2, 3]
    assert [r.sql for r in statements.inserts()] == ["INSERT INTO ticket DEFAULT VALUES"] * 3


def test_a_failed_batch_takes_back_the_keys_of_earlier_batches(engine_for):
    """Each statement's objects become persistent right after it (``InsertRows._insert_batched``);
    when a later statement of the same step fails, they end the failed flush as the others do."""
    engine = engine_for(insertmanyvalues_page_size=2)
    session = Session(engine)
    objects = users(3) + [User(name=None)]  # the second batch fails: name is NOT NULL
    session.add_all(objects)
    with pytest.raises(Exception, match="NOT NULL"):
        session.flush()
    assert [o.id for o in objects] == [None] * 4
    assert all(inspect(o).transient for o in objects)
    assert len(session.identity_map) == 0 and not session.new
    session.rollback()
    assert table_rows(engine) == []
    session.add_all(objects[:3])
    session.commit()
    assert [o.id for o in objects[:3]] == [1, 2, 3]
    assert [session.get(User, n) for n in (1, 2, 3)] == objects[:3]
    session.close()


# --- the bind-parameter limit ---------------------------------------------------------------


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Connection.getlimit() is new in Python 3.11")
def test_the_bind_parameter_limit_is_read_from_the_connection():
    engine = create_engine("sqlite://")
    raw = engine.raw_connection()
    assert engine.dialect.max_bind_params == raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 10)
    engine.dialect.initialize(raw)
    assert engine.dialect.max_bind_params == 10
    engine.dispose()


def test_without_getlimit_the_limit_follows_the_sqlite_version():
    from minialchemy.engine.base import Dialect

    assert Dialect.default_max_bind_params((3, 31, 1)) == 999
    assert Dialect.default_max_bind_params((3, 32, 0)) == 32766


def test_a_page_size_that_is_not_a_positive_number_is_refused():
    from minialchemy.exc import ArgumentError

    with pytest.raises(ArgumentError, match="insertmanyvalues_page_size"):
        create_engine("sqlite://", insertmanyvalues_page_size=0)


# --- properties: every strategy leaves the same database -----------------------------------


STRATEGIES = {
    "per-row": {"insertmanyvalues": False},
    "batched": {"insertmanyvalues_page_size": PAGE},
    "batched, one statement": {},
}

names = st.sampled_from(["spongebob", "sandy", "patrick", "squidward", ""])  # duplicates on purpose
fullnames = st.one_of(st.none(), st.sampled_from(["Sandy Cheeks", "Patrick Star", "x" * 40]))


@st.composite
def user_batches(draw):
    """Rows for 1 .. 3 batches' worth of new users, some with a key already set (unique, never
    one a seed row holds), on a table holding a few seed rows."""
    n = draw(st.integers(1, 3 * PAGE))
    preset = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    keys = draw(st.lists(st.integers(100, 10_000), min_size=n, max_size=n, unique=True))
    rows = [
        (keys[i] if preset[i] else None, draw(names), draw(fullnames))
        for i in range(n)
    ]
    seeds = draw(st.lists(st.integers(1, 99), max_size=3, unique=True))
    return seeds, rows


def flush_with(strategy, seeds, rows):
    """Flush ``rows`` as new objects on a fresh database; return (objects' view, table)."""
    engine = new_engine(**STRATEGIES[strategy])
    try:
        if seeds:
            with engine.begin() as conn:
                conn.execute(insert(User.__table__), [{"id": key, "name": "seed"} for key in seeds])
        with Session(engine) as session:
            objects = [User(id=key, name=name, fullname=fullname) for key, name, fullname in rows]
            session.add_all(objects)
            session.flush()
            seen = [(o.id, o.name, o.fullname) for o in objects]
            session.commit()
        return seen, table_rows(engine)
    finally:
        engine.dispose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user_batches())
def test_every_strategy_leaves_the_same_rows_and_each_id_points_at_its_own_row(batch):
    seeds, rows = batch
    results = {strategy: flush_with(strategy, seeds, rows) for strategy in STRATEGIES}
    seen, table = results["per-row"]
    for strategy, (other_seen, other_table) in results.items():
        assert other_table == table, strategy
        assert other_seen == seen, strategy
    by_key = {row[0]: row[1:] for row in table}
    assert len({key for key, _, _ in seen}) == len(seen)
    for (key, name, fullname), (given_key, _, _) in zip(seen, rows):
        assert by_key[key] == (name, fullname)  # the id points at the row holding its values
        if given_key is not None:
            assert key == given_key
    generated = [key for (key, _, _), (given_key, _, _) in zip(seen, rows) if given_key is None]
    assert generated == sorted(generated)  # SQLite's keys ascend in the order objects were added
    assert all(key > other for key in generated for other in [*seeds, *(k for k, _, _ in rows if k)])


@settings(max_examples=50, deadline=None)
@given(user_batches(), st.integers(0, 2**32))
def test_shuffled_returning_rows_change_nothing(batch, seed):
    seeds, rows = batch
    expected = flush_with("per-row", seeds, rows)
    with shuffled_returning(seed):
        assert flush_with("batched", seeds, rows) == expected


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 50), st.one_of(st.none(), names)),
                min_size=1, max_size=3 * PAGE, unique_by=lambda row: row[:2]),
       st.lists(names, min_size=1, max_size=3 * PAGE))
def test_tables_without_a_rowid_alias_key_fall_back_and_stay_correct(lines, labels):
    for strategy in STRATEGIES:
        engine = new_engine(**STRATEGIES[strategy])
        with Session(engine) as session:
            line_objects = [Line(order_id=o, number=n, item=item) for o, n, item in lines]
            tags = [Tag(label=label) for label in labels]
            session.add_all(line_objects + tags)
            session.flush()
            line_view = sorted((o.order_id, o.number, o.item) for o in line_objects)
            tag_view = {t.code: t.label for t in tags}
            session.commit()
        assert table_rows(engine, "SELECT order_id, number, item FROM order_line ORDER BY 1, 2") == line_view
        assert dict(table_rows(engine, "SELECT code, label FROM tag")) == tag_view
        assert len(tag_view) == len(tags)
        engine.dispose()


def test_reverse_unordered_selects_changes_nothing(engine_for):
    # SQLite's own tool for finding code that relies on an order it does not promise
    engine = engine_for(insertmanyvalues_page_size=PAGE, connect_args={})
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA reverse_unordered_selects = ON")
    with Session(engine) as session:
        objects = users(9)
        session.add_all(objects)
        session.commit()
        expected = {o.id: (o.name, o.fullname) for o in objects}
    assert {row[0]: row[1:] for row in table_rows(engine)} == expected
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA reverse_unordered_selects").scalar() == 1
