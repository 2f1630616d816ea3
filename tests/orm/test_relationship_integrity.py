"""Relationship changes the session cannot honour are refused at once, with nothing changed,
and the flush writes foreign keys as SQLAlchemy 2.x does.  Each case was run on SQLAlchemy 2.1
first; these tests hold minialchemy to the same outcome."""

import pytest

from minialchemy import select, text
from minialchemy.exc import InvalidRequestError
from minialchemy.orm import Session


def address_rows(engine):
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text("SELECT id, user_id FROM address ORDER BY id"))]


# --- objects of another session ------------------------------------------------------------


def test_appending_an_object_of_another_session_is_refused_at_the_append(engine, User, Address):
    session_a, session_b = Session(engine), Session(engine)
    address = session_a.get(Address, 1)
    sandy = session_b.get(User, 2)
    with pytest.raises(InvalidRequestError, match="already attached to session"):
        sandy.addresses.append(address)
    assert address not in sandy.addresses
    assert address.user.name == "spongebob"
    assert not session_a.dirty and not session_b.dirty
    session_b.commit()
    session_a.commit()
    assert address_rows(engine)[0] == (1, 1)


def test_setting_a_many_to_one_to_an_object_of_another_session_is_refused(engine, User, Address):
    session_a, session_b = Session(engine), Session(engine)
    address = session_a.get(Address, 1)
    sandy = session_b.get(User, 2)
    with pytest.raises(InvalidRequestError, match="already attached to session"):
        address.user = sandy
    assert "user" not in address.__dict__ or address.user is not sandy
    assert not session_a.dirty
    session_a.commit()
    assert address_rows(engine)[0] == (1, 1)


# --- no cascade along the backref (SQLAlchemy 2.x) -------------------------------------------


def test_a_new_address_given_a_persistent_user_stays_out_of_the_session(session, User, Address):
    spongebob = session.get(User, 1)
    address = Address(email_address="new@sqlalchemy.org", user=spongebob)
    later = Address(email_address="later@sqlalchemy.org")
    later.user = spongebob
    assert address not in session and later not in session
    assert list(session.new) == []
    session.commit()
    assert session.scalars(select(Address.email_address).order_by(Address.id)).all() == [
        "spongebob@sqlalchemy.org", "sandy@sqlalchemy.org", "sandy@squirrelpower.org",
    ]


def test_appending_to_the_collection_of_a_persistent_user_adds_the_address(session, User, Address):
    spongebob = session.get(User, 1)
    address = Address(email_address="new@sqlalchemy.org")
    spongebob.addresses.append(address)
    assert address in session.new


def test_a_transient_user_given_a_persistent_address_stays_out(engine, session, User, Address):
    address = session.get(Address, 1)
    newcomer = User(id=7, name="newcomer")
    newcomer.addresses.append(address)
    assert newcomer not in session
    session.commit()
    assert address_rows(engine)[0] == (1, 1)  # the foreign key is not pointed at a row never written


# --- refused assignments are not half-applied ----------------------------------------------


def test_assigning_a_second_object_for_a_held_row_changes_nothing(engine, session, User, Address):
    other = Session(engine)
    detached_sandy = other.get(User, 2)
    other.close()
    sandy = session.get(User, 2)  # the session holds its own object for row 2
    address = session.get(Address, 1)
    spongebob = address.user
    spongebob.addresses  # loaded: the address would leave it first
    with pytest.raises(InvalidRequestError, match="already present in this session"):
        address.user = detached_sandy
    assert address.user is spongebob
    assert address in spongebob.addresses
    assert not session.dirty and sandy.addresses == [session.get(Address, 2), session.get(Address, 3)]
    session.commit()
    assert address_rows(engine)[0] == (1, 1)


@pytest.mark.parametrize("how", ["marked", "flushed", "committed"])
def test_assigning_a_deleted_user_is_refused(engine, session, User, Address, how):
    patrick = session.get(User, 3)
    session.delete(patrick)
    if how == "flushed":
        session.flush()
    elif how == "committed":
        session.commit()
    address = session.get(Address, 1)
    with pytest.raises(InvalidRequestError, match="deleted"):
        address.user = patrick
    assert address.user_id == 1
    assert not session.dirty
    session.commit()
    assert address_rows(engine)[0] == (1, 1)


@pytest.mark.parametrize("flushed", [False, True])
def test_appending_to_a_deleted_user_is_refused(engine, session, User, Address, flushed):
    """Refused as relating an object to a deleted user is, from either side (SQLAlchemy
    accepts it and its flush writes no key: the objects then disagree with their rows;
    docs/differences.md)."""
    patrick = session.get(User, 3)
    patrick.addresses
    session.delete(patrick)
    if flushed:
        session.flush()
    address = session.get(Address, 1)
    with pytest.raises(InvalidRequestError, match="deleted|deletion"):
        patrick.addresses.append(address)
    assert address not in patrick.addresses and address.user_id == 1
    session.commit()
    assert address_rows(engine)[0] == (1, 1)


# --- foreign keys written directly -----------------------------------------------------------


def test_a_direct_foreign_key_write_wins_over_a_loaded_unchanged_many_to_one(engine, session, Address):
    address = session.get(Address, 1)
    address.user  # loaded
    address.user_id = None
    session.commit()
    assert address_rows(engine)[0] == (1, None)


def test_a_direct_foreign_key_write_wins_over_a_changed_parent(engine, session, User, Address):
    address = session.get(Address, 2)
    sandy = address.user
    sandy.addresses  # loaded, holds the address
    sandy.fullname = "Sandy Squirrel"  # sandy is flushed too
    address.user_id = 1
    session.commit()
    assert address_rows(engine)[1] == (2, 1)


def test_moving_an_address_to_a_detached_user_writes_that_users_key(engine, session, User, Address):
    other = Session(engine)
    detached_sandy = other.get(User, 2)
    other.close()
    address = session.get(Address, 1)
    address.user.addresses  # loaded: the address leaves it
    address.user = detached_sandy  # save-update cascade: sandy joins the session
    assert detached_sandy in session
    session.commit()
    assert address_rows(engine)[0] == (1, 2)
