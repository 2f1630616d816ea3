"""Values are checked when they are written, not when the row is read back.

A ``Boolean`` column given ``'false'``, a ``Float`` given ``'abc'``, a ``DateTime`` given text
or a number: the flush refuses the value with ``StatementError`` (the TypeError or ValueError
is its ``.orig``), nothing is written, and the session asks for ``rollback()``, as SQLAlchemy
does.  Values the type can convert are converted: a ``datetime`` into a ``Date`` column is stored
as its date, a ``Decimal`` into a ``Float`` column as a float.  Checked against SQLAlchemy 2.1.
"""

import datetime
import decimal
import sqlite3
from typing import Optional

import pytest

from minialchemy import Boolean, Date, DateTime, Float, select
from minialchemy.exc import PendingRollbackError, StatementError
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


def _boom():
    raise ZeroDivisionError("the default failed")


@pytest.fixture
def Event():
    class Base(DeclarativeBase):
        pass

    class Event(Base):
        __tablename__ = "event"

        id: Mapped[int] = mapped_column(primary_key=True)
        done = mapped_column(Boolean, nullable=True)
        score = mapped_column(Float, nullable=True)
        starts_at = mapped_column(DateTime, nullable=True)
        day = mapped_column(Date, nullable=True)

    return Event


@pytest.fixture
def event_engine(Event, tmp_path):
    from minialchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'events.db'}")
    Event.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _rows_in_database(engine):
    """The rows as another connection sees them (only what was committed)."""
    path = str(engine.url).split("sqlite:///", 1)[1]
    with sqlite3.connect(path) as raw:
        return raw.execute("SELECT id, done, score, starts_at, day FROM event ORDER BY id").fetchall()


REFUSED = [
    ("done", "false", TypeError),
    ("done", "true", TypeError),
    ("done", 2, ValueError),
    ("score", "abc", ValueError),
    ("starts_at", "not a date", TypeError),
    ("starts_at", "2020-01-02 03:04:05", TypeError),
    ("starts_at", 12345, TypeError),
    ("day", "garbage", TypeError),
    ("day", 12345, TypeError),
]


@pytest.mark.parametrize("attribute, value, cause", REFUSED)
def test_a_value_the_column_type_refuses_fails_the_flush(Event, event_engine, attribute, value, cause):
    with Session(event_engine) as session:
        session.add(Event(**{attribute: value}))
        with pytest.raises(StatementError) as raised:
            session.commit()
    assert type(raised.value.orig) is cause
    assert raised.value.statement.startswith("INSERT INTO event")
    assert f"[parameters: " in str(raised.value) and repr(value) in str(raised.value)
    assert _rows_in_database(event_engine) == []


def test_after_a_refused_value_the_session_asks_for_rollback(Event, event_engine):
    with Session(event_engine) as session:
        session.add(Event(done="false"))
        with pytest.raises(StatementError):
            session.flush()
        session.add(Event(done=False))
        with pytest.raises(PendingRollbackError):
            session.flush()
        session.rollback()
        session.add(Event(done=False))
        session.commit()
    assert _rows_in_database(event_engine) == [(1, 0, None, None, None)]


def test_a_refused_value_in_one_object_writes_none_of_the_flush(Event, event_engine):
    with Session(event_engine) as session:
        session.add_all([Event(done=True), Event(score="abc"), Event(done=False)])
        with pytest.raises(StatementError):
            session.commit()
        session.rollback()
    assert _rows_in_database(event_engine) == []


def test_a_refused_value_in_an_update_keeps_the_committed_row(Event, event_engine):
    with Session(event_engine) as session:
        session.add(Event(id=1, done=True, score=1.5))
        session.commit()
        event = session.get(Event, 1)
        event.score = "abc"
        with pytest.raises(StatementError) as raised:
            session.commit()
        assert raised.value.statement.startswith("UPDATE event SET score=?")
        assert isinstance(raised.value.orig, ValueError)
        session.rollback()
        assert event.score == 1.5
    assert _rows_in_database(event_engine) == [(1, 1, 1.5, None, None)]


def test_the_error_names_the_original_exception(Event, event_engine):
    with Session(event_engine) as session:
        session.add(Event(done="false"))
        with pytest.raises(StatementError, match=r"\(builtins.TypeError\) Not a boolean value: 'false'"):
            session.flush()


@pytest.mark.parametrize("value, stored", [(True, 1), (False, 0), (1, 1), (0, 0), (None, None)])
def test_boolean_accepts_true_false_one_zero_and_none(Event, event_engine, value, stored):
    with Session(event_engine) as session:
        session.add(Event(id=1, done=value))
        session.commit()
        assert session.get(Event, 1).done is (None if stored is None else bool(stored))
    assert _rows_in_database(event_engine) == [(1, stored, None, None, None)]


def test_a_datetime_given_to_a_date_column_is_stored_as_its_date(Event, event_engine):
    with Session(event_engine) as session:
        session.add(Event(id=1, day=datetime.datetime(2020, 1, 2, 3, 4, 5)))
        session.commit()
        assert session.get(Event, 1).day == datetime.date(2020, 1, 2)
    assert _rows_in_database(event_engine) == [(1, None, None, None, "2020-01-02")]


def test_a_date_given_to_a_datetime_column_is_stored_as_its_midnight(Event, event_engine):
    with Session(event_engine) as session:
        session.add(Event(id=1, starts_at=datetime.date(2020, 1, 2)))
        session.commit()
        assert session.get(Event, 1).starts_at == datetime.datetime(2020, 1, 2)
    assert _rows_in_database(event_engine) == [(1, None, None, "2020-01-02 00:00:00.000000", None)]


def test_an_early_year_keeps_four_digits_and_reads_back(Event, event_engine):
    with Session(event_engine) as session:
        session.add(Event(id=1, starts_at=datetime.datetime(33, 4, 5, 6, 7, 8), day=datetime.date(9, 1, 2)))
        session.commit()
        event = session.get(Event, 1)
        assert (event.starts_at, event.day) == (datetime.datetime(33, 4, 5, 6, 7, 8), datetime.date(9, 1, 2))


def test_a_decimal_given_to_a_float_column_is_stored_as_a_float(Event, event_engine):
    with Session(event_engine) as session:
        session.add(Event(id=1, score=decimal.Decimal("2.5")))
        session.commit()
        assert session.get(Event, 1).score == 2.5
    assert _rows_in_database(event_engine) == [(1, None, 2.5, None, None)]


def test_a_decimal_in_a_where_clause_is_compared_as_a_number(Event, event_engine):
    with Session(event_engine) as session:
        session.add_all([Event(id=1, score=2.5), Event(id=2, score=3.0)])
        session.commit()
        assert session.scalars(select(Event.id).where(Event.score == decimal.Decimal("2.5"))).all() == [1]
        assert session.scalars(select(Event.id).where(Event.id == decimal.Decimal(2))).all() == [2]


def _ticket_class_with_default(engine, default):
    """A ``Ticket`` whose ``code`` column has the Python-side ``default``; its table created."""

    class Base(DeclarativeBase):
        pass

    class Ticket(Base):
        __tablename__ = "ticket"

        id: Mapped[int] = mapped_column(primary_key=True)
        code: Mapped[Optional[str]] = mapped_column(default=default)

    Base.metadata.create_all(engine)
    return Ticket


def test_a_failing_column_default_fails_the_flush_with_statement_error(event_engine):
    Ticket = _ticket_class_with_default(event_engine, _boom)
    with Session(event_engine) as session:
        session.add(Ticket())
        with pytest.raises(StatementError) as raised:
            session.commit()
        assert isinstance(raised.value.orig, ZeroDivisionError)
        assert raised.value.statement.startswith("INSERT INTO ticket")
        session.rollback()
        assert session.scalars(select(Ticket)).all() == []


def test_a_default_that_raises_type_error_is_not_called_twice(event_engine):
    calls = []

    def default():
        calls.append(1)
        raise TypeError("wrong type inside the default")

    Ticket = _ticket_class_with_default(event_engine, default)
    with Session(event_engine) as session:
        session.add(Ticket())
        with pytest.raises(StatementError, match="wrong type inside the default"):
            session.flush()
    assert calls == [1]
