"""Identity keys as Python code sees them: ``inspect(obj).key``, ``session.identity_map``, and a
row the database gives no identity.

minialchemy stores no key tuple per object (the state keeps the primary key value, the identity
map keys its entries by class and then by that value; docs/how_it_works.md, "Where a loaded
object's bytes go"), so every key below is built when asked for.  What these tests hold is that
nobody can tell: the keys are SQLAlchemy's, for one-column and composite primary keys alike.
"""

from typing import Optional

import pytest

from minialchemy import String, create_engine, insert, inspect, select
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from minialchemy.orm.exc import FlushError


def test_a_loaded_objects_identity_key_and_identity(session, User):
    sandy = session.scalars(select(User).where(User.id == 2)).one()
    state = inspect(sandy)

    assert state.key == (User, (2,), None)
    assert state.identity_key == (User, (2,), None)
    assert state.identity == (2,)
    assert state.has_identity and state.persistent


def test_the_identity_map_answers_by_identity_key(session, User, Address):
    users = session.scalars(select(User)).all()
    addresses = session.scalars(select(Address)).all()
    identity_map = session.identity_map

    assert identity_map[(User, (2,), None)] is users[1]
    assert (Address, (3,), None) in identity_map
    assert (User, (4,), None) not in identity_map
    assert identity_map.get((User, (4,), None)) is None
    assert set(identity_map.keys()) == {
        *((User, (n,), None) for n in (1, 2, 3)),
        *((Address, (n,), None) for n in (1, 2, 3)),
    }
    assert {id(obj) for obj in identity_map.values()} == {id(obj) for obj in [*users, *addresses]}
    assert all(identity_map[key] is obj for key, obj in identity_map.items())
    assert len(identity_map) == 6


def test_session_get_finds_a_loaded_object_by_value_or_by_tuple(session, User):
    sandy = session.scalars(select(User).where(User.id == 2)).one()

    assert session.get(User, 2) is sandy
    assert session.get(User, (2,)) is sandy
    assert session.get(User, 2.0) is sandy  # equal primary key values are one identity


def test_a_flushed_object_gets_its_key_and_keeps_it_when_detached(engine, User):
    with Session(engine) as session:
        squidward = User(name="squidward", fullname="Squidward Tentacles")
        session.add(squidward)
        assert inspect(squidward).key is None
        session.flush()
        assert inspect(squidward).key == (User, (4,), None)
        assert session.identity_map[(User, (4,), None)] is squidward
        session.commit()
    assert inspect(squidward).detached
    assert inspect(squidward).key == (User, (4,), None)


class LineBase(DeclarativeBase):
    pass


class OrderLine(LineBase):
    """A composite primary key: (order_id, line_number)."""

    __tablename__ = "order_line"

    order_id: Mapped[int] = mapped_column(primary_key=True)
    line_number: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str] = mapped_column(String(30))


@pytest.fixture
def line_session():
    engine = create_engine("sqlite://")
    LineBase.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(OrderLine.__table__),
            [
                {"order_id": 1, "line_number": 1, "item": "krabby patty"},
                {"order_id": 1, "line_number": 2, "item": "kelp shake"},
            ],
        )
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_composite_primary_keys_make_identity_keys_of_two_values(line_session):
    session = line_session
    lines = session.scalars(select(OrderLine).order_by(OrderLine.line_number)).all()

    assert inspect(lines[1]).key == (OrderLine, (1, 2), None)
    assert inspect(lines[1]).identity == (1, 2)
    assert session.get(OrderLine, (1, 2)) is lines[1]
    assert session.get(OrderLine, {"order_id": 1, "line_number": 1}) is lines[0]
    assert session.identity_map[(OrderLine, (1, 1), None)] is lines[0]
    assert set(session.identity_map.keys()) == {(OrderLine, (1, 1), None), (OrderLine, (1, 2), None)}


def test_changing_a_composite_primary_key_moves_the_object_to_its_new_key(line_session):
    session = line_session
    line = session.get(OrderLine, (1, 2))

    line.line_number = 3
    session.flush()

    assert inspect(line).key == (OrderLine, (1, 3), None)
    assert session.get(OrderLine, (1, 3)) is line
    assert (OrderLine, (1, 2), None) not in session.identity_map


class NamedBase(DeclarativeBase):
    pass


class Tag(NamedBase):
    """A primary key SQLite does not generate (not INTEGER PRIMARY KEY): a NULL one is stored."""

    __tablename__ = "tag"

    name: Mapped[Optional[str]] = mapped_column(String(30), primary_key=True, nullable=True)
    colour: Mapped[Optional[str]]


def test_a_primary_key_the_insert_left_null_stops_the_flush():
    engine = create_engine("sqlite://")
    NamedBase.metadata.create_all(engine)
    with Session(engine) as session:
        tag = Tag(colour="pink")
        session.add(tag)

        with pytest.raises(FlushError, match="NULL identity key"):
            session.flush()

        assert inspect(tag).transient and tag not in session
        session.rollback()
        assert inspect(tag).transient and inspect(tag).key is None
    engine.dispose()
