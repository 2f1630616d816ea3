"""Statements: select / insert / update / delete / text, run and rendered with str()."""

import pytest

from minialchemy import delete, exc, func, insert, select, text, update


def test_str_of_select_with_where_matches_sqlalchemy(user_table):
    stmt = select(user_table).where(user_table.c.name == "spongebob")
    assert str(stmt) == (
        "SELECT user_account.id, user_account.name, user_account.fullname \n"
        "FROM user_account \n"
        "WHERE user_account.name = :name_1"
    )


def test_str_of_insert_with_values_matches_sqlalchemy(user_table):
    stmt = insert(user_table).values(name="spongebob", fullname="Spongebob Squarepants")
    assert str(stmt) == "INSERT INTO user_account (name, fullname) VALUES (:name, :fullname)"


def test_str_of_update_matches_sqlalchemy(user_table):
    stmt = update(user_table).where(user_table.c.name == "patrick").values(fullname="Patrick Star")
    assert str(stmt) == "UPDATE user_account SET fullname=:fullname WHERE user_account.name = :name_1"


def test_str_of_delete_matches_sqlalchemy(user_table):
    stmt = delete(user_table).where(user_table.c.name == "patrick")
    assert str(stmt) == "DELETE FROM user_account WHERE user_account.name = :name_1"


def test_str_of_select_from_two_tables_lists_both_in_from(user_table, address_table):
    stmt = select(user_table.c.name, address_table.c.email_address).where(
        user_table.c.id == address_table.c.user_id
    )
    assert str(stmt) == (
        "SELECT user_account.name, address.email_address \n"
        "FROM user_account, address \n"
        "WHERE user_account.id = address.user_id"
    )


def test_select_all_columns_of_a_table(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        rows = conn.execute(select(user_table).order_by(user_table.c.id)).all()
    assert rows == [
        (1, "spongebob", "Spongebob Squarepants"),
        (2, "sandy", "Sandy Cheeks"),
        (3, "patrick", "Patrick Star"),
    ]


def test_select_with_where_returns_matching_row(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        row = conn.execute(select(user_table).where(user_table.c.name == "sandy")).one()
    assert row == (2, "sandy", "Sandy Cheeks")


def test_where_called_twice_ands_the_conditions(tutorial_engine, user_table):
    stmt = select(user_table.c.name).where(user_table.c.name.like("s%")).where(user_table.c.id > 1)
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalars().all() == ["sandy"]


def test_where_with_several_arguments_ands_them(tutorial_engine, user_table):
    stmt = select(user_table.c.name).where(user_table.c.name.like("s%"), user_table.c.id > 1)
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalars().all() == ["sandy"]


def test_filter_by_matches_keyword_columns(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        row = conn.execute(select(user_table).filter_by(name="patrick")).one()
    assert row == (3, "patrick", "Patrick Star")


def test_filter_by_with_two_keywords_ands_them(tutorial_engine, user_table):
    stmt = select(user_table.c.id).filter_by(name="sandy", fullname="Sandy Cheeks")
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalars().all() == [2]


def test_order_by_limit_and_offset_page_through_rows(tutorial_engine, user_table):
    stmt = select(user_table.c.name).order_by(user_table.c.name).limit(2).offset(1)
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalars().all() == ["sandy", "spongebob"]


def test_limit_alone_caps_row_count(tutorial_engine, user_table):
    stmt = select(user_table.c.id).order_by(user_table.c.id).limit(2)
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalars().all() == [1, 2]


def test_offset_alone_skips_rows(tutorial_engine, user_table):
    stmt = select(user_table.c.id).order_by(user_table.c.id).offset(2)
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalars().all() == [3]


def test_count_with_select_from_counts_table_rows(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(user_table)).scalar() == 3


def test_count_with_select_from_and_where(tutorial_engine, address_table):
    stmt = select(func.count()).select_from(address_table).where(address_table.c.user_id == 2)
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalar_one() == 2


def test_select_columns_from_two_tables_joined_in_where(tutorial_engine, user_table, address_table):
    stmt = (
        select(user_table.c.name, address_table.c.email_address)
        .where(user_table.c.id == address_table.c.user_id)
        .order_by(address_table.c.id)
    )
    with tutorial_engine.connect() as conn:
        rows = conn.execute(stmt).all()
    assert rows == [
        ("spongebob", "spongebob@sqlalchemy.org"),
        ("sandy", "sandy@sqlalchemy.org"),
        ("sandy", "sandy@squirrelpower.org"),
    ]


def test_insert_with_values_adds_a_row(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(user_table).values(name="spongebob", fullname="Spongebob Squarepants"))
    with engine.connect() as conn:
        assert conn.execute(select(user_table)).all() == [(1, "spongebob", "Spongebob Squarepants")]


def test_insert_many_rows_with_list_of_dicts(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(user_table),
            [{"name": "sandy", "fullname": "Sandy Cheeks"}, {"name": "patrick", "fullname": "Patrick Star"}],
        )
    with engine.connect() as conn:
        rows = conn.execute(select(user_table).order_by(user_table.c.id)).all()
    assert rows == [(1, "sandy", "Sandy Cheeks"), (2, "patrick", "Patrick Star")]


def test_insert_with_explicit_primary_key_keeps_it(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(user_table).values(id=42, name="gary"))
        assert conn.execute(select(user_table.c.id)).scalar_one() == 42


def test_update_changes_matching_rows_only(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        conn.execute(update(user_table).where(user_table.c.name == "patrick").values(fullname="Patrick Star II"))
    with tutorial_engine.connect() as conn:
        rows = conn.execute(select(user_table.c.fullname).order_by(user_table.c.id)).scalars().all()
    assert rows == ["Spongebob Squarepants", "Sandy Cheeks", "Patrick Star II"]


def test_update_can_use_a_column_expression(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        conn.execute(
            update(user_table).where(user_table.c.id == 1).values(fullname=func.lower(user_table.c.fullname))
        )
        assert conn.execute(select(user_table.c.fullname).where(user_table.c.id == 1)).scalar() == (
            "spongebob squarepants"
        )


def test_update_without_where_changes_every_row(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        conn.execute(update(user_table).values(fullname="anonymous"))
        values = conn.execute(select(user_table.c.fullname)).scalars().all()
    assert values == ["anonymous"] * 3


def test_delete_removes_matching_rows_only(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        conn.execute(delete(user_table).where(user_table.c.name == "patrick"))
    with tutorial_engine.connect() as conn:
        names = conn.execute(select(user_table.c.name).order_by(user_table.c.id)).scalars().all()
    assert names == ["spongebob", "sandy"]


def test_text_with_named_binds(tutorial_engine):
    with tutorial_engine.connect() as conn:
        result = conn.execute(
            text("SELECT name FROM user_account WHERE id > :low AND id < :high"), {"low": 1, "high": 3}
        )
        assert result.scalars().all() == ["sandy"]


def test_text_without_binds(tutorial_engine):
    with tutorial_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM address")).scalar() == 3


def test_text_insert_with_binds_stores_values(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        conn.execute(
            text("INSERT INTO user_account (name, fullname) VALUES (:name, :fullname)"),
            {"name": "gary", "fullname": "Gary the Snail"},
        )
    with tutorial_engine.connect() as conn:
        row = conn.execute(select(user_table).where(user_table.c.name == "gary")).one()
    assert row == (4, "gary", "Gary the Snail")


def test_text_executemany_with_list_of_dicts(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        conn.execute(
            text("INSERT INTO user_account (name) VALUES (:name)"),
            [{"name": "gary"}, {"name": "squidward"}],
        )
        assert conn.execute(select(func.count()).select_from(user_table)).scalar() == 5


def test_text_with_missing_bind_raises_statement_error_naming_it(tutorial_engine):
    with tutorial_engine.connect() as conn:
        with pytest.raises(exc.StatementError, match="wanted_name"):
            conn.execute(
                text("SELECT id FROM user_account WHERE name = :wanted_name AND id > :low"), {"low": 0}
            )


def test_text_bind_names_are_not_confused_with_time_literals(tutorial_engine):
    with tutorial_engine.connect() as conn:
        assert conn.execute(text("SELECT '12:30' || :suffix"), {"suffix": "!"}).scalar() == "12:30!"
