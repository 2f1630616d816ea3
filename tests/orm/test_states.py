"""Object states, as ``inspect(obj)`` reports them: transient, pending, persistent,
deleted and detached, and which attributes are expired."""

from minialchemy import inspect, select
from minialchemy.orm import Session


def states(obj):
    """The names of the states ``inspect(obj)`` reports as True."""
    insp = inspect(obj)
    names = ("transient", "pending", "persistent", "deleted", "detached")
    return [name for name in names if getattr(insp, name)]


def test_new_object_is_transient(User):
    squidward = User(name="squidward")
    insp = inspect(squidward)
    assert states(squidward) == ["transient"]
    assert insp.session is None
    assert insp.identity is None


def test_added_object_is_pending(session, User):
    squidward = User(name="squidward")
    session.add(squidward)
    insp = inspect(squidward)
    assert states(squidward) == ["pending"]
    assert insp.session is session
    assert insp.identity is None


def test_flushed_object_is_persistent_with_an_identity(session, User):
    squidward = User(name="squidward")
    session.add(squidward)
    session.flush()
    insp = inspect(squidward)
    assert states(squidward) == ["persistent"]
    assert insp.identity == (4,)
    assert insp.session is session


def test_loaded_object_is_persistent(session, User):
    sandy = session.scalars(select(User).where(User.name == "sandy")).one()
    assert states(sandy) == ["persistent"]
    assert inspect(sandy).identity == (2,)


def test_object_marked_for_deletion_stays_persistent_until_the_flush(session, User):
    patrick = session.get(User, 3)
    session.delete(patrick)
    assert states(patrick) == ["persistent"]
    assert patrick in session.deleted


def test_flushed_deletion_makes_the_object_deleted(session, User):
    patrick = session.get(User, 3)
    session.delete(patrick)
    session.flush()
    assert states(patrick) == ["deleted"]
    assert inspect(patrick).session is session
    assert patrick not in session


def test_committed_deletion_makes_the_object_detached(session, User):
    patrick = session.get(User, 3)
    session.delete(patrick)
    session.commit()
    assert states(patrick) == ["detached"]
    assert inspect(patrick).session is None


def test_rolled_back_deletion_makes_the_object_persistent_again(session, User):
    patrick = session.get(User, 3)
    session.delete(patrick)
    session.flush()
    session.rollback()
    assert states(patrick) == ["persistent"]
    assert patrick in session


def test_rolled_back_insert_makes_the_object_transient_again(session, User):
    squidward = User(name="squidward")
    session.add(squidward)
    session.flush()
    session.rollback()
    assert states(squidward) == ["transient"]
    assert inspect(squidward).identity is None
    assert inspect(squidward).session is None


def test_rolled_back_pending_object_is_transient_again(session, User):
    squidward = User(name="squidward")
    session.add(squidward)
    session.rollback()
    assert states(squidward) == ["transient"]


def test_expunged_object_is_detached(session, User):
    sandy = session.get(User, 2)
    session.expunge(sandy)
    assert states(sandy) == ["detached"]
    assert inspect(sandy).identity == (2,)  # a detached object remembers its row
    assert inspect(sandy).session is None


def test_expunged_pending_object_is_transient(session, User):
    squidward = User(name="squidward")
    session.add(squidward)
    session.expunge(squidward)
    assert states(squidward) == ["transient"]


def test_closing_the_session_detaches_its_objects(session, User):
    sandy = session.get(User, 2)
    session.close()
    assert states(sandy) == ["detached"]
    assert inspect(sandy).session is None


def test_re_adding_a_detached_object_makes_it_persistent(engine, session, User):
    sandy = session.get(User, 2)
    session.close()
    with Session(engine) as other:
        other.add(sandy)
        assert states(sandy) == ["persistent"]
        assert inspect(sandy).session is other


def test_loaded_object_has_no_expired_attributes(session, User):
    sandy = session.get(User, 2)
    assert inspect(sandy).expired_attributes == set()


def test_commit_expires_every_attribute(session, User):
    sandy = session.get(User, 2)
    session.commit()
    assert states(sandy) == ["persistent"]
    assert inspect(sandy).expired_attributes == {"id", "name", "fullname", "addresses"}


def test_expire_one_attribute_lists_only_that_attribute(session, User):
    sandy = session.get(User, 2)
    session.expire(sandy, ["fullname"])
    assert inspect(sandy).expired_attributes == {"fullname"}


def test_reload_clears_the_expired_attributes(session, User):
    sandy = session.get(User, 2)
    session.commit()
    sandy.name
    # the collection is not loaded by the refresh, but it is no longer "expired"
    # either: it will lazy load on first access, like in a freshly loaded object
    assert inspect(sandy).expired_attributes == set()
