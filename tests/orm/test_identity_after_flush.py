"""What a flush does to the identity map beyond adding new objects: a changed primary key moves
the object's identity key, flushed objects are held weakly for the rest of the transaction
(while ``rollback()`` still finds them), and a row whose key was reused behind the session's
back replaces the stale object instead of failing.  Each behaviour checked against
SQLAlchemy 2.1.
"""

import gc
import warnings
import weakref

import pytest

from minialchemy import delete, func, inspect, select, text
from minialchemy.exc import SAWarning


def rows(session, sql):
    return session.execute(text(sql)).all()


# --- a changed primary key ------------------------------------------------------------


def test_changing_the_primary_key_moves_the_identity_key(session, User):
    patrick = session.get(User, 3)
    patrick.id = 100
    session.commit()

    assert session.get(User, 100) is patrick
    assert session.get(User, 3) is None
    assert inspect(patrick).identity == (100,)


def test_an_object_whose_primary_key_changed_can_change_again(session, User):
    patrick = session.get(User, 3)
    patrick.id = 100
    session.commit()

    patrick.name = "patrick star"
    session.commit()

    assert rows(session, "SELECT id, name FROM user_account WHERE name LIKE 'patrick%'") == [
        (100, "patrick star")
    ]


def test_a_flushed_primary_key_change_moves_the_key_before_commit(session, User):
    patrick = session.get(User, 3)
    patrick.id = 100
    session.flush()

    assert session.get(User, 100) is patrick
    assert patrick not in session.dirty


def test_rollback_gives_back_the_primary_key_a_flush_changed(session, User):
    patrick = session.get(User, 3)
    patrick.id = 300
    session.flush()

    session.rollback()

    assert patrick.id == 3
    assert session.get(User, 3) is patrick
    assert session.get(User, 300) is None


def test_loaded_children_follow_a_changed_primary_key_in_memory_only(session, User):
    sandy = session.get(User, 2)
    addresses = list(sandy.addresses)  # loaded children
    sandy.id = 200
    session.flush()

    # as SQLAlchemy (passive_updates): the key's UPDATE is the database's to cascade, so the
    # loaded children show the new key, and nothing UPDATEs their rows
    assert [address.user_id for address in addresses] == [200, 200]
    assert not session.dirty
    assert rows(session, "SELECT id, user_id FROM address ORDER BY id") == [(1, 1), (2, 2), (3, 2)]


def test_children_that_are_not_loaded_are_left_to_the_database(session, User, Address):
    sandy = session.get(User, 2)  # sandy.addresses not loaded
    sandy.id = 200
    session.commit()

    assert rows(session, "SELECT id, user_id FROM address ORDER BY id") == [(1, 1), (2, 2), (3, 2)]
    assert session.get(Address, 2).user_id == 2


# --- flushed objects are held weakly ---------------------------------------------------


def test_a_long_transaction_does_not_keep_flushed_objects_alive(session, User):
    # the measure of benchmarks/report.py --insert ("objects alive after 10 flushes of 5 000
    # in one transaction, before commit"): none, and not even a garbage collection is needed
    # to free them (no reference cycle holds a flushed object)
    watchers = []
    for flush_number in range(10):
        batch = [User(name=f"user {flush_number}-{n}") for n in range(5000)]
        session.add_all(batch)
        session.flush()
        watchers.extend(weakref.ref(user) for user in batch)
        del batch

    assert sum(1 for watcher in watchers if watcher() is not None) == 0
    gc.collect()
    assert len(session.identity_map) == 0
    assert session.scalar(select(User.name).where(User.id == 50_003)) == "user 9-4999"
    session.commit()
    assert session.scalar(select(func.count()).select_from(User)) == 50_003


def test_rollback_makes_flushed_new_objects_that_are_still_alive_transient(session, User):
    kept = User(name="squidward")
    session.add_all([kept, *[User(name=f"dropped {n}") for n in range(100)]])
    session.flush()
    assert inspect(kept).persistent
    gc.collect()

    session.rollback()

    assert inspect(kept).transient
    assert inspect(kept).key is None
    assert kept not in session
    assert rows(session, "SELECT count(*) FROM user_account") == [(3,)]


def test_an_object_expunged_after_its_insert_becomes_transient_at_rollback(session, User):
    squidward = User(name="squidward")
    session.add(squidward)
    session.flush()
    session.expunge(squidward)

    session.rollback()

    assert inspect(squidward).transient


# --- a key reused behind the session's back -----------------------------------------------


def test_a_new_row_reusing_the_id_of_an_expired_object_replaces_it(session, User):
    sandy = session.get(User, 2)
    session.execute(text("DELETE FROM address WHERE user_id = 2"))
    session.execute(text("DELETE FROM user_account WHERE id = 2"))
    session.commit()  # sandy is expired; her row is gone

    newcomer = User(id=2, name="new sandy")
    session.add(newcomer)
    session.commit()

    assert session.get(User, 2) is newcomer
    assert newcomer.name == "new sandy"
    assert inspect(sandy).detached


def reinsert_spongebob_behind_the_sessions_back(session, User):
    """Load spongebob, delete his row with an unsynchronised ORM delete() (he stays in the
    identity map, expired), then flush a new object reusing his id; return both."""
    spongebob = session.get(User, 1)
    session.execute(text("DELETE FROM address WHERE user_id = 1"))
    session.execute(delete(User).where(User.id == 1), execution_options={"synchronize_session": False})
    session.expire(spongebob)
    newcomer = User(id=1, name="new spongebob")
    session.add(newcomer)
    session.flush()
    return spongebob, newcomer


def test_a_row_deleted_without_synchronisation_can_be_inserted_again(session, User):
    spongebob, newcomer = reinsert_spongebob_behind_the_sessions_back(session, User)

    assert session.get(User, 1) is newcomer
    assert inspect(spongebob).deleted  # its row is gone: detached at commit
    session.commit()
    assert inspect(spongebob).detached


def test_rollback_brings_back_an_object_a_reused_row_displaced(session, User):
    spongebob, newcomer = reinsert_spongebob_behind_the_sessions_back(session, User)

    session.rollback()

    assert inspect(newcomer).transient
    assert session.get(User, 1) is spongebob
    assert spongebob.name == "spongebob"


def test_an_identity_clash_found_after_a_flush_warns_and_keeps_the_flushed_object(session, User):
    patrick = session.get(User, 3)  # loaded, not expired
    session.execute(text("DELETE FROM user_account WHERE id = 3"))

    newcomer = User(id=3, name="new patrick")
    session.add(newcomer)
    # two warnings, as in SQLAlchemy: before the INSERT (the key is held by a loaded object),
    # and after it (the row was gone, so the INSERT worked and the map changes hands)
    with pytest.warns(SAWarning, match=r"Identity map already had an identity for .*\(3,\)"):
        with pytest.warns(SAWarning, match=r"conflicts with persistent instance"):
            session.flush()

    assert session.get(User, 3) is newcomer
    assert inspect(patrick).persistent  # as in SQLAlchemy: still in the session, out of the map
    assert rows(session, "SELECT name FROM user_account WHERE id = 3") == [("new patrick",)]


def test_a_clash_never_raises_a_raw_value_error(session, User):
    patrick = session.get(User, 3)  # noqa: F841 (kept alive: held weakly by the identity map)
    session.execute(text("DELETE FROM user_account WHERE id = 3"))
    session.add(User(id=3, name="new patrick"))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        session.commit()

    assert rows(session, "SELECT name FROM user_account WHERE id = 3") == [("new patrick",)]
