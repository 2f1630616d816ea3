"""ORM-enabled UPDATE and DELETE: one statement for many rows, and the
``synchronize_session`` option that brings the objects already in the Session
up to date with it."""

import pytest

from minialchemy import delete, inspect, select, update
from minialchemy.exc import InvalidRequestError

SYNCHRONIZING = ["auto", "evaluate", "fetch"]


def rename_sandy(session, User, synchronize_session):
    return session.execute(
        update(User).where(User.name == "sandy").values(fullname="Sandy Squirrel"),
        execution_options={"synchronize_session": synchronize_session},
    )


def test_orm_update_emits_one_update_statement(session, User, sql_log):
    session.execute(update(User).where(User.name == "sandy").values(fullname="Sandy Squirrel"))
    assert sql_log.queries == ["UPDATE user_account SET fullname=? WHERE user_account.name = ?"]


def test_orm_update_reports_the_matched_row_count(session, User):
    result = session.execute(update(User).where(User.id > 1).values(fullname="Somebody"))
    assert result.rowcount == 2


@pytest.mark.parametrize("synchronize_session", SYNCHRONIZING)
def test_orm_update_refreshes_matching_objects(session, User, synchronize_session):
    sandy = session.get(User, 2)
    rename_sandy(session, User, synchronize_session)
    assert sandy.fullname == "Sandy Squirrel"
    assert sandy not in session.dirty
    assert not session.is_modified(sandy)


@pytest.mark.parametrize("synchronize_session", SYNCHRONIZING)
def test_orm_update_leaves_other_objects_alone(session, User, synchronize_session):
    spongebob = session.get(User, 1)
    rename_sandy(session, User, synchronize_session)
    assert spongebob.fullname == "Spongebob Squarepants"


def test_orm_update_evaluate_sets_the_value_without_a_select(session, User, sql_log):
    sandy = session.get(User, 2)
    rename_sandy(session, User, "evaluate")
    sql_log.clear()
    assert sandy.fullname == "Sandy Squirrel"
    assert sql_log.statements == []


def test_orm_update_without_synchronize_leaves_objects_stale(session, User):
    sandy = session.get(User, 2)
    rename_sandy(session, User, False)
    assert sandy.fullname == "Sandy Cheeks"  # stale: the row says "Sandy Squirrel"
    assert sandy not in session.dirty
    session.expire(sandy)
    assert sandy.fullname == "Sandy Squirrel"


def test_orm_update_flushes_pending_changes_first(session, User, sql_log):
    sandy = session.get(User, 2)
    sandy.name = "sandra"
    sql_log.clear()
    session.execute(update(User).where(User.name == "sandra").values(fullname="Sandra Cheeks"))
    assert sql_log.queries == [
        "UPDATE user_account SET name=? WHERE user_account.id = ?",  # the autoflush
        "UPDATE user_account SET fullname=? WHERE user_account.name = ?",
    ]
    assert sandy.fullname == "Sandra Cheeks"


def test_orm_update_evaluate_refuses_criteria_it_cannot_evaluate(session, User):
    session.get(User, 2)
    with pytest.raises(InvalidRequestError, match="synchronize_session"):
        session.execute(
            update(User).where(User.name.like("san%")).values(fullname="Sandy Squirrel"),
            execution_options={"synchronize_session": "evaluate"},
        )
    # refused before anything was sent
    assert session.scalar(select(User.fullname).where(User.id == 2)) == "Sandy Cheeks"


def test_orm_update_auto_falls_back_to_fetch(session, User):
    # LIKE cannot be evaluated in Python, so "auto" asks the database which rows matched.
    sandy = session.get(User, 2)
    session.execute(update(User).where(User.name.like("san%")).values(fullname="Sandy Squirrel"))
    assert sandy.fullname == "Sandy Squirrel"
    assert sandy not in session.dirty


@pytest.mark.parametrize("synchronize_session", SYNCHRONIZING)
def test_orm_delete_marks_matching_objects_deleted(session, User, synchronize_session):
    patrick = session.get(User, 3)
    session.execute(
        delete(User).where(User.name == "patrick"),
        execution_options={"synchronize_session": synchronize_session},
    )
    assert patrick not in session
    assert inspect(patrick).deleted


def test_orm_delete_emits_one_delete_statement(session, User, sql_log):
    session.execute(delete(User).where(User.name == "patrick"))
    assert sql_log.queries == ["DELETE FROM user_account WHERE user_account.name = ?"]


def test_orm_delete_without_synchronize_leaves_objects_in_the_session(session, User):
    patrick = session.get(User, 3)
    session.execute(
        delete(User).where(User.name == "patrick"),
        execution_options={"synchronize_session": False},
    )
    assert patrick in session
    assert inspect(patrick).persistent


def test_orm_delete_evaluate_refuses_criteria_it_cannot_evaluate(session, User):
    session.get(User, 3)
    with pytest.raises(InvalidRequestError, match="synchronize_session"):
        session.execute(
            delete(User).where(User.name.like("pat%")),
            execution_options={"synchronize_session": "evaluate"},
        )


def test_orm_delete_auto_falls_back_to_fetch(session, User):
    patrick = session.get(User, 3)
    session.execute(delete(User).where(User.name.like("pat%")))
    assert patrick not in session
    assert inspect(patrick).deleted


def test_orm_delete_is_undone_by_rollback(session, User):
    patrick = session.get(User, 3)
    session.execute(delete(User).where(User.name == "patrick"))
    session.rollback()
    assert patrick in session
    assert patrick.fullname == "Patrick Star"


# --- ORM bulk UPDATE by primary key: update(User) with a list of parameter dicts -------------


def all_users(session, User):
    return [tuple(row) for row in session.execute(select(User.id, User.name, User.fullname).order_by(User.id))]


def test_bulk_update_by_primary_key_changes_only_the_named_rows(session, User, sql_log):
    session.execute(update(User), [{"id": 2, "name": "sandy2"}])
    assert sql_log.matching("UPDATE") == ["UPDATE user_account SET name=? WHERE user_account.id = ?"]
    assert all_users(session, User) == [
        (1, "spongebob", "Spongebob Squarepants"),
        (2, "sandy2", "Sandy Cheeks"),
        (3, "patrick", "Patrick Star"),
    ]


def test_bulk_update_by_primary_key_groups_dicts_naming_different_columns(session, User, sql_log):
    session.execute(
        update(User),
        [{"id": 1, "name": "sb"}, {"id": 3, "fullname": "Patrick S."}, {"id": 2, "name": "sd"}],
    )
    assert sorted(sql_log.matching("UPDATE")) == [
        "UPDATE user_account SET fullname=? WHERE user_account.id = ?",
        "UPDATE user_account SET name=? WHERE user_account.id = ?",
    ]
    assert all_users(session, User) == [
        (1, "sb", "Spongebob Squarepants"),
        (2, "sd", "Sandy Cheeks"),
        (3, "patrick", "Patrick S."),
    ]


def test_bulk_update_by_primary_key_refuses_a_dict_without_the_key_before_writing(session, User, sql_log):
    with pytest.raises(InvalidRequestError, match="primary key"):
        session.execute(update(User), [{"id": 2, "name": "first"}, {"name": "everybody"}])
    assert sql_log.matching("UPDATE") == []
    assert [name for _, name, _ in all_users(session, User)] == ["spongebob", "sandy", "patrick"]


def test_bulk_update_by_primary_key_synchronizes_objects_in_the_session(session, User):
    sandy = session.get(User, 2)
    session.execute(update(User), [{"id": 2, "fullname": "Sandy Squirrel"}])
    assert sandy.fullname == "Sandy Squirrel"
    assert sandy not in session.dirty


def test_bulk_update_by_primary_key_refuses_fetch_synchronization(session, User):
    with pytest.raises(InvalidRequestError, match="fetch"):
        session.execute(
            update(User), [{"id": 2, "name": "x"}], execution_options={"synchronize_session": "fetch"}
        )


def test_bulk_update_by_primary_key_of_a_missing_row_raises_stale_data(session, User):
    from minialchemy.orm.exc import StaleDataError

    with pytest.raises(StaleDataError):
        session.execute(update(User), [{"id": 99, "name": "nobody"}])


@pytest.mark.parametrize("synchronize_session", SYNCHRONIZING)
def test_orm_update_appends_to_a_string_with_plus(session, User, synchronize_session):
    patrick = session.get(User, 3)
    session.execute(
        update(User).where(User.id == 3).values(name=User.name + "!"),
        execution_options={"synchronize_session": synchronize_session},
    )
    assert patrick.name == "patrick!"
    assert session.scalar(select(User.name).where(User.id == 3)) == "patrick!"


def test_orm_update_evaluate_prepends_with_the_string_on_the_left(session, User):
    patrick = session.get(User, 3)
    session.execute(
        update(User).where(User.name + "?" == "patrick?").values(name="<" + User.name),
        execution_options={"synchronize_session": "evaluate"},
    )
    assert patrick.name == "<patrick"
    assert session.scalar(select(User.name).where(User.id == 3)) == "<patrick"
