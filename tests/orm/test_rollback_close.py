"""Rolling back and closing: what happens to the objects of a Session when its
transaction ends without a commit, and what a detached object can still do."""

import pytest

from minialchemy import inspect, select
from minialchemy.orm import Session
from minialchemy.orm.exc import DetachedInstanceError

MAPPED_ATTRIBUTES = {"id", "name", "fullname", "addresses"}


def test_rollback_expires_every_object(session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    session.flush()
    session.rollback()
    assert MAPPED_ATTRIBUTES.isdisjoint(vars(sandy))
    assert sandy.fullname == "Sandy Cheeks"


def test_rollback_expires_unflushed_changes_too(session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    session.rollback()
    assert sandy not in session.dirty
    assert sandy.fullname == "Sandy Cheeks"


def test_rollback_expunges_objects_added_in_the_transaction(session, User):
    squidward = User(name="squidward")
    session.add(squidward)
    session.flush()
    session.rollback()
    assert squidward not in session
    assert inspect(squidward).transient
    assert inspect(squidward).identity is None
    assert session.get(User, 4) is None


def test_rollback_keeps_the_flushed_id_value_on_the_transient_object(session, User):
    # SQLAlchemy forgets the object's identity but leaves the attribute values,
    # including the primary key that the rolled-back INSERT produced.
    squidward = User(name="squidward")
    session.add(squidward)
    session.flush()
    session.rollback()
    assert squidward.id == 4
    assert squidward.name == "squidward"


def test_rollback_restores_deleted_objects(session, User):
    patrick = session.get(User, 3)
    session.delete(patrick)
    session.flush()
    assert patrick not in session
    session.rollback()
    assert patrick in session
    assert patrick.name == "patrick"
    assert session.scalars(select(User).where(User.id == 3)).one() is patrick


def test_close_detaches_every_object(session, User):
    sandy = session.get(User, 2)
    squidward = User(name="squidward")
    session.add(squidward)
    session.close()
    assert inspect(sandy).detached
    assert inspect(squidward).transient
    assert len(session.identity_map) == 0


def test_close_rolls_back_the_transaction(engine, session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    session.flush()
    session.close()
    with Session(engine) as other:
        assert other.get(User, 2).fullname == "Sandy Cheeks"


def test_detached_object_keeps_its_loaded_values(session, User):
    sandy = session.get(User, 2)
    session.close()
    assert sandy.fullname == "Sandy Cheeks"


def test_detached_expired_attribute_raises_detached_instance_error(session, User):
    sandy = session.get(User, 2)
    session.commit()
    session.close()
    with pytest.raises(DetachedInstanceError, match="User at 0x"):
        sandy.fullname


def test_readding_a_detached_object_reloads_it(engine, session, User):
    sandy = session.get(User, 2)
    session.commit()
    session.close()
    with Session(engine) as other:
        other.add(sandy)
        assert sandy.fullname == "Sandy Cheeks"
        assert other.get(User, 2) is sandy


def test_session_is_usable_after_close(session, User):
    session.get(User, 2)
    session.close()
    assert session.get(User, 1).name == "spongebob"


@pytest.mark.minialchemy_only
def test_detached_instance_error_says_what_to_do(session, User):
    # minialchemy-specific wording (STYLE.md: an error says what happened and what to do)
    sandy = session.get(User, 2)
    session.commit()
    session.close()
    with pytest.raises(DetachedInstanceError, match=r"session\.add\(") as excinfo:
        sandy.fullname
    assert "is not bound to a Session" in str(excinfo.value)
