"""Declarative mapping: how a class with ``Mapped[...]`` annotations becomes a Table
and a Mapper, and what the generated constructor does."""

import pytest

from minialchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    select,
)
from minialchemy.exc import ArgumentError
from minialchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    registry,
    relationship,
)


# --- columns from annotations -----------------------------------------------------------


def test_mapped_class_has_a_table(User):
    assert User.__table__.name == "user_account"
    assert set(User.__table__.c.keys()) == {"id", "name", "fullname"}


def test_primary_key_column_is_an_integer(User):
    id_column = User.__table__.c.id
    assert id_column.primary_key
    assert isinstance(id_column.type, Integer)


def test_mapped_str_is_not_null(User):
    assert User.__table__.c.name.nullable is False


def test_mapped_optional_str_is_nullable(User):
    assert User.__table__.c.fullname.nullable is True
    assert isinstance(User.__table__.c.fullname.type, String)


def test_string_length_comes_from_mapped_column(User):
    name_type = User.__table__.c.name.type
    assert isinstance(name_type, String)
    assert name_type.length == 30


def test_foreign_key_points_at_the_parent_column(User, Address):
    (foreign_key,) = Address.__table__.c.user_id.foreign_keys
    assert foreign_key.column is User.__table__.c.id


def test_column_without_annotation_takes_its_type_from_the_foreign_key(Address):
    assert isinstance(Address.__table__.c.user_id.type, Integer)
    assert Address.__table__.c.user_id.nullable is True


def test_relationship_is_not_a_column(User):
    assert "addresses" not in User.__table__.c


def make_column_options_model():
    class Base(DeclarativeBase):
        pass

    class Product(Base):
        __tablename__ = "product"

        id: Mapped[int] = mapped_column(primary_key=True)
        code: Mapped[str] = mapped_column(String(10), unique=True)
        note: Mapped[str] = mapped_column(nullable=True)
        quantity: Mapped[int] = mapped_column(default=7)

    return Base, Product


def test_nullable_argument_overrides_the_annotation():
    Base, Product = make_column_options_model()
    assert Product.__table__.c.note.nullable is True


def test_unique_column_rejects_a_duplicate():
    from minialchemy.exc import IntegrityError

    Base, Product = make_column_options_model()
    assert Product.__table__.c.code.unique is True
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Product(code="A"), Product(code="A")])
        with pytest.raises(IntegrityError):
            session.flush()


def test_column_default_is_used_by_the_insert():
    Base, Product = make_column_options_model()
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        product = Product(code="A")
        assert product.quantity is None  # the default is applied by the INSERT, not __init__
        session.add(product)
        session.commit()
        assert product.quantity == 7


def test_column_named_differently_from_its_attribute():
    class Base(DeclarativeBase):
        pass

    class Keyword(Base):
        __tablename__ = "keyword"

        id: Mapped[int] = mapped_column(primary_key=True)
        word: Mapped[str] = mapped_column("select")

    assert set(Keyword.__table__.c.keys()) == {"id", "select"}
    assert "word" in inspect(Keyword).attrs

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Keyword(word="from"))
        session.commit()
    with Session(engine) as session:
        found = session.scalars(select(Keyword).where(Keyword.word == "from")).one()
        assert found.word == "from"


def test_round_trip_through_the_table(engine, User):
    with Session(engine) as session:
        session.add(User(name="squidward", fullname="Squidward Tentacles"))
        session.commit()
    with Session(engine) as session:
        squidward = session.scalars(select(User).where(User.name == "squidward")).one()
        assert (squidward.id, squidward.fullname) == (4, "Squidward Tentacles")


def test_select_by_class_attribute(session, User, sql_log):
    sandy = session.execute(select(User).where(User.name == "sandy")).scalar_one()
    assert sandy.fullname == "Sandy Cheeks"
    assert sql_log.queries == [
        "SELECT user_account.id, user_account.name, user_account.fullname \n"
        "FROM user_account \n"
        "WHERE user_account.name = ?"
    ]


# --- the Mapper ------------------------------------------------------------------------


def test_inspect_class_returns_its_mapper(User):
    mapper = inspect(User)
    assert mapper.class_ is User
    assert mapper.local_table is User.__table__


def test_mapper_repr_names_its_class(User):
    assert repr(inspect(User)) == f"<Mapper at 0x{id(inspect(User)):x}; User>"


def test_mapper_lists_columns_and_primary_key(User):
    mapper = inspect(User)
    assert set(mapper.columns.keys()) == {"id", "name", "fullname"}
    assert tuple(mapper.primary_key) == (User.__table__.c.id,)


def test_mapper_lists_relationships_and_all_attributes(User, Address):
    mapper = inspect(User)
    assert set(mapper.relationships.keys()) == {"addresses"}
    assert mapper.relationships["addresses"].mapper is inspect(Address)
    assert set(mapper.attrs.keys()) == {"id", "name", "fullname", "addresses"}


def test_map_imperatively_maps_a_plain_class():
    metadata = MetaData()
    user_table = Table(
        "user_account",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(30), nullable=False),
        Column("fullname", String),
    )
    address_table = Table(
        "address",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email_address", String, nullable=False),
        Column("user_id", ForeignKey("user_account.id")),
    )

    class PlainUser:
        pass

    class PlainAddress:
        pass

    mapper_registry = registry()
    mapper = mapper_registry.map_imperatively(
        PlainUser,
        user_table,
        properties={"addresses": relationship(PlainAddress, back_populates="user")},
    )
    mapper_registry.map_imperatively(
        PlainAddress,
        address_table,
        properties={"user": relationship(PlainUser, back_populates="addresses")},
    )
    assert mapper.class_ is PlainUser
    assert inspect(PlainUser) is mapper
    assert mapper.local_table is user_table

    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        user = PlainUser()
        user.name = "sandy"
        address = PlainAddress()
        address.email_address = "sandy@sqlalchemy.org"
        user.addresses.append(address)
        session.add(user)
        session.commit()
    with Session(engine) as session:
        loaded = session.scalars(select(PlainAddress)).one()
        assert loaded.user.name == "sandy"


# --- the generated constructor ---------------------------------------------------------


def test_generated_init_accepts_mapped_attributes_as_keywords(User):
    squidward = User(name="squidward", fullname="Squidward Tentacles")
    assert squidward.name == "squidward"
    assert squidward.fullname == "Squidward Tentacles"


def test_generated_init_rejects_an_unknown_keyword(User):
    with pytest.raises(TypeError, match="nickname"):
        User(name="squidward", nickname="squid")


def test_generated_init_takes_no_positional_arguments(User):
    with pytest.raises(TypeError):
        User("squidward")


def test_unset_attributes_of_a_transient_object_read_none(User):
    squidward = User(name="squidward")
    assert squidward.id is None
    assert squidward.fullname is None


def test_unset_collection_of_a_transient_object_reads_empty(User):
    assert User(name="squidward").addresses == []


def test_repr_shows_id_none_before_insert(User):
    squidward = User(name="squidward", fullname="Squidward Tentacles")
    assert repr(squidward) == "User(id=None, name='squidward', fullname='Squidward Tentacles')"


def test_own_init_and_repr_win():
    class Base(DeclarativeBase):
        pass

    class Sponge(Base):
        __tablename__ = "sponge"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

        def __init__(self, name):
            self.name = name.lower()

        def __repr__(self):
            return f"<Sponge {self.name}>"

    sponge = Sponge("SpongeBob")
    assert sponge.name == "spongebob"
    assert repr(sponge) == "<Sponge spongebob>"


def test_class_without_primary_key_is_refused_at_class_creation():
    class Base(DeclarativeBase):
        pass

    with pytest.raises(ArgumentError, match="no_key"):

        class NoKey(Base):
            __tablename__ = "no_key"

            name: Mapped[str]
