"""The echo log gives a reason for every statement: the user's own queries, Session.get misses,
BEGIN / COMMIT / ROLLBACK with what began or ended the transaction, loads the flush runs, and
reloads of expired objects named by class and primary key with what expired them."""

import logging

import pytest

from minialchemy import func, insert, select, update
from minialchemy.orm import Session

pytestmark = pytest.mark.minialchemy_only


@pytest.fixture
def causes(engine):
    """``[(first word of the SQL, cause)]`` of every statement sent while the test runs."""
    logged = []

    class Handler(logging.Handler):
        def emit(self, record):
            if getattr(record, "sql", None) is not None:
                logged.append((record.getMessage().split()[0], record.cause))

    logger = logging.getLogger("minialchemy.engine")
    handler = Handler()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logged
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_your_own_query_is_named_as_yours(session, User, causes):
    session.execute(select(User).where(User.name == "sandy")).all()
    assert causes == [("BEGIN", "autobegin, for select(User) by you"), ("SELECT", "select(User) by you")]


def test_a_session_get_miss_says_the_identity_map_did_not_have_it(session, User, causes):
    sandy = session.get(User, 2)
    assert session.get(User, 2) is sandy  # a hit: no SQL
    assert causes[1:] == [("SELECT", "Session.get(User, 2): not in the identity map")]


def test_commit_rollback_and_close_say_what_ended_the_transaction(session, User, causes):
    session.get(User, 1)
    session.commit()
    session.get(User, 2)
    session.rollback()
    session.get(User, 3)
    session.close()
    ends = [cause for kind, cause in causes if kind in ("COMMIT", "ROLLBACK")]
    assert ends == ["Session.commit()", "Session.rollback()", "Session.close() with nothing committed"]


def test_a_core_statement_on_a_connection_is_named_as_yours(engine, User, causes):
    with engine.begin() as connection:
        connection.execute(insert(User.__table__), [{"name": "squidward"}])
    assert causes == [
        ("BEGIN", "engine.begin()"),
        ("INSERT", "insert(user_account) by you"),
        ("COMMIT", "end of the engine.begin() block"),
    ]


def test_a_load_run_by_the_flush_says_so(session, User, causes):
    sandy = session.get(User, 2)
    session.delete(sandy)
    session.flush()
    load = next(cause for kind, cause in causes if kind == "SELECT" and "flush" in (cause or ""))
    assert load == "flush: load User.addresses to set user_id NULL on them, the children of deleted User(id=2)"


def test_reloading_an_expired_object_names_it_and_what_expired_it(session, User, causes):
    sandy = session.get(User, 2)
    session.commit()
    sandy.name
    session.expire(sandy)
    sandy.name
    session.rollback()
    sandy.name
    session.execute(update(User).where(User.id == 2).values(name=func.upper(User.name)))
    sandy.name
    reloads = [cause for kind, cause in causes if cause and cause.startswith("load expired")]
    assert reloads == [
        "load expired attributes of User(id=2), expired by Session.commit()",
        "load expired attributes of User(id=2), expired by Session.expire()",
        "load expired attributes of User(id=2), expired by the rollback",
        "load expired attributes of User(id=2), expired by an ORM-enabled UPDATE",
    ]


def test_every_statement_of_the_tutorial_story_has_a_cause(engine, User, causes):
    with Session(engine) as session:
        squidward = User(name="squidward")
        session.add(squidward)
        session.commit()
        squidward.name
        sandy = session.scalars(select(User).filter_by(name="sandy")).one()
        sandy.fullname = "Sandy Squirrel"
        session.execute(select(User.fullname)).all()
        session.delete(session.get(User, 3))
        session.flush()
        session.rollback()
        sandy.fullname
    assert [kind for kind, cause in causes if not cause] == []
