"""The Session's public API: making sessions, transactions as blocks, getting,
adding, expiring, refreshing and expunging objects, and the new / dirty / deleted
collections."""

import pytest

from minialchemy import func, inspect, select
from minialchemy.exc import ArgumentError, InvalidRequestError
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

SELECT_USER_BY_ID = (
    "SELECT user_account.id, user_account.name, user_account.fullname \n"
    "FROM user_account \n"
    "WHERE user_account.id = ?"
)


def names_in_database(engine, User):
    with Session(engine) as session:
        return session.scalars(select(User.name).order_by(User.id)).all()


# --- making sessions -------------------------------------------------------------------


def test_session_as_context_manager_closes_on_exit(engine, User):
    with Session(engine) as session:
        sandy = session.get(User, 2)
        assert sandy in session
    assert sandy not in session
    assert inspect(sandy).detached


def test_sessionmaker_makes_sessions_bound_to_the_engine(engine, User):
    make_session = sessionmaker(engine)
    with make_session() as session:
        assert isinstance(session, Session)
        assert session.get(User, 1).name == "spongebob"


def test_sessionmaker_passes_its_options_on(engine, User):
    make_session = sessionmaker(engine, expire_on_commit=False)
    with make_session() as session:
        sandy = session.get(User, 2)
        session.commit()
        assert inspect(sandy).expired_attributes == set()


def test_sessionmaker_begin_commits_at_the_end_of_the_block(engine, User):
    make_session = sessionmaker(engine)
    with make_session.begin() as session:
        session.add(User(name="squidward"))
    assert names_in_database(engine, User)[-1] == "squidward"


def test_sessionmaker_begin_rolls_back_and_closes_when_the_block_raises(engine, User):
    make_session = sessionmaker(engine)
    with pytest.raises(ZeroDivisionError):
        with make_session.begin() as session:
            squidward = User(name="squidward")
            session.add(squidward)
            session.flush()
            1 / 0
    assert squidward not in session
    assert "squidward" not in names_in_database(engine, User)


def test_session_begin_commits_at_the_end_of_the_block(engine, User):
    with Session(engine) as session:
        with session.begin():
            session.add(User(name="squidward"))
    assert "squidward" in names_in_database(engine, User)


def test_session_begin_rolls_back_when_the_block_raises(engine, User):
    with Session(engine) as session:
        with pytest.raises(ZeroDivisionError):
            with session.begin():
                session.add(User(name="squidward"))
                session.flush()
                1 / 0
    assert "squidward" not in names_in_database(engine, User)


def test_autoflush_false_leaves_pending_objects_unflushed(engine, User):
    with Session(engine, autoflush=False) as session:
        session.add(User(name="squidward"))
        assert session.scalars(select(User).where(User.name == "squidward")).all() == []


# --- adding and getting ----------------------------------------------------------------


def test_add_all_adds_every_object(session, User):
    squidward, krabs = User(name="squidward"), User(name="ehkrabs")
    session.add_all([squidward, krabs])
    assert squidward in session.new and krabs in session.new
    session.flush()
    assert (squidward.id, krabs.id) == (4, 5)


def test_object_in_session(session, User):
    squidward = User(name="squidward")
    assert squidward not in session
    session.add(squidward)
    assert squidward in session


def test_get_returns_same_object_without_select(session, User, sql_log):
    sandy = session.get(User, 2)
    sql_log.clear()
    assert session.get(User, 2) is sandy
    assert sql_log.statements == []


def test_get_of_an_object_not_yet_loaded_emits_select(session, User, sql_log):
    sandy = session.get(User, 2)
    assert sandy.name == "sandy"
    assert sql_log.queries == [SELECT_USER_BY_ID]


def test_get_of_a_missing_row_returns_none(session, User, sql_log):
    assert session.get(User, 99) is None
    assert sql_log.queries == [SELECT_USER_BY_ID]


def test_get_with_the_wrong_number_of_key_values_raises(session, User):
    with pytest.raises(InvalidRequestError):
        session.get(User, (1, 2))


@pytest.mark.minialchemy_only
@pytest.mark.parametrize(
    "option",
    [{"with_for_update": True}, {"identity_token": "shard"}, {"execution_options": {"yield_per": 5}}, {"bind_arguments": {"mapper": None}}],
)
def test_get_refuses_options_it_does_not_implement_even_on_a_hit(session, User, sql_log, option):
    sandy = session.get(User, 2)
    with pytest.raises(ArgumentError, match=f"{next(iter(option))} is not supported"):
        session.get(User, 2, **option)
    with pytest.raises(ArgumentError):
        session.get(User, 99, **option)
    assert sql_log.queries == [SELECT_USER_BY_ID]
    assert session.get(User, 2) is sandy


def test_scalars_returns_objects(session, User):
    users = session.scalars(select(User).order_by(User.id)).all()
    assert [user.name for user in users] == ["spongebob", "sandy", "patrick"]


def test_rows_of_an_entity_select_hold_the_object(session, User):
    rows = session.execute(select(User).order_by(User.id)).all()
    assert [len(row) for row in rows] == [1, 1, 1]
    assert rows[1].User is rows[1][0] is session.get(User, 2)
    assert tuple(rows[0]) == (session.get(User, 1),)


def test_an_entity_select_can_be_taken_row_by_row_or_as_mappings(session, User):
    result = session.execute(select(User).order_by(User.id))
    first = result.fetchone()
    assert first.User.name == "spongebob"
    assert [row.User.name for row in result.fetchmany(1)] == ["sandy"]
    assert [mapping["User"].name for mapping in result.mappings().all()] == ["patrick"]
    assert result.all() == []  # consumed


def test_unique_rows_of_an_entity_select(session, User, Address):
    # sandy has two addresses: her row comes twice from the implicit join
    result = session.execute(select(User).where(User.id == Address.user_id).order_by(User.id))
    assert [row.User.name for row in result.unique().all()] == ["spongebob", "sandy"]


def test_scalars_returns_the_same_objects_as_get(session, User):
    sandy = session.get(User, 2)
    assert session.scalars(select(User).where(User.id == 2)).one() is sandy


def test_scalar_returns_the_first_column_of_the_first_row(session, User):
    assert session.scalar(select(func.count()).select_from(User)) == 3
    assert session.scalar(select(User).where(User.name == "sandy")).id == 2
    assert session.scalar(select(User).where(User.name == "nobody")) is None


# --- expiring, refreshing, expunging ---------------------------------------------------


def test_expire_one_attribute_reloads_it_on_access(session, User, sql_log):
    sandy = session.get(User, 2)
    session.expire(sandy, ["fullname"])
    assert "fullname" not in sandy.__dict__
    assert "name" in sandy.__dict__
    sql_log.clear()
    assert sandy.fullname == "Sandy Cheeks"
    # only the expired column is selected
    assert sql_log.queries == [
        "SELECT user_account.fullname \nFROM user_account \nWHERE user_account.id = ?"
    ]


def test_expire_discards_unflushed_changes(session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    session.expire(sandy)
    assert sandy.fullname == "Sandy Cheeks"
    assert sandy not in session.dirty


def test_expire_all_expires_every_object(session, User):
    spongebob, sandy = session.get(User, 1), session.get(User, 2)
    session.expire_all()
    assert "name" not in spongebob.__dict__
    assert "name" not in sandy.__dict__
    assert sandy.name == "sandy"


def test_refresh_reloads_at_once(session, User, sql_log):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    sql_log.clear()
    session.refresh(sandy)
    assert sql_log.queries == [SELECT_USER_BY_ID]  # no UPDATE: refresh does not flush
    sql_log.clear()
    assert sandy.fullname == "Sandy Cheeks"
    assert sql_log.statements == []


def test_expunge_removes_the_object_from_the_session(session, User, sql_log):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    session.expunge(sandy)
    assert sandy not in session
    sql_log.clear()
    session.flush()
    assert sql_log.statements == []  # its change is no longer the session's business
    assert session.get(User, 2) is not sandy


def test_expunge_all_empties_the_session(session, User):
    sandy = session.get(User, 2)
    squidward = User(name="squidward")
    session.add(squidward)
    session.expunge_all()
    assert sandy not in session and squidward not in session
    assert len(session.identity_map) == 0
    assert len(session.new) == 0


# --- new, dirty, deleted ---------------------------------------------------------------


def test_new_dirty_deleted_follow_the_changes(session, User):
    squidward = User(name="squidward")
    sandy, patrick = session.get(User, 2), session.get(User, 3)
    session.add(squidward)
    sandy.fullname = "Sandy Squirrel"
    session.delete(patrick)
    assert list(session.new) == [squidward]
    assert list(session.dirty) == [sandy]
    assert list(session.deleted) == [patrick]
    session.flush()
    assert len(session.new) == len(session.dirty) == len(session.deleted) == 0


def test_new_is_an_identity_set_even_for_objects_that_compare_equal(engine):
    class Base(DeclarativeBase):
        pass

    class Clam(Base):
        __tablename__ = "clam"

        id: Mapped[int] = mapped_column(primary_key=True)

        def __eq__(self, other):
            return True

        def __hash__(self):
            return 1

    with Session(engine) as session:
        first, second = Clam(), Clam()
        session.add_all([first, second])
        assert len(session.new) == 2
        assert {id(obj) for obj in session.new} == {id(first), id(second)}
        assert type(session.new).__name__ == "IdentitySet"


def test_is_modified_reports_net_changes(session, User):
    sandy = session.get(User, 2)
    assert not session.is_modified(sandy)
    sandy.fullname = "Sandy Squirrel"
    assert session.is_modified(sandy)
    session.flush()
    assert not session.is_modified(sandy)


def test_is_modified_is_false_after_setting_the_same_value(session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Cheeks"
    assert not session.is_modified(sandy)


# --- the identity map ------------------------------------------------------------------


def test_identity_map_holds_loaded_objects_by_identity_key(session, User):
    spongebob = session.get(User, 1)
    sandy = session.get(User, 2)
    assert len(session.identity_map) == 2
    assert inspect(sandy).identity_key in session.identity_map
    assert set(session.identity_map) == {
        inspect(spongebob).identity_key,
        inspect(sandy).identity_key,
    }
    assert session.identity_map[inspect(sandy).identity_key] is sandy
