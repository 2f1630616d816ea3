"""What a learner sees of their objects and mistakes: the default ``__repr__`` of mapped
classes (never a load, never a flush), and errors raised at the moment of the mistake with
SQLAlchemy's exception type and a message naming the class and the fix.

The default ``__repr__`` is minialchemy's own (SQLAlchemy's classes keep ``object``'s
``<User object at 0x...>``); the exception types and the moment they are raised were
checked against SQLAlchemy 2.1.9.
"""

import sqlite3
from typing import List, Optional

import pytest

from minialchemy import ForeignKey, String, insert, inspect, select
from minialchemy.exc import IntegrityError, InvalidRequestError, SAWarning
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


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


@pytest.mark.minialchemy_only
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


# -- a failed flush explains itself ---------------------------------------------------------------


def test_new_object_whose_key_is_in_the_identity_map_warns_before_the_integrity_error(session, User):
    spongebob = session.get(User, 1)
    session.add(User(id=1, name="another spongebob"))
    with pytest.warns(SAWarning, match=r"with identity key \(<class '.*User'>, \(1,\), None\) conflicts with persistent instance"):
        with pytest.raises(IntegrityError):
            session.flush()
    session.rollback()
    assert spongebob.name == "spongebob"


@pytest.mark.minialchemy_only
def test_the_identity_map_warning_says_it_is_the_identity_map(session, User):
    spongebob = session.get(User, 1)
    session.add(User(id=1, name="another spongebob"))
    with pytest.warns(SAWarning, match=r"the identity map already holds User\(id=1\).*session\.get\(User, 1\)"):
        with pytest.raises(IntegrityError):
            session.flush()
    assert inspect(spongebob).persistent


@pytest.mark.minialchemy_only
def test_integrity_error_from_a_flush_keeps_orig_and_statement_and_names_step_and_object(session, User):
    session.add(User(id=2, name="another sandy"))
    with pytest.raises(IntegrityError) as excinfo:
        session.flush()
    error = excinfo.value
    assert isinstance(error.orig, sqlite3.IntegrityError)
    assert error.statement == "INSERT INTO user_account (id, name, fullname) VALUES (?, ?, ?)"
    assert error.detail == ["flush step 1 of 1: INSERT user_account, 1 User object", "flush object: User(id=2)"]
    assert str(error).splitlines()[-2:] == ["[flush step 1 of 1: INSERT user_account, 1 User object]", "[flush object: User(id=2)]"]


@pytest.fixture
def strict_models(engine):
    """User and Address where an address must have a user (a NOT NULL foreign key)."""

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "user_account"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(30))
        addresses: Mapped[List["Address"]] = relationship(back_populates="user")

    class Address(Base):
        __tablename__ = "strict_address"
        id: Mapped[int] = mapped_column(primary_key=True)
        email_address: Mapped[str]
        user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
        user: Mapped[User] = relationship(back_populates="addresses")

    Base.metadata.create_all(engine)  # the user_account table exists already
    with engine.begin() as connection:
        connection.execute(insert(Address.__table__), [{"email_address": "sandy@sqlalchemy.org", "user_id": 2}])
    return User, Address


def test_deleting_a_parent_of_not_null_children_fails_in_the_flush(engine, strict_models):
    User, Address = strict_models
    with Session(engine) as session:
        session.delete(session.get(User, 2))
        with pytest.raises(IntegrityError, match="NOT NULL constraint failed"):
            session.flush()


@pytest.mark.minialchemy_only
def test_not_null_foreign_key_of_a_deleted_parent_names_the_cascade_that_fixes_it(engine, strict_models):
    User, Address = strict_models
    with Session(engine) as session:
        session.delete(session.get(User, 2))
        with pytest.raises(IntegrityError) as excinfo:
            session.flush()
    error = excinfo.value
    assert error.statement == "UPDATE strict_address SET user_id=? WHERE strict_address.id = ?"
    assert error.detail[0].startswith("flush step ") and error.detail[0].endswith(": UPDATE strict_address, 1 Address object")
    assert error.detail[1] == "flush object: Address(id=1)"
    assert 'relationship(cascade="all, delete-orphan") on User.addresses' in error.detail[2]
    assert "User(id=2) was deleted" in error.detail[2]
