"""What a learner sees of their objects and mistakes: the default ``__repr__`` of mapped
classes (never a load, never a flush), and errors raised at the moment of the mistake with
SQLAlchemy's exception type and a message naming the class and the fix.

The default ``__repr__`` is minialchemy's own (SQLAlchemy's classes keep ``object``'s
``<User object at 0x...>``); the exception types and the moment they are raised were
checked against SQLAlchemy 2.1.9.
"""

from typing import Optional

import pytest

from minialchemy import String, inspect, select
from minialchemy.exc import InvalidRequestError
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


@pytest.fixture
def Plain(engine):
    """A mapped class without a ``__repr__`` of its own, on the seeded ``user_account`` table."""

    class Base(DeclarativeBase):
        pass

    class Plain(Base):
        __tablename__ = "user_account"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(30))
        fullname: Mapped[Optional[str]]

    return Plain


@pytest.fixture
def statements(sql_log):
    return sql_log.statements


# -- the default __repr__ ------------------------------------------------------------------------


def test_default_repr_of_a_transient_object_shows_unset_attributes_as_none(Plain):
    assert repr(Plain(name="squidward")) == "Plain(id=None, name='squidward', fullname=None)"


@pytest.mark.minialchemy_only
def test_default_repr_shows_expired_attributes_without_loading_them(engine, Plain, statements):
    with Session(engine) as session:
        squidward = Plain(name="squidward", fullname="Squidward Tentacles")
        session.add(squidward)
        session.commit()
        statements.clear()
        assert repr(squidward) == "Plain(id=<expired>, name=<expired>, fullname=<expired>)"
        assert statements == []
        squidward.name
        session.expire(squidward, ["fullname"])
        statements.clear()
        assert repr(squidward) == "Plain(id=4, name='squidward', fullname=<expired>)"
        assert statements == []


@pytest.mark.minialchemy_only
def test_default_repr_never_flushes(engine, Plain, statements):
    with Session(engine) as session:
        sandy = session.scalars(select(Plain).where(Plain.id == 2)).one()
        session.add(Plain(name="squidward"))
        sandy.fullname = "Sandy Squirrel"
        statements.clear()
        assert repr(sandy) == "Plain(id=2, name='sandy', fullname='Sandy Squirrel')"
        assert repr(list(session.new)) == "[Plain(id=None, name='squidward', fullname=None)]"
        assert statements == [] and sandy in session.dirty


@pytest.mark.minialchemy_only
def test_default_repr_of_a_detached_expired_object_does_not_raise(engine, Plain):
    with Session(engine) as session:
        sandy = session.get(Plain, 2)
        session.commit()
    assert inspect(sandy).detached
    assert repr(sandy) == "Plain(id=<expired>, name=<expired>, fullname=<expired>)"


def test_a_class_own_repr_wins(User):
    assert repr(User(name="sandy")) == "User(id=None, name='sandy', fullname=None)"
    assert type(User(name="sandy")).__repr__ is User.__dict__["__repr__"]


# -- errors at the moment of the mistake ----------------------------------------------------------


def test_mapped_class_without_tablename_raises_at_class_definition():
    class Base(DeclarativeBase):
        pass

    with pytest.raises(InvalidRequestError, match="does not have a __table__ or __tablename__"):

        class User(Base):
            id: Mapped[int] = mapped_column(primary_key=True)


@pytest.mark.minialchemy_only
def test_missing_tablename_error_names_the_class_and_the_fix():
    class Base(DeclarativeBase):
        pass

    with pytest.raises(InvalidRequestError) as excinfo:

        class Sponge(Base):
            id: Mapped[int] = mapped_column(primary_key=True)

    message = str(excinfo.value)
    assert "Class Sponge " in message
    assert '__tablename__ = "sponge"' in message and "__abstract__ = True" in message


def test_abstract_base_without_tablename_is_accepted():
    class Base(DeclarativeBase):
        pass

    class Common(Base):
        __abstract__ = True

    class Sponge(Common):
        __tablename__ = "sponge"
        id: Mapped[int] = mapped_column(primary_key=True)

    assert inspect(Sponge).local_table.name == "sponge"


def test_deleting_a_transient_object_raises(session, User):
    with pytest.raises(InvalidRequestError, match="is not persisted"):
        session.delete(User(name="squidward"))


@pytest.mark.minialchemy_only
def test_deleting_a_transient_object_says_it_was_never_added(session, User):
    with pytest.raises(InvalidRequestError) as excinfo:
        session.delete(User(name="squidward"))
    message = str(excinfo.value)
    assert "never added to a Session" in message and "pending" not in message


@pytest.mark.minialchemy_only
def test_deleting_a_pending_object_points_to_expunge(session, User):
    squidward = User(name="squidward")
    session.add(squidward)
    with pytest.raises(InvalidRequestError, match=r"added but not flushed.*session\.expunge\(obj\)"):
        session.delete(squidward)
