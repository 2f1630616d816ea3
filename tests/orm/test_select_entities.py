"""The Core SELECT features used with mapped classes, as the tutorial's SELECT chapter does:
joins between entities (ON from the foreign key), functions with GROUP BY, IN (SELECT ...),
correlated scalar subqueries, EXISTS, UNION, subqueries joined to an entity.

Objects still come through the identity map: a row of ``select(User, Address)`` holds the same
``User`` the session already has.
"""

import pytest

from minialchemy import desc, exc, exists, func, select, union
from minialchemy.orm import Mapped, mapped_column


def test_join_between_entities_uses_the_foreign_key(session, User, Address):
    stmt = select(User).join(Address).where(Address.email_address == "sandy@squirrelpower.org")
    assert "FROM user_account JOIN address ON user_account.id = address.user_id" in str(stmt)
    assert session.scalars(stmt).one() is session.get(User, 2)


def test_join_from_and_outerjoin(session, User, Address):
    stmt = select(Address.email_address).join_from(User, Address).where(User.name == "spongebob")
    assert session.scalars(stmt).all() == ["spongebob@sqlalchemy.org"]
    stmt = select(User.name, Address.email_address).outerjoin(Address).order_by(User.id, Address.id)
    assert session.execute(stmt).all()[-1] == ("patrick", None)


def test_select_user_and_address_gives_identity_mapped_pairs(session, User, Address):
    rows = session.execute(select(User, Address).join(Address).order_by(Address.id)).all()
    assert [(user.name, address.email_address) for user, address in rows][1:] == [
        ("sandy", "sandy@sqlalchemy.org"),
        ("sandy", "sandy@squirrelpower.org"),
    ]
    assert rows[1][0] is rows[2][0] is session.get(User, 2)


def test_count_addresses_per_user_with_group_by(session, User, Address):
    stmt = (
        select(User.name, func.count(Address.id).label("count"))
        .join(Address)
        .group_by(User.name)
        .order_by(desc("count"), User.name)
    )
    assert session.execute(stmt).all() == [("sandy", 2), ("spongebob", 1)]


def test_where_in_a_select_of_another_entity(session, User, Address):
    stmt = select(User).where(User.id.in_(select(Address.user_id))).order_by(User.id)
    assert [user.name for user in session.scalars(stmt)] == ["spongebob", "sandy"]


def test_correlated_scalar_subquery_counts_each_users_addresses(session, User, Address):
    count = select(func.count(Address.id)).where(Address.user_id == User.id).scalar_subquery()
    stmt = select(User.name, count.label("addresses")).order_by(User.id)
    assert session.execute(stmt).all() == [("spongebob", 1), ("sandy", 2), ("patrick", 0)]


def test_exists_finds_users_without_addresses(session, User, Address):
    stmt = select(User).where(~exists().where(Address.user_id == User.id))
    assert [user.name for user in session.scalars(stmt)] == ["patrick"]


def test_join_an_entity_to_a_subquery(session, User, Address):
    counts = select(Address.user_id, func.count().label("count")).group_by(Address.user_id).subquery()
    stmt = select(User, counts.c.count).join(counts, User.id == counts.c.user_id).order_by(User.id)
    assert [(user.name, count) for user, count in session.execute(stmt)] == [("spongebob", 1), ("sandy", 2)]


def test_union_of_entity_columns(session, User):
    stmt = union(select(User.name).where(User.id == 1), select(User.name).where(User.id == 3)).order_by(User.name)
    assert session.execute(stmt).scalars().all() == ["patrick", "spongebob"]


def test_union_in_a_session_flushes_pending_objects_first(session, User):
    session.add(User(name="squidward"))
    stmt = union(select(User.name).where(User.id == 1), select(User.name).where(User.name == "squidward"))
    assert sorted(session.execute(stmt).scalars().all()) == ["spongebob", "squidward"]


def test_filter_by_after_join_reads_the_joined_entity(session, User, Address):
    stmt = select(User).join(Address).filter_by(email_address="spongebob@sqlalchemy.org")
    assert session.scalars(stmt).one().name == "spongebob"


def test_join_between_unrelated_entities_names_both(session, User, Address, models):
    class Note(models.Base):
        __tablename__ = "note"
        id: Mapped[int] = mapped_column(primary_key=True)

    with pytest.raises(exc.InvalidRequestError, match="Don't know how to join"):
        session.execute(select(User).join(Note))


@pytest.mark.minialchemy_only
def test_unrelated_join_error_names_both_classes(User, models):
    class Note(models.Base):
        __tablename__ = "note"
        id: Mapped[int] = mapped_column(primary_key=True)

    with pytest.raises(exc.InvalidRequestError) as info:
        str(select(User).join(Note))
    assert "Note (table 'note')" in str(info.value) and "User (table 'user_account')" in str(info.value)
