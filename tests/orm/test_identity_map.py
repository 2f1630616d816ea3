"""The Identity Map: one Python object per database row within a Session, held
weakly unless it has changes that still need flushing."""

import gc

from minialchemy import inspect, select
from minialchemy.orm import Session


def test_one_object_per_identity(session, User):
    by_get = session.get(User, 2)
    by_select = session.scalars(select(User).where(User.name == "sandy")).one()
    by_other_select = session.scalars(select(User).order_by(User.id)).all()[1]
    assert by_get is by_select is by_other_select


def test_query_returns_the_present_object_and_keeps_its_pending_changes(session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    with session.no_autoflush:
        again = session.scalars(select(User).where(User.id == 2)).one()
    # the row still says "Sandy Cheeks", but the unflushed change is not overwritten
    assert again is sandy
    assert sandy.fullname == "Sandy Squirrel"
    assert sandy in session.dirty


def test_each_session_has_its_own_objects(engine, session, User):
    sandy = session.get(User, 2)
    with Session(engine) as other:
        other_sandy = other.get(User, 2)
        assert other_sandy is not sandy
        assert inspect(other_sandy).identity_key == inspect(sandy).identity_key


def test_new_objects_enter_the_identity_map_at_flush(session, User):
    squidward = User(name="squidward")
    session.add(squidward)
    assert len(session.identity_map) == 0
    session.flush()
    assert len(session.identity_map) == 1
    assert session.get(User, 4) is squidward


def test_clean_objects_are_held_weakly(session, User):
    sandy = session.get(User, 2)
    assert len(session.identity_map) == 1
    del sandy
    gc.collect()
    assert len(session.identity_map) == 0


def test_modified_objects_are_held_strongly_until_flushed(session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    del sandy
    gc.collect()
    assert len(session.identity_map) == 1  # its change must still reach the database
    session.flush()
    gc.collect()
    assert len(session.identity_map) == 0
    assert session.get(User, 2).fullname == "Sandy Squirrel"


def test_pending_objects_are_held_strongly(session, User):
    session.add(User(name="squidward"))
    gc.collect()
    assert len(session.new) == 1
    session.flush()
    assert session.scalars(select(User.name).where(User.id == 4)).one() == "squidward"
