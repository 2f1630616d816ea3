"""Session operations that must keep memory and database in step, as SQLAlchemy 2.1 does (each
case was run on SQLAlchemy first): autoflush before refresh() and textual SQL, what a failed
flush leaves behind, is_modified(), and the errors of refresh/expire/delete on deleted objects."""

import pytest

from minialchemy import delete, inspect, text
from minialchemy.exc import IntegrityError, InvalidRequestError, PendingRollbackError
from minialchemy.orm import Session


def states(*objects):
    names = ("transient", "pending", "persistent", "deleted", "detached")
    return [next(name for name in names if getattr(inspect(obj), name)) for obj in objects]


# --- autoflush ---------------------------------------------------------------------------------


def test_refresh_autoflushes_other_objects_changes(session, User):
    spongebob, sandy = session.get(User, 1), session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    session.refresh(spongebob)
    assert sandy not in session.dirty
    assert session.execute(text("SELECT fullname FROM user_account WHERE id = 2")).scalar() == "Sandy Squirrel"


def test_refresh_discards_the_refreshed_objects_own_changes(session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    session.refresh(sandy)
    assert sandy.fullname == "Sandy Cheeks"
    assert sandy not in session.dirty


def test_textual_sql_sees_the_sessions_pending_changes(session, User):
    spongebob = session.get(User, 1)
    spongebob.name = "bob"
    session.execute(text("UPDATE user_account SET fullname = name WHERE id = 1"))
    session.expire(spongebob)
    assert (spongebob.name, spongebob.fullname) == ("bob", "bob")


# --- a failed flush ----------------------------------------------------------------------------


def fail_a_flush(session, User):
    renamed = session.get(User, 1)
    renamed.name = "renamed"
    removed = session.get(User, 3)
    session.delete(removed)
    good, bad = User(id=5, name="good"), User(id=6, name=None)
    session.add_all([good, bad])
    with pytest.raises(IntegrityError):
        session.flush()
    return renamed, removed, good, bad


def test_a_failed_flush_reverts_the_objects_at_once(session, User):
    renamed, removed, good, bad = fail_a_flush(session, User)
    assert states(renamed, removed, good, bad) == ["persistent", "persistent", "transient", "transient"]
    assert not session.new and not session.dirty and not session.deleted
    assert "name" not in renamed.__dict__  # expired: it reloads after rollback()


def test_after_a_failed_flush_work_waits_for_rollback(session, User):
    renamed, *_ = fail_a_flush(session, User)
    session.flush()  # nothing to flush: nothing to refuse
    with pytest.raises(PendingRollbackError):
        renamed.name
    with pytest.raises(PendingRollbackError):
        session.commit()
    session.rollback()
    assert renamed.name == "spongebob"


# --- is_modified ---------------------------------------------------------------------------------


def test_is_modified_of_a_new_object_with_attributes_set(session, User):
    newcomer = User(name="newcomer")
    session.add(newcomer)
    assert session.is_modified(newcomer)


def test_is_modified_sees_collection_changes(session, User, Address):
    spongebob, sandy = session.get(User, 1), session.get(User, 2)
    spongebob.addresses, sandy.addresses  # loaded before the changes: a lazy load autoflushes
    sandy.addresses.remove(sandy.addresses[0])
    spongebob.addresses.append(Address(email_address="new@sqlalchemy.org"))
    assert session.is_modified(spongebob) and session.is_modified(sandy)
    assert not session.is_modified(spongebob, include_collections=False)


def test_is_modified_is_false_for_a_value_set_back(session, User):
    patrick = session.get(User, 3)
    patrick.name = patrick.name
    assert not session.is_modified(patrick)


# --- deleted objects -----------------------------------------------------------------------------


def test_refresh_of_an_object_marked_deleted_is_refused(session, User):
    """As in SQLAlchemy, the refresh autoflushes first: the DELETE is sent, then the SELECT
    finds no row (refused); the object is deleted (flushed), no longer marked."""
    patrick = session.get(User, 3)
    session.delete(patrick)
    with pytest.raises(InvalidRequestError, match="Could not refresh"):
        session.refresh(patrick)
    assert inspect(patrick).deleted
    assert patrick not in session.deleted


def test_refresh_of_an_object_marked_deleted_without_autoflush_reloads_it(session, User):
    patrick = session.get(User, 3)
    session.delete(patrick)
    with session.no_autoflush:
        session.refresh(patrick)
    assert patrick in session.deleted and inspect(patrick).persistent


def test_expire_of_an_object_whose_delete_was_flushed_is_refused(session, User):
    patrick = session.get(User, 3)
    session.delete(patrick)
    session.flush()
    with pytest.raises(InvalidRequestError, match="not persistent"):
        session.expire(patrick)


def test_deleting_a_deleted_and_committed_object_again_is_accepted(session, User):
    patrick = session.get(User, 3)
    session.delete(patrick)
    session.commit()
    session.delete(patrick)  # SQLAlchemy takes it back; its DELETE finds no row (a warning)
    assert patrick in session.deleted
    session.commit()
    assert states(patrick) == ["detached"]


def test_changing_an_object_whose_row_an_orm_delete_removed_writes_nothing(session, User):
    patrick = session.get(User, 3)
    session.execute(delete(User).where(User.id == 3))
    assert states(patrick) == ["deleted"]
    patrick.fullname = "Patrick Gone"
    assert patrick not in session.dirty
    session.commit()  # no UPDATE of the missing row, no StaleDataError
    assert states(patrick) == ["detached"]
    assert session.get(User, 3) is None


def test_a_lazy_many_to_one_to_a_row_an_orm_delete_removed_is_none(session, User, Address):
    address = session.get(Address, 1)
    spongebob = session.get(User, 1)
    session.execute(delete(User).where(User.id == 1))
    assert address.user is None
    assert spongebob not in session
