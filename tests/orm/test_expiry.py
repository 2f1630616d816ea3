"""Expiry: after a commit an object's attributes are forgotten and reloaded from the
row, in a new transaction, on next access."""

import sqlite3

import pytest

from minialchemy.orm import Session
from minialchemy.orm.exc import ObjectDeletedError

MAPPED_ATTRIBUTES = {"id", "name", "fullname", "addresses"}
RENAME_SANDY = "UPDATE user_account SET fullname = 'Sandy Squirrel' WHERE id = 2"
DELETE_PATRICK = "DELETE FROM user_account WHERE id = 3"


def run_on_another_connection(path, sql):
    """Run and commit ``sql`` on a separate raw sqlite3 connection to the same file."""
    other = sqlite3.connect(path)
    try:
        other.execute(sql)
        other.commit()
    finally:
        other.close()


def test_commit_expires_attributes(session, User):
    sandy = session.get(User, 2)
    session.commit()
    assert MAPPED_ATTRIBUTES.isdisjoint(vars(sandy))


def test_expired_object_reloads_in_a_new_transaction(session, User, sql_log):
    sandy = session.get(User, 2)
    session.commit()
    sql_log.clear()
    assert sandy.fullname == "Sandy Cheeks"
    assert sql_log.statements[0].startswith("BEGIN")
    assert sql_log.queries == [
        "SELECT user_account.id, user_account.name, user_account.fullname \n"
        "FROM user_account \n"
        "WHERE user_account.id = ?"
    ]
    assert {"id", "name", "fullname"} <= set(vars(sandy))


def test_expire_on_commit_false_keeps_values(engine, User, sql_log):
    with Session(engine, expire_on_commit=False) as session:
        sandy = session.get(User, 2)
        session.commit()
        sql_log.clear()
        assert sandy.fullname == "Sandy Cheeks"
        assert sql_log.statements == []


def test_expire_on_commit_false_keeps_values_after_close(engine, User):
    with Session(engine, expire_on_commit=False) as session:
        squidward = User(name="squidward", fullname="Squidward Tentacles")
        session.add(squidward)
        session.commit()
    assert (squidward.id, squidward.name) == (4, "squidward")  # detached but usable


def test_reload_sees_changes_committed_by_another_connection(file_engine_factory, User):
    engine = file_engine_factory()
    with Session(engine) as session:
        sandy = session.get(User, 2)
        session.commit()
        run_on_another_connection(file_engine_factory.path, RENAME_SANDY)
        assert sandy.fullname == "Sandy Squirrel"


def test_unexpired_object_does_not_see_another_connections_changes(file_engine_factory, User):
    engine = file_engine_factory()
    with Session(engine, expire_on_commit=False) as session:
        sandy = session.get(User, 2)
        session.commit()
        run_on_another_connection(file_engine_factory.path, RENAME_SANDY)
        assert sandy.fullname == "Sandy Cheeks"  # stale until expired or refreshed
        session.refresh(sandy)
        assert sandy.fullname == "Sandy Squirrel"


def test_row_deleted_by_another_connection_raises_on_access(file_engine_factory, User):
    engine = file_engine_factory()
    with Session(engine) as session:
        patrick = session.get(User, 3)
        session.commit()
        run_on_another_connection(file_engine_factory.path, DELETE_PATRICK)
        with pytest.raises(ObjectDeletedError, match="User at 0x"):
            patrick.name
