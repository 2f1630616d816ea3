"""ORM SELECT: joins along relationships, aliased entities, ``any()`` / ``has()``,
``with_parent()`` and rows of several entities, as in the SQLAlchemy tutorial's "Using SELECT
Statements" and "Working with ORM Related Objects".  Checked against SQLAlchemy 2.1."""

import pytest

from minialchemy import select
from minialchemy.exc import ArgumentError, InvalidRequestError
from minialchemy.orm import Mapped, aliased, mapped_column, with_parent

JOIN_ON_RELATIONSHIP = "FROM user_account JOIN address ON user_account.id = address.user_id"


def sql_of(statement):
    return str(statement).replace("\n", "")


# --- joins along relationships -------------------------------------------------------------


def test_join_along_a_relationship_uses_its_foreign_key(session, User, Address):
    statement = select(User.name).join(User.addresses).where(Address.email_address == "sandy@squirrelpower.org")
    assert JOIN_ON_RELATIONSHIP in sql_of(statement)
    assert session.scalars(statement).all() == ["sandy"]


def test_join_from_names_the_left_side(session, User, Address):
    statement = select(Address.email_address).join_from(User, User.addresses).where(User.name == "sandy").order_by(Address.id)
    assert JOIN_ON_RELATIONSHIP in sql_of(statement)
    assert session.scalars(statement).all() == ["sandy@sqlalchemy.org", "sandy@squirrelpower.org"]


def test_join_to_an_entity_with_the_relationship_as_on_clause(session, User, Address):
    statement = select(User.name).join(Address, User.addresses).order_by(Address.id)
    assert session.scalars(statement).all() == ["spongebob", "sandy", "sandy"]


def test_many_to_one_join_goes_the_other_way(session, User, Address):
    statement = select(Address.id).join(Address.user).where(User.name == "sandy").order_by(Address.id)
    assert "FROM address JOIN user_account ON user_account.id = address.user_id" in sql_of(statement)
    assert session.scalars(statement).all() == [2, 3]


def test_outerjoin_keeps_users_without_addresses(session, User, Address):
    statement = select(User.name, Address.email_address).outerjoin(User.addresses).order_by(User.id, Address.id)
    assert "LEFT OUTER JOIN address" in sql_of(statement)
    assert session.execute(statement).all()[-1] == ("patrick", None)
    same = select(User.name, Address.email_address).join(User.addresses, isouter=True).order_by(User.id, Address.id)
    assert session.execute(same).all() == session.execute(statement).all()


def test_joined_rows_are_the_identity_map_objects(session, User, Address):
    sandy = session.get(User, 2)
    users = session.scalars(select(User).join(User.addresses).where(User.id == 2)).all()
    assert users == [sandy, sandy]
    assert all(user is sandy for user in users)


def test_select_of_two_entities_returns_tuples_of_objects(session, User, Address):
    rows = session.execute(select(User, Address).join(User.addresses).order_by(Address.id)).all()
    assert [(user.name, address.email_address) for user, address in rows] == [
        ("spongebob", "spongebob@sqlalchemy.org"),
        ("sandy", "sandy@sqlalchemy.org"),
        ("sandy", "sandy@squirrelpower.org"),
    ]
    assert rows[1].User is rows[2].User
    assert rows[1].Address is session.get(Address, 2)


@pytest.mark.minialchemy_only
def test_join_without_a_relationship_or_foreign_key_names_both_tables(session, models, User):
    class Other(models.Base):
        __tablename__ = "other"
        id: Mapped[int] = mapped_column(primary_key=True)

    with pytest.raises(InvalidRequestError, match="'other'.*'user_account'|'user_account'.*'other'"):
        session.execute(select(User).join(Other))


# --- aliased ---------------------------------------------------------------------------------


def test_aliased_entity_selects_from_an_alias(session, User):
    boss = aliased(User, name="boss")
    statement = select(boss).where(boss.name == "sandy")
    assert sql_of(statement).startswith("SELECT boss.id, boss.name, boss.fullname FROM user_account AS boss")
    assert session.scalars(statement).one() is session.get(User, 2)


def test_two_aliases_of_one_entity_find_a_user_with_both_addresses(session, User, Address):
    first, second = aliased(Address), aliased(Address)
    statement = (
        select(User.name)
        .join(User.addresses.of_type(first))
        .join(User.addresses.of_type(second))
        .where(first.email_address == "sandy@sqlalchemy.org")
        .where(second.email_address == "sandy@squirrelpower.org")
    )
    assert "JOIN address AS address_1 ON user_account.id = address_1.user_id" in sql_of(statement)
    assert "JOIN address AS address_2 ON user_account.id = address_2.user_id" in sql_of(statement)
    assert session.scalars(statement).all() == ["sandy"]


def test_self_join_with_an_alias(session, User):
    other = aliased(User)
    statement = select(User.name, other.name).join(other, User.id < other.id).order_by(User.id, other.id)
    assert session.execute(statement).all() == [("spongebob", "sandy"), ("spongebob", "patrick"), ("sandy", "patrick")]


def test_relationship_of_an_alias_joins_from_the_alias(session, User, Address):
    owner = aliased(User, name="owner")
    statement = select(owner.name, Address.email_address).join(owner.addresses).order_by(Address.id)
    assert "FROM user_account AS owner JOIN address ON owner.id = address.user_id" in sql_of(statement)
    assert session.execute(statement).first() == ("spongebob", "spongebob@sqlalchemy.org")


# --- any(), has(), with_parent() ---------------------------------------------------------------


def test_any_finds_users_with_a_matching_address(session, User, Address):
    statement = select(User.name).where(User.addresses.any(Address.email_address.like("%squirrelpower%")))
    assert "WHERE EXISTS (SELECT 1 FROM address WHERE user_account.id = address.user_id AND" in sql_of(statement)
    assert session.scalars(statement).all() == ["sandy"]


def test_not_any_finds_users_without_addresses(session, User):
    assert session.scalars(select(User.name).where(~User.addresses.any())).all() == ["patrick"]


def test_has_finds_addresses_of_a_matching_user(session, User, Address):
    statement = select(Address.id).where(Address.user.has(User.name == "sandy")).order_by(Address.id)
    assert session.scalars(statement).all() == [2, 3]
    assert session.scalars(select(Address.id).where(Address.user.has(name="sandy")).order_by(Address.id)).all() == [2, 3]


def test_any_on_a_many_to_one_is_refused(User, Address):
    with pytest.raises(InvalidRequestError, match="has()"):
        Address.user.any()


def test_with_parent_selects_what_the_relationship_holds(session, User, Address):
    sandy = session.get(User, 2)
    statement = select(Address).where(with_parent(sandy, User.addresses)).order_by(Address.id)
    assert sql_of(statement).endswith("WHERE :param_1 = address.user_id ORDER BY address.id")
    assert session.scalars(statement).all() == list(sandy.addresses)


def test_with_parent_of_a_many_to_one(session, User, Address):
    address = session.get(Address, 2)
    assert session.scalars(select(User).where(with_parent(address, Address.user))).one() is session.get(User, 2)


@pytest.mark.minialchemy_only
def test_with_parent_needs_a_relationship(session, User):
    with pytest.raises(ArgumentError, match="relationship"):
        with_parent(session.get(User, 2), User.name)
