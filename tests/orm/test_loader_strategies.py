"""Loader strategies: how ``User.addresses`` gets loaded, chosen per statement with an option
(``select(User).options(selectinload(User.addresses))``) or per relationship with ``lazy=``.

The numbers of SELECT statements are the point: N users read lazily cost 1 + N, with
``selectinload`` 2.  Checked against SQLAlchemy 2.1."""

from types import SimpleNamespace

import pytest

from minialchemy import select
from minialchemy.exc import ArgumentError, InvalidRequestError
from minialchemy.orm import (
    Session,
    aliased,
    contains_eager,
    joinedload,
    lazyload,
    noload,
    raiseload,
    relationship,
    selectinload,
)
from minialchemy.orm import strategies

from .conftest import make_models


#: the seed data, user by user in id order
EMAILS_BY_USER = [
    ("spongebob", ["spongebob@sqlalchemy.org"]),
    ("sandy", ["sandy@sqlalchemy.org", "sandy@squirrelpower.org"]),
    ("patrick", []),
]


def emails(user):
    return [address.email_address for address in user.addresses]


# --- selectinload ---------------------------------------------------------------------------


def test_selectinload_loads_every_collection_with_one_more_select(session, User, sql_log):
    users = session.scalars(select(User).options(selectinload(User.addresses)).order_by(User.id)).all()
    assert len(sql_log.queries) == 2
    assert "WHERE address.user_id IN (?, ?, ?)" in sql_log.queries[1]
    sql_log.clear()
    assert [(u.name, sorted(emails(u))) for u in users] == EMAILS_BY_USER
    assert sql_log.queries == []


def test_selectinload_gives_the_identity_map_objects(session, User, Address):
    address = session.get(Address, 2)
    sandy = session.scalars(select(User).where(User.id == 2).options(selectinload(User.addresses))).one()
    assert any(a is address for a in sandy.addresses)
    assert all(a is session.get(Address, a.id) for a in sandy.addresses)


def test_selectinload_keeps_unflushed_changes_of_objects_already_loaded(session, User, Address):
    address = session.get(Address, 2)
    address.email_address = "changed@example.org"
    with session.no_autoflush:
        sandy = session.scalars(select(User).where(User.id == 2).options(selectinload(User.addresses))).one()
    assert "changed@example.org" in emails(sandy)


def test_selectinload_does_not_replace_a_collection_already_loaded(session, User, Address):
    sandy = session.get(User, 2)
    sandy.addresses.append(Address(email_address="new@example.org"))
    with session.no_autoflush:
        again = session.scalars(select(User).where(User.id == 2).options(selectinload(User.addresses))).one()
    assert again is sandy
    assert "new@example.org" in emails(sandy)


def test_selectinload_of_a_many_to_one_selects_each_parent_once(session, Address, sql_log):
    addresses = session.scalars(select(Address).options(selectinload(Address.user)).order_by(Address.id)).all()
    assert len(sql_log.queries) == 2
    assert "WHERE user_account.id IN (?, ?)" in sql_log.queries[1]
    sql_log.clear()
    assert [a.user.name for a in addresses] == ["spongebob", "sandy", "sandy"]
    assert addresses[1].user is addresses[2].user
    assert sql_log.queries == []


def test_selectinload_of_a_many_to_one_returns_the_identity_map_objects(session, User, Address, sql_log):
    sandy = session.get(User, 2)
    addresses = session.scalars(select(Address).where(Address.user_id == 2).options(selectinload(Address.user))).all()
    assert [a.user for a in addresses] == [sandy, sandy]
    assert all(a.user is sandy for a in addresses)


def test_selectinload_chains_to_the_next_relationship(session, User, Address, sql_log):
    statement = select(User).options(selectinload(User.addresses).selectinload(Address.user))
    users = session.scalars(statement).all()
    sql_log.clear()
    for user in users:
        for address in user.addresses:
            assert address.user is user
    assert sql_log.queries == []


def test_session_get_takes_loader_options(session, User, sql_log):
    sandy = session.get(User, 2, options=[selectinload(User.addresses)])
    assert len(sql_log.queries) == 2
    sql_log.clear()
    assert len(sandy.addresses) == 2
    assert sql_log.queries == []


@pytest.mark.minialchemy_only
def test_selectinload_is_batched_for_many_parents(engine, models, sql_log, monkeypatch):
    User = models.User
    monkeypatch.setattr(strategies, "SELECTIN_BATCH_SIZE", 2)
    with Session(engine) as session:
        users = session.scalars(select(User).options(selectinload(User.addresses)).order_by(User.id)).all()
        assert len(sql_log.queries) == 3  # the users, then two IN batches: (1, 2) and (3)
        assert [len(u.addresses) for u in users] == [1, 2, 0]


# --- joinedload and contains_eager ---------------------------------------------------------


def test_joinedload_loads_collections_in_the_same_select(session, User, sql_log):
    users = session.scalars(select(User).options(joinedload(User.addresses)).order_by(User.id)).unique().all()
    assert sql_log.queries == [
        "SELECT user_account.id, user_account.name, user_account.fullname, address_1.id AS id_1, "
        "address_1.email_address, address_1.user_id \n"
        "FROM user_account LEFT OUTER JOIN address AS address_1 ON user_account.id = address_1.user_id "
        "ORDER BY user_account.id"
    ]
    sql_log.clear()
    assert [(u.name, sorted(emails(u))) for u in users] == EMAILS_BY_USER
    assert sql_log.queries == []


def test_joinedload_of_a_collection_requires_unique(session, User):
    result = session.scalars(select(User).options(joinedload(User.addresses)))
    with pytest.raises(InvalidRequestError, match="unique\\(\\) method must be invoked"):
        result.all()


def test_joinedload_rows_unique_by_identity(session, User):
    rows = session.execute(select(User).options(joinedload(User.addresses)).order_by(User.id)).unique().all()
    assert [row.User.name for row in rows] == ["spongebob", "sandy", "patrick"]


def test_joinedload_gives_the_identity_map_objects(session, User, Address):
    address = session.get(Address, 3)
    sandy = session.scalars(select(User).where(User.id == 2).options(joinedload(User.addresses))).unique().one()
    assert any(a is address for a in sandy.addresses)
    assert sandy is session.get(User, 2)


def test_joinedload_of_a_many_to_one_needs_no_unique(session, Address, sql_log):
    addresses = session.scalars(select(Address).options(joinedload(Address.user)).order_by(Address.id)).all()
    assert len(sql_log.queries) == 1
    assert "LEFT OUTER JOIN user_account AS user_account_1 ON user_account_1.id = address.user_id" in sql_log.queries[0]
    assert [a.user.name for a in addresses] == ["spongebob", "sandy", "sandy"]
    assert len(sql_log.queries) == 1


def test_joinedload_chains(session, User, Address, sql_log):
    statement = select(User).options(joinedload(User.addresses).joinedload(Address.user)).order_by(User.id)
    users = session.scalars(statement).unique().all()
    assert all(address.user is user for user in users for address in user.addresses)
    assert len(sql_log.queries) == 1


def test_session_get_takes_joinedload(session, User, sql_log):
    sandy = session.get(User, 2, options=[joinedload(User.addresses)])
    assert len(sandy.addresses) == 2
    assert len(sql_log.queries) == 1


@pytest.mark.minialchemy_only
def test_joinedload_of_a_collection_with_limit_is_refused_naming_selectinload(session, User):
    statement = select(User).options(joinedload(User.addresses)).order_by(User.id).limit(2)
    with pytest.raises(InvalidRequestError, match=r"selectinload\(User.addresses\)"):
        session.scalars(statement)
    assert len(session.scalars(select(User).options(selectinload(User.addresses)).limit(2)).all()) == 2


def test_contains_eager_fills_the_collection_from_the_join(session, User, Address, sql_log):
    statement = (
        select(User)
        .join(User.addresses)
        .where(Address.email_address.like("%sqlalchemy.org"))
        .options(contains_eager(User.addresses))
        .order_by(User.id)
    )
    users = session.scalars(statement).unique().all()
    assert len(sql_log.queries) == 1
    # only the addresses the WHERE let through: that is what contains_eager means
    assert [(u.name, emails(u)) for u in users] == [
        ("spongebob", ["spongebob@sqlalchemy.org"]),
        ("sandy", ["sandy@sqlalchemy.org"]),
    ]
    assert len(sql_log.queries) == 1


def test_contains_eager_from_an_aliased_join(session, User, Address):
    address = aliased(Address)
    statement = (
        select(User)
        .join(User.addresses.of_type(address))
        .options(contains_eager(User.addresses.of_type(address)))
        .order_by(User.id)
    )
    users = session.scalars(statement).unique().all()
    assert [len(u.addresses) for u in users] == [1, 2]


def test_lazy_joined_default(seeded_engine_for, sql_log):
    models = make_models_with("joined")
    with Session(seeded_engine_for(models)) as session:
        sql_log.clear()
        users = session.scalars(select(models.User).order_by(models.User.id)).unique().all()
        assert [len(u.addresses) for u in users] == [1, 2, 0]
        assert len(sql_log.queries) == 1


# --- lazyload, raiseload, noload ------------------------------------------------------------


def test_lazy_loading_costs_one_select_per_parent(session, User, sql_log):
    users = session.scalars(select(User)).all()
    for user in users:
        user.addresses
    assert len(sql_log.queries) == 1 + len(users)


def test_raiseload_makes_access_raise_naming_the_attribute(session, User, sql_log):
    sandy = session.scalars(select(User).where(User.id == 2).options(raiseload(User.addresses))).one()
    sql_log.clear()
    with pytest.raises(InvalidRequestError, match="'User.addresses' is not available due to lazy='raise'"):
        sandy.addresses
    assert sql_log.queries == []


def test_raiseload_sql_only_still_gives_a_many_to_one_from_the_identity_map(session, User, Address):
    sandy = session.get(User, 2)
    address = session.scalars(select(Address).where(Address.id == 2).options(raiseload(Address.user, sql_only=True))).one()
    assert address.user is sandy
    other = session.scalars(select(Address).where(Address.id == 1).options(raiseload(Address.user, sql_only=True))).one()
    with pytest.raises(InvalidRequestError, match="Address.user"):
        other.user


def test_noload_reads_as_empty_without_sql(session, User, sql_log):
    sandy = session.scalars(select(User).where(User.id == 2).options(noload(User.addresses))).one()
    sql_log.clear()
    assert sandy.addresses == []
    assert sql_log.queries == []


def test_options_apply_to_objects_already_in_the_identity_map(session, User):
    sandy = session.get(User, 2)
    again = session.scalars(select(User).where(User.id == 2).options(raiseload(User.addresses))).one()
    assert again is sandy
    with pytest.raises(InvalidRequestError, match="User.addresses"):
        sandy.addresses


def test_options_leave_loaded_collections_alone(session, User):
    sandy = session.get(User, 2)
    assert len(sandy.addresses) == 2
    session.scalars(select(User).where(User.id == 2).options(noload(User.addresses))).one()
    assert len(sandy.addresses) == 2


# --- relationship(lazy=...) defaults ---------------------------------------------------------


def make_models_with(lazy):
    return make_models(lazy=lazy)


def test_lazy_selectin_default_loads_with_every_query(seeded_engine_for, sql_log):
    models = make_models_with("selectin")
    with Session(seeded_engine_for(models)) as session:
        sql_log.clear()
        users = session.scalars(select(models.User).order_by(models.User.id)).all()
        assert len(sql_log.queries) == 2
        sql_log.clear()
        assert [len(u.addresses) for u in users] == [1, 2, 0]
        assert sql_log.queries == []


def test_lazy_selectin_default_applies_to_session_get(seeded_engine_for, sql_log):
    models = make_models_with("selectin")
    with Session(seeded_engine_for(models)) as session:
        sql_log.clear()
        sandy = session.get(models.User, 2)
        assert len(sql_log.queries) == 2
        assert len(sandy.addresses) == 2


def test_lazyload_option_overrides_a_selectin_default(seeded_engine_for, sql_log):
    models = make_models_with("selectin")
    with Session(seeded_engine_for(models)) as session:
        sql_log.clear()
        users = session.scalars(select(models.User).options(lazyload(models.User.addresses))).all()
        assert len(sql_log.queries) == 1
        assert sum(len(u.addresses) for u in users) == 3
        assert len(sql_log.queries) == 1 + len(users)


def test_lazy_raise_default_raises_on_access(seeded_engine_for):
    models = make_models_with("raise")
    with Session(seeded_engine_for(models)) as session:
        sandy = session.get(models.User, 2)
        with pytest.raises(InvalidRequestError, match="User.addresses"):
            sandy.addresses
        loaded = session.scalars(select(models.User).options(selectinload(models.User.addresses))).all()
        assert sum(len(u.addresses) for u in loaded) == 3


def test_lazyload_option_overrides_a_raise_default(seeded_engine_for):
    models = make_models_with("raise")
    with Session(seeded_engine_for(models)) as session:
        sandy = session.scalars(select(models.User).where(models.User.id == 2).options(lazyload(models.User.addresses))).one()
        assert len(sandy.addresses) == 2


def test_lazy_noload_default_reads_empty(seeded_engine_for, sql_log):
    models = make_models_with("noload")
    with Session(seeded_engine_for(models)) as session:
        sandy = session.get(models.User, 2)
        sql_log.clear()
        assert sandy.addresses == []
        assert sql_log.queries == []


def test_pending_objects_of_a_raise_relationship_get_an_empty_collection(seeded_engine_for):
    models = make_models_with("raise")
    user = models.User(name="squidward")
    assert user.addresses == []


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.minialchemy_only
def test_option_on_a_column_attribute_is_an_argument_error(User):
    with pytest.raises(ArgumentError, match="User.name.*not a relationship"):
        selectinload(User.name)


def test_option_given_a_string_is_an_argument_error():
    with pytest.raises(ArgumentError, match="[Ss]trings are not accepted"):
        selectinload("addresses")


@pytest.mark.minialchemy_only
def test_chained_option_must_follow_the_path(User, Address):
    with pytest.raises(ArgumentError, match="User.addresses"):
        selectinload(User.addresses).selectinload(User.addresses)


@pytest.mark.minialchemy_only
def test_unknown_lazy_value_is_an_argument_error():
    with pytest.raises(ArgumentError, match="lazy='sometimes'"):
        relationship("Address", lazy="sometimes")


@pytest.mark.minialchemy_only
def test_loader_options_are_shown_by_repr(User, Address):
    option = selectinload(User.addresses).raiseload(Address.user)
    assert repr(option) == "selectinload(User.addresses).raiseload(Address.user)"


# --- many-to-many (secondary=) -----------------------------------------------------------------


@pytest.fixture
def blog():
    """Posts and tags through an association table: p1 has a and b, p2 has b, p3 none."""
    from typing import List as ListOf

    from minialchemy import Column, ForeignKey, Table, create_engine
    from minialchemy.orm import DeclarativeBase, Mapped, mapped_column

    class Base(DeclarativeBase):
        pass

    post_tag = Table(
        "post_tag",
        Base.metadata,
        Column("post_id", ForeignKey("post.id"), primary_key=True),
        Column("tag_id", ForeignKey("tag.id"), primary_key=True),
    )

    class Post(Base):
        __tablename__ = "post"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str]
        tags: Mapped[ListOf["Tag"]] = relationship(secondary=post_tag, back_populates="posts")

    class Tag(Base):
        __tablename__ = "tag"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]
        posts: Mapped[ListOf["Post"]] = relationship(secondary=post_tag, back_populates="tags")

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        a, b = Tag(name="a"), Tag(name="b")
        session.add_all([Post(title="p1", tags=[a, b]), Post(title="p2", tags=[b]), Post(title="p3")])
        session.commit()
    yield SimpleNamespace(engine=engine, Post=Post, Tag=Tag, post_tag=post_tag)
    engine.dispose()


def tag_names(posts):
    return [(post.title, sorted(tag.name for tag in post.tags)) for post in posts]


def test_selectinload_of_a_many_to_many(blog, sql_log):
    Post = blog.Post
    with Session(blog.engine) as session:
        sql_log.clear()
        posts = session.scalars(select(Post).options(selectinload(Post.tags)).order_by(Post.id)).all()
        assert len(sql_log.queries) == 2
        assert tag_names(posts) == [("p1", ["a", "b"]), ("p2", ["b"]), ("p3", [])]
        assert posts[0].tags[1] is posts[1].tags[0]  # tag b, one object
        assert len(sql_log.queries) == 2


def test_selectin_loaded_many_to_many_flushes_only_what_changed(blog):
    Post = blog.Post
    with Session(blog.engine) as session:
        posts = session.scalars(select(Post).options(selectinload(Post.tags)).order_by(Post.id)).all()
        posts[0].tags.remove(posts[0].tags[0])
        session.flush()
        assert sorted(session.execute(select(blog.post_tag)).all()) == [(1, 2), (2, 2)]


def test_joinedload_of_a_many_to_many(blog, sql_log):
    Post = blog.Post
    with Session(blog.engine) as session:
        sql_log.clear()
        posts = session.scalars(select(Post).options(joinedload(Post.tags)).order_by(Post.id)).unique().all()
        assert len(sql_log.queries) == 1
        assert "LEFT OUTER JOIN" in sql_log.queries[0] and "post_tag AS post_tag_1" in sql_log.queries[0]
        assert tag_names(posts) == [("p1", ["a", "b"]), ("p2", ["b"]), ("p3", [])]


def test_any_of_a_many_to_many(blog):
    Post, Tag = blog.Post, blog.Tag
    with Session(blog.engine) as session:
        assert session.scalars(select(Post.title).where(Post.tags.any(Tag.name == "b")).order_by(Post.id)).all() == ["p1", "p2"]
        assert session.scalars(select(Post.title).where(~Post.tags.any())).all() == ["p3"]
