"""Pickling mapped objects: what SQLAlchemy 2.1 shows after ``pickle.loads(pickle.dumps(obj))``.

An object's state sits in its ``__dict__``, so it travels with the object: its identity key,
its changes not flushed yet and its expired attributes; its session does not.  Unpickled, an
object that had an identity key is detached (``session.add()`` or ``merge()`` takes it back), a
transient or pending one is transient.  The models are at module level, where pickle finds
classes.  (Checked against SQLAlchemy by replacing the word ``minialchemy``.)
"""

import pickle
from typing import Optional

import pytest

from minialchemy import String, create_engine, insert, inspect, select
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from minialchemy.orm.exc import DetachedInstanceError


class PickleBase(DeclarativeBase):
    pass


class Member(PickleBase):
    __tablename__ = "member"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    fullname: Mapped[Optional[str]]


@pytest.fixture
def engine():
    engine = create_engine("sqlite://")
    PickleBase.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(Member.__table__),
            [{"id": 1, "name": "sandy", "fullname": "Sandy Cheeks"}, {"id": 2, "name": "patrick", "fullname": None}],
        )
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session


def copied(obj):
    return pickle.loads(pickle.dumps(obj))


def column_values(obj):
    return {key: value for key, value in vars(obj).items() if not key.startswith("_")}


def test_a_transient_object_stays_transient(session):
    copy = copied(Member(name="squidward"))

    assert inspect(copy).transient and inspect(copy).key is None
    assert column_values(copy) == {"name": "squidward"}


def test_a_pending_object_comes_back_transient(session):
    squidward = Member(name="squidward")
    session.add(squidward)

    copy = copied(squidward)

    assert inspect(copy).transient and copy not in session


def test_a_loaded_object_comes_back_detached_with_its_identity_and_values(session):
    sandy = session.scalars(select(Member).where(Member.id == 1)).one()  # values as loaded

    copy = copied(sandy)

    assert inspect(copy).detached and copy not in session
    assert inspect(copy).key == (Member, (1,), None)
    assert column_values(copy) == {"id": 1, "name": "sandy", "fullname": "Sandy Cheeks"}
    assert (copy.id, copy.name, copy.fullname) == (1, "sandy", "Sandy Cheeks")
    assert not inspect(copy).expired_attributes and not inspect(copy).unloaded
    assert inspect(sandy).persistent and session.get(Member, 1) is sandy  # the original unchanged


def test_a_modified_object_keeps_its_change_and_its_history(session):
    patrick = session.get(Member, 2)
    patrick.fullname = "Patrick Star"

    copy = copied(patrick)

    assert inspect(copy).detached and copy.fullname == "Patrick Star"
    assert inspect(copy).attrs.fullname.history == (["Patrick Star"], (), [None])


def test_an_expired_object_keeps_its_expired_attributes_and_cannot_load_them_detached(session):
    sandy = session.get(Member, 1)
    session.expire(sandy)

    copy = copied(sandy)

    assert inspect(copy).detached and inspect(copy).key == (Member, (1,), None)
    assert inspect(copy).expired_attributes == {"id", "name", "fullname"}
    assert column_values(copy) == {}
    with pytest.raises(DetachedInstanceError):
        copy.name


def test_a_partly_expired_object_keeps_the_rest(session):
    sandy = session.get(Member, 1)
    session.expire(sandy, ["name"])

    copy = copied(sandy)

    assert inspect(copy).expired_attributes == {"name"}
    assert column_values(copy) == {"id": 1, "fullname": "Sandy Cheeks"}


def test_an_unpickled_object_added_to_a_new_session_is_persistent_there(engine, session):
    copy = copied(session.get(Member, 1))

    with Session(engine) as other:
        other.add(copy)
        assert inspect(copy).persistent
        assert other.get(Member, 1) is copy
        assert copy.name == "sandy"


def test_an_unpickled_modified_object_merged_into_a_new_session_brings_its_change(engine, session):
    patrick = session.get(Member, 2)
    patrick.fullname = "Patrick Star"
    copy = copied(patrick)

    with Session(engine) as other:
        merged = other.merge(copy)
        assert merged is not copy and inspect(merged).persistent
        assert merged.fullname == "Patrick Star"
        other.commit()
    with Session(engine) as check:
        assert check.get(Member, 2).fullname == "Patrick Star"
