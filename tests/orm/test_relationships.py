"""Relationships: lazy loading of ``User.addresses`` and ``Address.user``,
``back_populates`` keeping both sides in step in memory, and cascades."""

from types import SimpleNamespace
from typing import List, Optional

from minialchemy import ForeignKey, String, select
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

SELECT_ADDRESSES_OF_USER = (
    "SELECT address.id, address.email_address, address.user_id \n"
    "FROM address \n"
    "WHERE ? = address.user_id"
)


# --- lazy loading ----------------------------------------------------------------------


def test_collection_is_lazy_loaded_on_first_access(session, User, sql_log):
    sandy = session.get(User, 2)
    sql_log.clear()
    emails = [address.email_address for address in sandy.addresses]
    assert sorted(emails) == ["sandy@sqlalchemy.org", "sandy@squirrelpower.org"]
    assert sql_log.queries == [SELECT_ADDRESSES_OF_USER]


def test_loaded_collection_is_not_loaded_again(session, User, sql_log):
    sandy = session.get(User, 2)
    sandy.addresses
    sql_log.clear()
    assert len(sandy.addresses) == 2
    assert sql_log.statements == []


def test_empty_collection_loads_as_empty_list(session, User):
    patrick = session.get(User, 3)
    assert patrick.addresses == []


def test_many_to_one_uses_the_identity_map_without_sql(session, User, Address, sql_log):
    sandy = session.get(User, 2)
    address = session.get(Address, 2)
    sql_log.clear()
    assert address.user is sandy
    assert sql_log.statements == []


def test_many_to_one_loads_the_parent_when_not_present(session, Address, sql_log):
    address = session.get(Address, 2)
    sql_log.clear()
    assert address.user.name == "sandy"
    assert sql_log.queries == [
        "SELECT user_account.id, user_account.name, user_account.fullname \n"
        "FROM user_account \n"
        "WHERE user_account.id = ?"
    ]


def test_lazy_loaded_children_are_the_identity_map_objects(session, User, Address):
    address = session.get(Address, 2)
    sandy = session.get(User, 2)
    assert address in sandy.addresses


# --- back_populates --------------------------------------------------------------------


def test_appending_to_the_collection_sets_the_many_to_one(User, Address):
    squidward = User(name="squidward")
    address = Address(email_address="squidward@sqlalchemy.org")
    squidward.addresses.append(address)
    assert address.user is squidward


def test_setting_the_many_to_one_appends_to_the_collection(User, Address):
    squidward = User(name="squidward")
    address = Address(email_address="squidward@sqlalchemy.org")
    address.user = squidward
    assert squidward.addresses == [address]


def test_removing_from_the_collection_clears_the_many_to_one(User, Address):
    squidward = User(name="squidward")
    address = Address(email_address="squidward@sqlalchemy.org")
    squidward.addresses.append(address)
    squidward.addresses.remove(address)
    assert address.user is None


# --- save-update cascade ---------------------------------------------------------------


def test_adding_a_user_adds_its_new_addresses(session, User, Address):
    squidward = User(
        name="squidward",
        addresses=[Address(email_address="squidward@sqlalchemy.org")],
    )
    session.add(squidward)
    (address,) = squidward.addresses
    assert address in session.new
    session.flush()
    assert address.id == 4
    assert address.user_id == squidward.id == 4


def test_appending_to_a_persistent_collection_adds_the_child(session, User, Address):
    sandy = session.get(User, 2)
    address = Address(email_address="sandy@bikini.bottom")
    sandy.addresses.append(address)
    assert address in session.new
    session.flush()
    assert address.user_id == 2


# --- deleting parents ------------------------------------------------------------------


def test_deleting_a_parent_nulls_its_childrens_foreign_key(session, User, Address, sql_log):
    sandy = session.get(User, 2)
    addresses = sandy.addresses
    session.delete(sandy)
    sql_log.clear()
    session.flush()
    assert [address.user_id for address in addresses] == [None, None]
    # the children's UPDATE comes before the parent's DELETE
    assert sql_log.kinds[0] == "UPDATE"
    assert sql_log.queries[-1] == "DELETE FROM user_account WHERE user_account.id = ?"
    orphans = session.scalars(select(Address.id).where(Address.user_id.is_(None))).all()
    assert sorted(orphans) == [2, 3]


def make_cascading_models():
    """The tutorial's models, with ``cascade="all, delete-orphan"`` on User.addresses."""

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "user_account"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(30))
        fullname: Mapped[Optional[str]]
        addresses: Mapped[List["Address"]] = relationship(
            back_populates="user", cascade="all, delete-orphan"
        )

    class Address(Base):
        __tablename__ = "address"

        id: Mapped[int] = mapped_column(primary_key=True)
        email_address: Mapped[str]
        user_id = mapped_column(ForeignKey("user_account.id"))
        user: Mapped[User] = relationship(back_populates="addresses")

    return SimpleNamespace(Base=Base, User=User, Address=Address)


def test_delete_cascade_deletes_the_children(seeded_engine_for, sql_log):
    models = make_cascading_models()
    engine, User, Address = seeded_engine_for(models), models.User, models.Address
    with Session(engine) as session:
        sandy = session.get(User, 2)
        session.delete(sandy)
        sql_log.clear()
        session.flush()
        deletes = sql_log.matching("DELETE")
        assert deletes[0].startswith("DELETE FROM address")
        assert deletes[-1] == "DELETE FROM user_account WHERE user_account.id = ?"
        assert session.scalars(select(Address.id).order_by(Address.id)).all() == [1]


def test_delete_orphan_deletes_a_child_removed_from_the_collection(seeded_engine_for):
    models = make_cascading_models()
    engine, User, Address = seeded_engine_for(models), models.User, models.Address
    with Session(engine) as session:
        sandy = session.get(User, 2)
        orphan = session.get(Address, 3)
        sandy.addresses.remove(orphan)
        session.flush()
        assert orphan not in session
        assert session.scalars(select(Address.id).order_by(Address.id)).all() == [1, 2]
