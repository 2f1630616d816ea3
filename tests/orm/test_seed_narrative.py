"""The tutorial "Data Manipulation with the ORM", step by step, in one test.

Each step runs what the tutorial runs and checks what it shows: the objects'
states, the identity map, and the SQL the Session emits (INSERTs are checked by
table and result only, since the number of INSERT statements is a strategy
choice; the other statements are checked word for word).
"""

import pytest

from minialchemy import delete, inspect, select, update
from minialchemy.orm import Session
from minialchemy.orm.exc import DetachedInstanceError

SELECT_USER_BY_NAME = (
    "SELECT user_account.id, user_account.name, user_account.fullname \n"
    "FROM user_account \n"
    "WHERE user_account.name = ?"
)
SELECT_USER_BY_ID = (
    "SELECT user_account.id, user_account.name, user_account.fullname \n"
    "FROM user_account \n"
    "WHERE user_account.id = ?"
)


def mapped_keys_in_dict(obj):
    """The mapped attribute names present in ``obj.__dict__`` (not the internal state)."""
    return {key for key in ("id", "name", "fullname", "addresses") if key in vars(obj)}


def test_data_manipulation_with_the_orm(engine, User, sql_log):
    # --- Instances of classes represent rows: transient objects --------------------------
    squidward = User(name="squidward", fullname="Squidward Tentacles")
    krabs = User(name="ehkrabs", fullname="Eugene H. Krabs")
    assert repr(squidward) == "User(id=None, name='squidward', fullname='Squidward Tentacles')"
    assert squidward.id is None
    assert inspect(squidward).transient and inspect(krabs).transient

    # --- Adding objects to a Session: pending, shown in Session.new -----------------------
    session = Session(engine)
    session.add(squidward)
    session.add(krabs)
    assert inspect(squidward).pending and inspect(krabs).pending
    assert type(session.new).__name__ == "IdentitySet"
    assert repr(session.new) == (
        "IdentitySet(["
        "User(id=None, name='squidward', fullname='Squidward Tentacles'), "
        "User(id=None, name='ehkrabs', fullname='Eugene H. Krabs')"
        "])"
    )
    assert sql_log.queries == []  # nothing is sent before the flush

    # --- Flushing: INSERTs in a new transaction, primary keys come back -------------------
    session.flush()
    assert sql_log.statements[0].startswith("BEGIN")
    assert set(sql_log.kinds) == {"INSERT"}  # one INSERT per row, or one for both rows
    assert all("INSERT INTO user_account" in sql for sql in sql_log.queries)
    assert squidward.id == 4
    assert krabs.id == 5
    assert inspect(squidward).persistent and inspect(krabs).persistent
    assert len(session.new) == 0

    # --- Getting objects by primary key from the identity map: no SQL ---------------------
    sql_log.clear()
    some_squidward = session.get(User, 4)
    assert some_squidward is squidward
    assert repr(some_squidward) == "User(id=4, name='squidward', fullname='Squidward Tentacles')"
    assert sql_log.statements == []

    # --- Committing: COMMIT, then every attribute is expired ------------------------------
    session.commit()
    assert sql_log.statements == ["COMMIT"]
    assert len(squidward.__dict__) == 1  # only the internal state object is left
    assert mapped_keys_in_dict(squidward) == set()

    # The next attribute access starts a new transaction and reloads the row.
    sql_log.clear()
    assert squidward.name == "squidward"
    assert sql_log.queries == [SELECT_USER_BY_ID]
    assert sql_log.statements[0].startswith("BEGIN")

    # --- Updating ORM objects: dirty tracking and autoflush ------------------------------
    sql_log.clear()
    sandy = session.execute(select(User).filter_by(name="sandy")).scalar_one()
    assert sql_log.queries == [SELECT_USER_BY_NAME]
    assert repr(sandy) == "User(id=2, name='sandy', fullname='Sandy Cheeks')"

    sandy.fullname = "Sandy Squirrel"
    assert sandy in session.dirty

    sql_log.clear()
    sandy_fullname = session.execute(select(User.fullname).where(User.id == 2)).scalar_one()
    assert sandy_fullname == "Sandy Squirrel"
    assert sql_log.queries == [
        "UPDATE user_account SET fullname=? WHERE user_account.id = ?",  # the autoflush
        "SELECT user_account.fullname \nFROM user_account \nWHERE user_account.id = ?",
    ]
    assert sandy not in session.dirty

    # --- ORM-enabled UPDATE: matching objects in the session are refreshed ----------------
    sql_log.clear()
    session.execute(
        update(User)
        .where(User.name == "sandy")
        .values(fullname="Sandy Squirrel Extraordinaire")
    )
    # SQLAlchemy's default synchronize_session="auto" evaluates the WHERE in Python
    # here, so the UPDATE is sent as is (no RETURNING, no extra SELECT).
    assert sql_log.queries == ["UPDATE user_account SET fullname=? WHERE user_account.name = ?"]
    sql_log.clear()
    assert sandy.fullname == "Sandy Squirrel Extraordinaire"
    assert sql_log.statements == []  # the new value was set in memory, not reloaded
    assert sandy not in session.dirty

    # --- Deleting ORM objects: Session.delete() waits for the flush -----------------------
    sql_log.clear()
    patrick = session.get(User, 3)  # not in the identity map yet: a SELECT
    assert sql_log.queries == [SELECT_USER_BY_ID]
    session.delete(patrick)
    assert patrick in session  # nothing happens until the flush

    sql_log.clear()
    assert session.execute(select(User).where(User.name == "patrick")).first() is None
    # Cascade first loads patrick's addresses (to set their user_id to NULL), then
    # the DELETE, then the SELECT that triggered the autoflush.
    assert sql_log.queries == [
        "SELECT address.id, address.email_address, address.user_id \n"
        "FROM address \n"
        "WHERE ? = address.user_id",
        "DELETE FROM user_account WHERE user_account.id = ?",
        SELECT_USER_BY_NAME,
    ]
    assert patrick not in session

    # --- ORM-enabled DELETE: matching (non-expired) objects are marked deleted -----------
    squidward = session.scalars(select(User).filter_by(name="squidward")).one()
    sql_log.clear()
    session.execute(delete(User).where(User.name == "squidward"))
    assert sql_log.queries == ["DELETE FROM user_account WHERE user_account.name = ?"]
    assert squidward not in session
    assert inspect(squidward).deleted

    # --- Rolling back: ROLLBACK, every object expired, deletions undone ------------------
    sql_log.clear()
    session.rollback()
    assert sql_log.statements == ["ROLLBACK"]
    assert len(sandy.__dict__) == 1
    assert mapped_keys_in_dict(sandy) == set()

    sql_log.clear()
    assert sandy.fullname == "Sandy Cheeks"  # lazily reloaded in a new transaction
    assert sql_log.statements[0].startswith("BEGIN")
    assert sql_log.queries == [SELECT_USER_BY_ID]
    assert {"id", "name", "fullname"} <= set(sandy.__dict__)
    assert sandy.__dict__["name"] == "sandy"

    assert patrick in session
    assert session.execute(select(User).where(User.name == "patrick")).scalar_one() is patrick

    # --- Closing a Session: objects become detached --------------------------------------
    session.close()
    # squidward was expired by the rollback: a detached object has nothing to load from.
    assert inspect(squidward).detached
    with pytest.raises(DetachedInstanceError):
        squidward.name

    # --- Re-adding a detached object to a (new) Session ----------------------------------
    session = Session(engine)
    session.add(squidward)
    assert squidward.name == "squidward"
    session.close()
