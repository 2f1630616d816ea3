"""Work done during a flush is written, never dropped; a flush cannot be re-entered.

Code runs in the middle of a flush when a column default is a Python callable.  If it adds an
object, or changes one whose row the flush already wrote, that work must reach the database;
if it calls ``flush()`` or ``commit()``, the session refuses ("Session is already flushing",
as SQLAlchemy says).  A default's exception reaches the caller as ``StatementError`` with the
original as ``.orig``, as in SQLAlchemy.
"""

from __future__ import annotations

from typing import Optional

import pytest

from minialchemy import String, create_engine, select
from minialchemy.exc import InvalidRequestError, StatementError
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from minialchemy.orm.exc import FlushError

#: what the column defaults below do, set by each test
hooks: dict = {}


def run_hook() -> str:
    action = hooks.get("action")
    if action is not None:
        action()
    return "stamped"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    fullname: Mapped[Optional[str]]


class Event(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[str] = mapped_column(default=run_hook)


@pytest.fixture
def engine():
    hooks.clear()
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    yield engine
    hooks.clear()
    engine.dispose()


def rows(engine, sql):
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(sql).all()]


def test_an_object_added_by_a_default_during_the_flush_is_written(engine):
    session = Session(engine)
    hooks["action"] = lambda: session.add(User(name="added during the flush"))
    session.add(Event())
    session.commit()
    assert rows(engine, "SELECT name FROM user_account") == [("added during the flush",)]
    assert rows(engine, "SELECT stamp FROM event") == [("stamped",)]
    session.close()


@pytest.mark.minialchemy_only
def test_a_persistent_object_changed_by_a_default_is_written_and_tracked_afterwards(engine):
    # SQLAlchemy 2.1 loses this change (the row keeps NULL): issue 9 asks for better
    session = Session(engine)
    sandy = User(name="sandy")
    session.add(sandy)
    session.commit()

    def change_sandy():
        sandy.fullname = "changed during the flush"

    hooks["action"] = change_sandy
    session.add(Event())
    session.commit()
    assert rows(engine, "SELECT fullname FROM user_account") == [("changed during the flush",)]
    hooks.clear()
    sandy.fullname = "an ordinary change later"  # still tracked: not swallowed by the flush
    session.commit()
    assert rows(engine, "SELECT fullname FROM user_account") == [("an ordinary change later",)]
    session.close()


def test_a_change_to_an_object_inserted_earlier_in_the_same_flush_is_written(engine):
    session = Session(engine)
    squidward = User(name="squidward")

    def change_squidward():
        squidward.fullname = "Squidward Tentacles"  # its INSERT ran already (user_account first)

    hooks["action"] = change_squidward
    session.add_all([squidward, Event()])
    session.commit()
    assert rows(engine, "SELECT name, fullname FROM user_account") == [("squidward", "Squidward Tentacles")]
    session.close()


def test_a_changed_object_already_updated_in_the_flush_is_updated_again(engine):
    session = Session(engine)
    sandy = User(name="sandy")
    session.add(sandy)
    session.commit()
    sandy.name = "sandy cheeks"  # UPDATEd by the flush below, before the event's INSERT

    def change_sandy_again():
        sandy.fullname = "set after her UPDATE"

    hooks["action"] = change_sandy_again
    session.add(Event())
    session.commit()
    assert rows(engine, "SELECT name, fullname FROM user_account") == [("sandy cheeks", "set after her UPDATE")]
    session.close()


@pytest.mark.minialchemy_only
def test_work_added_during_a_flush_is_written_by_that_same_flush(engine):
    # SQLAlchemy leaves it in session.new (with a warning) for the next flush; minialchemy's flush
    # plans and runs again until nothing is left
    session = Session(engine)
    late = User(name="late")
    hooks["action"] = lambda: session.add(late)
    session.add(Event())
    session.flush()
    assert late not in session.new and late.id == 1
    assert session.scalars(select(User.name)).all() == ["late"]
    session.rollback()
    session.close()


def test_flush_inside_a_flush_is_refused(engine):
    session = Session(engine)
    hooks["action"] = session.flush
    session.add(Event())
    with pytest.raises(StatementError) as raised:
        session.flush()
    assert isinstance(raised.value.orig, InvalidRequestError)
    assert "Session is already flushing" in str(raised.value.orig)
    session.rollback()
    assert rows(engine, "SELECT count(*) FROM event") == [(0,)]
    session.close()


@pytest.mark.minialchemy_only
def test_commit_inside_a_flush_is_refused_and_commits_nothing(engine):
    # SQLAlchemy 2.1 refuses too, with IllegalStateChangeError (an InvalidRequestError) and
    # other words
    session = Session(engine)
    hooks["action"] = session.commit
    session.add_all([User(name="half"), Event()])
    with pytest.raises(StatementError) as raised:
        session.commit()
    assert isinstance(raised.value.orig, InvalidRequestError)
    assert "Session is already flushing" in str(raised.value.orig)
    session.rollback()
    assert rows(engine, "SELECT count(*) FROM user_account") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM event") == [(0,)]
    session.close()


@pytest.mark.minialchemy_only
def test_a_default_that_adds_work_on_every_flush_ends_in_a_flush_error(engine):
    session = Session(engine)
    hooks["action"] = lambda: session.add(Event())  # each event's default adds another event
    session.add(Event())
    with pytest.raises(FlushError, match="Over 100 subsequent flushes"):
        session.flush()
    hooks.clear()
    session.rollback()
    assert rows(engine, "SELECT count(*) FROM event") == [(0,)]
    session.close()
