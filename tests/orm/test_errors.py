"""When things go wrong: a failed flush and the rollback it requires, misuse of the
Session, results with the wrong number of rows, a locked database, and values or
names that would break naively built SQL."""

import sqlite3
import time
from typing import Optional

import pytest

from minialchemy import create_engine, delete, func, inspect, select, update
from minialchemy.exc import (
    IntegrityError,
    InvalidRequestError,
    MultipleResultsFound,
    NoResultFound,
    OperationalError,
    PendingRollbackError,
    StatementError,
)
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


def user_names(engine, User):
    with Session(engine) as session:
        return session.scalars(select(User.name).order_by(User.id)).all()


# --- a failed flush --------------------------------------------------------------------


def test_failed_flush_raises_integrity_error_for_null_in_not_null(session, User):
    session.add(User(fullname="Nobody"))  # name is NOT NULL
    with pytest.raises(IntegrityError) as excinfo:
        session.flush()
    assert isinstance(excinfo.value, StatementError)
    assert isinstance(excinfo.value.orig, sqlite3.IntegrityError)


def test_failed_flush_raises_integrity_error_for_a_duplicate_key(session, User):
    session.add(User(id=1, name="another spongebob"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_failed_flush_leaves_no_row_from_that_flush(engine, session, User):
    session.add_all([User(name="squidward"), User(fullname="Nobody")])
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert user_names(engine, User) == ["spongebob", "sandy", "patrick"]


def test_after_a_failed_flush_the_session_needs_a_rollback(session, User):
    session.add(User(fullname="Nobody"))
    with pytest.raises(IntegrityError):
        session.flush()
    with pytest.raises(PendingRollbackError):
        session.execute(select(User))
    with pytest.raises(PendingRollbackError):
        session.get(User, 1)
    session.rollback()
    assert session.get(User, 1).name == "spongebob"


def test_rollback_after_a_failed_flush_keeps_earlier_committed_data(session, User):
    session.add(User(name="squidward"))
    session.commit()
    session.add(User(fullname="Nobody"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert session.scalars(select(User.name).order_by(User.id)).all() == [
        "spongebob",
        "sandy",
        "patrick",
        "squidward",
    ]


def test_rollback_after_a_failed_flush_restores_object_states(session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    squidward, nobody = User(name="squidward"), User(fullname="Nobody")
    session.add_all([squidward, nobody])
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    # the new objects are transient again, with no identity
    assert inspect(squidward).transient and inspect(nobody).transient
    assert inspect(squidward).identity is None
    # the loaded object is persistent, expired, and reloads the committed row
    assert inspect(sandy).persistent
    assert sandy not in session.dirty
    assert sandy.fullname == "Sandy Cheeks"


# --- misusing the Session --------------------------------------------------------------


def test_deleting_a_transient_object_is_refused(session, User):
    squidward = User(name="squidward")
    with pytest.raises(InvalidRequestError, match="User at 0x"):
        session.delete(squidward)


def test_one_object_cannot_be_in_two_sessions(engine, session, User):
    sandy = session.get(User, 2)
    with Session(engine) as other:
        with pytest.raises(InvalidRequestError, match="User at 0x"):
            other.add(sandy)
    assert sandy in session


# --- the wrong number of rows ----------------------------------------------------------


def test_scalar_one_with_no_row_raises_no_result_found(session, User):
    with pytest.raises(NoResultFound):
        session.execute(select(User).where(User.name == "nobody")).scalar_one()


def test_scalar_one_with_two_rows_raises_multiple_results_found(session, User):
    with pytest.raises(MultipleResultsFound):
        session.execute(select(User).where(User.id > 1)).scalar_one()


def test_scalars_one_with_no_row_raises_no_result_found(session, User):
    with pytest.raises(NoResultFound):
        session.scalars(select(User).where(User.name == "nobody")).one()


def test_scalar_one_or_none_returns_none_for_no_row(session, User):
    assert session.execute(select(User).where(User.name == "nobody")).scalar_one_or_none() is None


# --- a locked database -----------------------------------------------------------------


def test_locked_database_raises_operational_error_without_hanging(file_engine_factory, User):
    engine = file_engine_factory(connect_args={"timeout": 0.1})
    locker = sqlite3.connect(file_engine_factory.path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with Session(engine) as session:
            with pytest.raises(OperationalError):
                session.get(User, 2)
        assert time.monotonic() - started < 5
    finally:
        locker.execute("ROLLBACK")
        locker.close()


@pytest.fixture
def locked_engine(file_engine_factory):
    """An engine on a database file that waits only briefly for locks (``.reader``: another
    connection in the middle of a read; until it ends, no COMMIT can write)."""
    engine = file_engine_factory(connect_args={"timeout": 0.05})
    reader = sqlite3.connect(file_engine_factory.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM user_account").fetchone()
    engine.reader = reader
    yield engine
    if reader.in_transaction:
        reader.execute("ROLLBACK")
    reader.close()


def _committed_names(path):
    with sqlite3.connect(path) as other:
        return [name for (name,) in other.execute("SELECT name FROM user_account ORDER BY id")]


def test_a_failed_commit_makes_the_session_refuse_work_until_rollback(file_engine_factory, locked_engine, User):
    session = Session(locked_engine)
    squidward = User(name="squidward")
    session.add(squidward)
    session.flush()
    with pytest.raises(OperationalError, match="locked"):
        session.commit()
    with pytest.raises(InvalidRequestError):
        session.execute(select(User.name))
    with pytest.raises(InvalidRequestError):
        session.get(User, 1)
    session.add(User(name="gary"))
    with pytest.raises(InvalidRequestError):
        session.flush()
    with pytest.raises(PendingRollbackError):
        session.commit()
    locked_engine.reader.execute("ROLLBACK")
    session.rollback()
    assert _committed_names(file_engine_factory.path) == ["spongebob", "sandy", "patrick"]
    assert inspect(squidward).transient
    session.add(User(name="plankton"))
    session.commit()
    assert _committed_names(file_engine_factory.path) == ["spongebob", "sandy", "patrick", "plankton"]
    session.close()


@pytest.mark.minialchemy_only
def test_a_failed_commit_releases_its_locks_at_once(file_engine_factory, locked_engine, User):
    with Session(locked_engine) as session:
        session.get(User, 1).name = "sponge"
        with pytest.raises(OperationalError):
            session.commit()
        locked_engine.reader.execute("ROLLBACK")
        # SQLAlchemy keeps the failed transaction (and its lock) until rollback(); we end it
        # at once, so other connections can read and write meanwhile
        assert _committed_names(file_engine_factory.path) == ["spongebob", "sandy", "patrick"]
        with pytest.raises(PendingRollbackError, match="during COMMIT.*database is locked"):
            session.scalars(select(User)).all()


# --- hostile values and names ----------------------------------------------------------

HOSTILE_VALUES = [
    "O'Reilly \"the quoted\" Squarepants",
    "x'); DROP TABLE user_account; --",
    "Sandy 🐿️ Cheeks 🧽",
    "line one\nline two\ttabbed \\ backslash ? :name %s",
    "a" * 1_000_000,
]


@pytest.mark.parametrize(
    "value", HOSTILE_VALUES, ids=["quotes", "injection", "emoji", "escapes", "1MB"]
)
def test_hostile_values_round_trip_verbatim(engine, User, value):
    with Session(engine) as session:
        session.add(User(name=value[:100], fullname=value))
        session.commit()
    with Session(engine) as session:
        found = session.scalars(select(User).where(User.fullname == value)).one()
        assert found.fullname == value
        assert found.name == value[:100]
        assert session.scalar(select(func.count()).select_from(User)) == 4


def make_keyword_model():
    class Base(DeclarativeBase):
        pass

    class Order(Base):
        __tablename__ = "order"

        id: Mapped[int] = mapped_column(primary_key=True)
        choice: Mapped[str] = mapped_column("select")
        first_name: Mapped[Optional[str]] = mapped_column("first name")

    return Base, Order


def test_sql_keywords_and_spaces_in_names_work(sql_log):
    Base, Order = make_keyword_model()
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        order = Order(choice="from", first_name="where")
        session.add_all([order, Order(choice="group", first_name="by")])
        session.commit()

        found = session.scalars(select(Order).where(Order.choice == "from")).one()
        assert found is order
        assert found.first_name == "where"

        order.first_name = "having"
        sql_log.clear()
        session.flush()
        assert sql_log.queries == ['UPDATE "order" SET "first name"=? WHERE "order".id = ?']

        session.execute(
            update(Order).where(Order.first_name == "by").values(choice="order by")
        )
        session.delete(order)
        sql_log.clear()
        session.flush()
        assert sql_log.queries == ['DELETE FROM "order" WHERE "order".id = ?']
        session.execute(delete(Order).where(Order.choice == "nothing"))
        session.commit()

        rows = session.execute(select(Order.choice, Order.first_name)).all()
        assert [tuple(row) for row in rows] == [("order by", "by")]
