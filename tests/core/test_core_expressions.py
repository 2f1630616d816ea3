"""Column expressions: comparison operators, IN, LIKE, IS NULL, and_/or_/not_, ordering, func.

Each test runs the expression against the tutorial's rows (spongebob 1, sandy 2, patrick 3)
and checks which rows come back.
"""

import pytest

from minialchemy import and_, asc, desc, func, insert, not_, or_, select, update


def _names(engine, user_table, *criteria):
    stmt = select(user_table.c.name).where(*criteria).order_by(user_table.c.id)
    with engine.connect() as conn:
        return conn.execute(stmt).scalars().all()


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda c: c.id == 2, ["sandy"]),
        (lambda c: c.id != 2, ["spongebob", "patrick"]),
        (lambda c: c.id < 2, ["spongebob"]),
        (lambda c: c.id <= 2, ["spongebob", "sandy"]),
        (lambda c: c.id > 2, ["patrick"]),
        (lambda c: c.id >= 2, ["sandy", "patrick"]),
    ],
    ids=["eq", "ne", "lt", "le", "gt", "ge"],
)
def test_comparison_operators_filter_rows(tutorial_engine, user_table, build, expected):
    assert _names(tutorial_engine, user_table, build(user_table.c)) == expected


def test_comparison_with_value_on_the_left_filters_rows(tutorial_engine, user_table):
    assert _names(tutorial_engine, user_table, 2 < user_table.c.id) == ["patrick"]


def test_in_matches_any_listed_value(tutorial_engine, user_table):
    names = _names(tutorial_engine, user_table, user_table.c.name.in_(["sandy", "patrick", "nobody"]))
    assert names == ["sandy", "patrick"]


def test_not_in_excludes_listed_values(tutorial_engine, user_table):
    assert _names(tutorial_engine, user_table, user_table.c.name.not_in(["sandy", "patrick"])) == ["spongebob"]


def test_in_with_empty_list_matches_nothing(tutorial_engine, user_table):
    assert _names(tutorial_engine, user_table, user_table.c.name.in_([])) == []


def test_like_matches_pattern(tutorial_engine, user_table):
    assert _names(tutorial_engine, user_table, user_table.c.name.like("s%")) == ["spongebob", "sandy"]


def test_is_none_matches_null(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        conn.execute(insert(user_table).values(name="squidward"))
    assert _names(tutorial_engine, user_table, user_table.c.fullname.is_(None)) == ["squidward"]


def test_is_not_none_matches_non_null(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        conn.execute(insert(user_table).values(name="squidward"))
    names = _names(tutorial_engine, user_table, user_table.c.fullname.is_not(None))
    assert names == ["spongebob", "sandy", "patrick"]


def test_equals_none_matches_null(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        conn.execute(insert(user_table).values(name="squidward"))
    assert _names(tutorial_engine, user_table, user_table.c.fullname == None) == ["squidward"]  # noqa: E711


def test_and_requires_both_conditions(tutorial_engine, user_table):
    criterion = and_(user_table.c.name.like("s%"), user_table.c.id > 1)
    assert _names(tutorial_engine, user_table, criterion) == ["sandy"]


def test_or_accepts_either_condition(tutorial_engine, user_table):
    criterion = or_(user_table.c.name == "spongebob", user_table.c.name == "patrick")
    assert _names(tutorial_engine, user_table, criterion) == ["spongebob", "patrick"]


def test_and_inside_or_groups_correctly(tutorial_engine, user_table):
    criterion = or_(
        and_(user_table.c.name == "sandy", user_table.c.fullname == "Sandy Cheeks"),
        user_table.c.name == "patrick",
    )
    assert _names(tutorial_engine, user_table, criterion) == ["sandy", "patrick"]


def test_not_negates_condition(tutorial_engine, user_table):
    assert _names(tutorial_engine, user_table, not_(user_table.c.name == "sandy")) == ["spongebob", "patrick"]


def test_not_of_or_negates_the_whole_group(tutorial_engine, user_table):
    criterion = not_(or_(user_table.c.id == 1, user_table.c.id == 3))
    assert _names(tutorial_engine, user_table, criterion) == ["sandy"]


def test_desc_method_orders_descending(tutorial_engine, user_table):
    stmt = select(user_table.c.name).order_by(user_table.c.name.desc())
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalars().all() == ["spongebob", "sandy", "patrick"]


def test_desc_function_orders_descending(tutorial_engine, user_table):
    stmt = select(user_table.c.id).order_by(desc(user_table.c.id))
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalars().all() == [3, 2, 1]


def test_asc_function_orders_ascending(tutorial_engine, user_table):
    stmt = select(user_table.c.name).order_by(asc(user_table.c.name))
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalars().all() == ["patrick", "sandy", "spongebob"]


def test_func_count_counts_rows(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        assert conn.execute(select(func.count(user_table.c.id))).scalar() == 3


def test_func_max_returns_largest_value(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        assert conn.execute(select(func.max(user_table.c.id))).scalar() == 3


def test_func_lower_applies_to_each_row(tutorial_engine, user_table):
    stmt = select(func.lower(user_table.c.fullname)).order_by(user_table.c.id)
    with tutorial_engine.connect() as conn:
        assert conn.execute(stmt).scalars().all() == [
            "spongebob squarepants",
            "sandy cheeks",
            "patrick star",
        ]


def test_func_in_where_clause(tutorial_engine, user_table):
    assert _names(tutorial_engine, user_table, func.lower(user_table.c.fullname) == "patrick star") == ["patrick"]


def test_compared_value_becomes_a_bound_parameter(user_table):
    sql = str(select(user_table).where(user_table.c.name == "spongebob"))
    assert "spongebob" not in sql
    assert ":name_1" in sql


def test_every_compared_value_gets_its_own_parameter(user_table):
    sql = str(select(user_table).where(user_table.c.name == "a", user_table.c.fullname != "b"))
    assert "'a'" not in sql and "'b'" not in sql
    assert ":name_1" in sql and ":fullname_1" in sql


def test_plus_between_strings_is_concatenation(user_table):
    assert str(user_table.c.name + "!") == "user_account.name || :name_1"
    assert str("Mr. " + user_table.c.name) == ":name_1 || user_account.name"
    assert str(user_table.c.name + user_table.c.fullname) == "user_account.name || user_account.fullname"
    assert str(func.lower(user_table.c.name) + "x") == "lower(user_account.name) || :lower_1"


def test_plus_with_a_number_stays_arithmetic(user_table):
    assert str(user_table.c.id + 1) == "user_account.id + :id_1"
    assert str(1 + user_table.c.id) == ":id_1 + user_account.id"
    assert str(user_table.c.name + 5) == "user_account.name + :name_1"


def test_concatenation_in_update_and_select(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        conn.execute(update(user_table).where(user_table.c.id == 3).values(name=user_table.c.name + "!"))
        assert conn.execute(select("<" + user_table.c.name).where(user_table.c.id == 3)).scalar() == "<patrick!"
