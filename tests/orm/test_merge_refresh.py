"""``Session.merge()``, ``refresh(obj, attribute_names)`` and ``populate_existing``: bringing
outside state into the session, and database state over the session's.  Checked against
SQLAlchemy 2.1."""

import pytest

from minialchemy import select
from minialchemy.exc import ArgumentError, InvalidRequestError
from minialchemy.orm import Session


def detached(engine, entity, ident, *, with_addresses=False):
    """An object loaded by another session, then detached (the session closed)."""
    with Session(engine) as other:
        obj = other.get(entity, ident)
        if with_addresses:
            obj.addresses
    return obj


# --- merge -------------------------------------------------------------------------------------


def test_merge_of_a_detached_object_returns_the_sessions_own_copy(engine, session, User, sql_log):
    sandy = detached(engine, User, 2)
    sandy.fullname = "Sandy Merged"
    sql_log.clear()
    merged = session.merge(sandy)
    assert merged is not sandy
    assert merged is session.get(User, 2)
    assert merged.fullname == "Sandy Merged"
    assert merged in session.dirty
    assert sandy not in session
    assert len(sql_log.queries) == 1  # the SELECT that loaded the session's copy


def test_merge_copies_onto_the_object_already_in_the_identity_map(engine, session, User, sql_log):
    mine = session.get(User, 2)
    sandy = detached(engine, User, 2)
    sandy.name = "sandy2"
    sql_log.clear()
    assert session.merge(sandy) is mine
    assert mine.name == "sandy2"
    assert sql_log.queries == []


def test_merge_of_an_unchanged_object_changes_nothing(engine, session, User):
    merged = session.merge(detached(engine, User, 2))
    assert not session.is_modified(merged)


def test_merge_of_a_new_object_adds_a_pending_copy(session, User):
    squidward = User(name="squidward", fullname="Squidward Tentacles")
    merged = session.merge(squidward)
    assert merged is not squidward
    assert merged in session.new
    assert squidward not in session
    assert merged.name == "squidward"
    session.flush()
    assert session.get(User, merged.id) is merged


def test_merge_of_an_object_with_an_unknown_primary_key_adds_it_as_new(session, User, sql_log):
    merged = session.merge(User(id=99, name="plankton"))
    assert merged in session.new
    assert merged.id == 99
    assert sql_log.queries[0].startswith("SELECT")  # looked for row 99 first


def test_merge_cascades_to_loaded_collections(engine, session, User, Address):
    sandy = detached(engine, User, 2, with_addresses=True)
    sandy.addresses[0].email_address = "merged@example.org"
    merged = session.merge(sandy)
    assert [a is session.get(Address, a.id) for a in merged.addresses] == [True, True]
    assert "merged@example.org" in [a.email_address for a in merged.addresses]


def test_merge_without_load_sends_no_sql(engine, session, User, sql_log):
    patrick = detached(engine, User, 3)
    sql_log.clear()
    merged = session.merge(patrick, load=False)
    assert sql_log.queries == []
    assert merged.name == "patrick"
    assert merged not in session.dirty and merged not in session.new
    assert session.get(User, 3) is merged


def test_merge_without_load_refuses_a_modified_object(engine, session, User):
    patrick = detached(engine, User, 3)
    patrick.name = "changed"
    with pytest.raises(InvalidRequestError, match="load=False"):
        session.merge(patrick, load=False)


def test_merge_without_load_refuses_a_transient_object(session, User):
    with pytest.raises(InvalidRequestError, match="load=False"):
        session.merge(User(name="plankton"), load=False)


def test_merge_of_an_object_of_this_session_returns_it(session, User):
    sandy = session.get(User, 2)
    assert session.merge(sandy) is sandy


# --- refresh(attribute_names) -----------------------------------------------------------------


def test_refresh_of_named_attributes_reloads_only_those(session, User, sql_log):
    sandy = session.get(User, 2)
    sandy.name = "changed"
    with session.no_autoflush:
        sql_log.clear()
        session.refresh(sandy, ["name"])
    assert sandy.name == "sandy"
    assert sql_log.queries == [
        "SELECT user_account.name \nFROM user_account \nWHERE user_account.id = ?"
    ]


def test_refresh_of_a_relationship_loads_it_now(session, User, sql_log):
    sandy = session.get(User, 2)
    sql_log.clear()
    session.refresh(sandy, ["addresses"])
    assert "addresses" in sandy.__dict__
    assert len(sql_log.queries) == 2  # the row is still there; then the collection
    sql_log.clear()
    assert len(sandy.addresses) == 2
    assert sql_log.queries == []


@pytest.mark.minialchemy_only
def test_refresh_of_an_unknown_attribute_names_it(session, User):
    sandy = session.get(User, 2)
    with pytest.raises(ArgumentError, match="'nickname'"):
        session.refresh(sandy, ["nickname"])


# --- populate_existing -------------------------------------------------------------------------


def test_get_with_populate_existing_reloads_the_object(session, User, sql_log):
    sandy = session.get(User, 2)
    # a change the ORM does not see: SQL sent directly on the session's connection
    session.connection().exec_driver_sql("UPDATE user_account SET fullname = 'Elsewhere' WHERE id = 2")
    assert session.get(User, 2).fullname == "Sandy Cheeks"  # the identity map's object, as it was
    sql_log.clear()
    again = session.get(User, 2, populate_existing=True)
    assert again is sandy
    assert sandy.fullname == "Elsewhere"
    assert len(sql_log.queries) == 1


def test_select_without_populate_existing_keeps_unflushed_changes(session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "mine"
    with session.no_autoflush:
        session.scalars(select(User).where(User.id == 2)).one()
    assert sandy.fullname == "mine"


def test_select_with_populate_existing_overwrites_unflushed_changes(session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "mine"
    with session.no_autoflush:
        statement = select(User).where(User.id == 2).execution_options(populate_existing=True)
        assert session.scalars(statement).one() is sandy
    assert sandy.fullname == "Sandy Cheeks"
    assert sandy not in session.dirty


# --- unique() ------------------------------------------------------------------------------------


def test_scalars_unique_drops_repeated_objects(session, User, Address):
    users = session.scalars(select(User, Address).where(User.id == Address.user_id)).unique().all()
    assert len(users) == 2
    assert users[0] is session.get(User, 1) and users[1] is session.get(User, 2)
