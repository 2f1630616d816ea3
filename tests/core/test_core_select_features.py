"""SELECT features beyond joins: functions, GROUP BY / HAVING, labels, nested SELECTs,
UNION, and the expression helpers (between, ilike, case, cast, literal, distinct).

Values stay bound parameters everywhere; each test checks the rows, and the SQL shape where it
is the lesson (checked against SQLAlchemy 2.1).
"""

import pytest

from minialchemy import (
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    desc,
    distinct,
    exc,
    except_,
    exists,
    func,
    intersect,
    literal,
    literal_column,
    not_,
    select,
    union,
    union_all,
    update,
)


# -- functions, GROUP BY, HAVING, labels -----------------------------------------------------------


def test_count_with_no_argument_is_count_star(conn, user_table):
    stmt = select(func.count()).select_from(user_table)
    assert str(stmt) == "SELECT count(*) AS count_1 \nFROM user_account"
    assert conn.execute(stmt).scalar() == 3


def test_aggregate_functions(conn, address_table):
    stmt = select(
        func.count(address_table.c.id),
        func.max(address_table.c.id),
        func.min(address_table.c.email_address),
        func.sum(address_table.c.user_id),
        func.avg(address_table.c.user_id),
    )
    assert conn.execute(stmt).one() == (3, 3, "sandy@sqlalchemy.org", 5, 5 / 3)


def test_string_functions(conn, user_table):
    stmt = select(
        func.lower(user_table.c.fullname), func.upper(user_table.c.name), func.length(user_table.c.name)
    ).where(user_table.c.id == 2)
    assert conn.execute(stmt).one() == ("sandy cheeks", "SANDY", 5)


def test_coalesce_gives_the_first_non_null(conn, user_table, address_table):
    stmt = (
        select(user_table.c.name, func.coalesce(address_table.c.email_address, "(none)"))
        .outerjoin(address_table)
        .where(user_table.c.name == "patrick")
    )
    assert conn.execute(stmt).one() == ("patrick", "(none)")
    assert "coalesce(address.email_address, :" in str(stmt)  # "(none)" is a bound parameter


def test_group_by_and_having(conn, user_table, address_table):
    stmt = (
        select(user_table.c.name, func.count(address_table.c.id).label("count"))
        .join(address_table)
        .group_by(user_table.c.name)
        .having(func.count(address_table.c.id) > 1)
    )
    assert conn.execute(stmt).all() == [("sandy", 2)]


def test_order_and_group_by_label_name(conn, user_table, address_table):
    stmt = (
        select(user_table.c.name.label("username"), func.count(address_table.c.id).label("total"))
        .join(address_table)
        .group_by("username")
        .order_by(desc("total"), "username")
    )
    sql = str(stmt)
    assert "GROUP BY username" in sql and "ORDER BY total DESC, username" in sql
    rows = conn.execute(stmt).all()
    assert rows == [("sandy", 2), ("spongebob", 1)]
    assert rows[0].username == "sandy" and rows[0].total == 2


def test_order_by_label_object_renders_its_name(conn, user_table):
    name = user_table.c.name.label("n")
    stmt = select(name).group_by(name).order_by(name)
    assert str(stmt) == "SELECT user_account.name AS n \nFROM user_account GROUP BY user_account.name ORDER BY n"
    assert conn.execute(stmt).scalars().all() == ["patrick", "sandy", "spongebob"]


def test_order_by_unknown_label_name_raises(user_table):
    with pytest.raises(exc.CompileError, match="nonesuch"):
        str(select(user_table.c.name).order_by("nonesuch"))


def test_label_that_is_a_keyword_is_quoted(conn, user_table):
    stmt = select(user_table.c.name.label("select")).where(user_table.c.id == 1)
    assert str(stmt).startswith('SELECT user_account.name AS "select"')
    assert conn.execute(stmt).one()._mapping["select"] == "spongebob"


# -- nested SELECTs ------------------------------------------------------------------------------


def test_in_with_a_subquery(conn, user_table, address_table):
    with_addresses = select(address_table.c.user_id)
    stmt = select(user_table.c.name).where(user_table.c.id.in_(with_addresses)).order_by(user_table.c.id)
    assert str(stmt) == (
        "SELECT user_account.name \nFROM user_account \nWHERE user_account.id IN "
        "(SELECT address.user_id \nFROM address) ORDER BY user_account.id"
    )
    assert conn.execute(stmt).scalars().all() == ["spongebob", "sandy"]


def test_not_in_with_a_subquery_and_with_values(conn, user_table, address_table):
    stmt = select(user_table.c.name).where(user_table.c.id.not_in(select(address_table.c.user_id)))
    assert conn.execute(stmt).scalars().all() == ["patrick"]
    stmt = select(user_table.c.name).where(user_table.c.id.not_in([1, 2]))
    assert conn.execute(stmt).scalars().all() == ["patrick"]


def test_correlated_scalar_subquery_leaves_the_outer_table_out(conn, user_table, address_table):
    address_count = (
        select(func.count(address_table.c.id))
        .where(user_table.c.id == address_table.c.user_id)
        .scalar_subquery()
    )
    stmt = select(user_table.c.name, address_count.label("address_count")).order_by(user_table.c.id)
    assert str(stmt) == (
        "SELECT user_account.name, (SELECT count(address.id) AS count_1 \nFROM address \n"
        "WHERE user_account.id = address.user_id) AS address_count \nFROM user_account ORDER BY user_account.id"
    )
    assert conn.execute(stmt).all() == [("spongebob", 1), ("sandy", 2), ("patrick", 0)]


def test_scalar_subquery_in_where(conn, user_table, address_table):
    latest = select(func.max(address_table.c.id)).scalar_subquery()
    stmt = select(address_table.c.email_address).where(address_table.c.id == latest)
    assert conn.execute(stmt).scalar_one() == "sandy@squirrelpower.org"


def test_uncorrelated_subquery_of_the_same_table_keeps_its_from(conn, user_table):
    first_id = select(func.min(user_table.c.id)).scalar_subquery()
    stmt = select(user_table.c.name).where(user_table.c.id == first_id)
    assert conn.execute(stmt).scalar_one() == "spongebob"


def test_exists_and_not_exists(conn, user_table, address_table):
    has_address = exists().where(address_table.c.user_id == user_table.c.id)
    stmt = select(user_table.c.name).where(has_address).order_by(user_table.c.id)
    assert str(stmt) == (
        "SELECT user_account.name \nFROM user_account \nWHERE EXISTS (SELECT * \nFROM address \n"
        "WHERE address.user_id = user_account.id) ORDER BY user_account.id"
    )
    assert conn.execute(stmt).scalars().all() == ["spongebob", "sandy"]
    assert conn.execute(select(user_table.c.name).where(~has_address)).scalars().all() == ["patrick"]


def test_select_exists_method(conn, user_table, address_table):
    stmt = select(user_table.c.name).where(
        select(address_table.c.id).where(address_table.c.user_id == user_table.c.id).exists()
    )
    assert sorted(conn.execute(stmt).scalars().all()) == ["sandy", "spongebob"]


# -- UNION -------------------------------------------------------------------------------------


def test_union_removes_duplicates_and_takes_order_by_and_limit(conn, user_table, address_table):
    stmt = union(
        select(user_table.c.id).where(user_table.c.id < 3),
        select(address_table.c.user_id),
    ).order_by(user_table.c.id.desc()).limit(1)
    assert str(stmt).endswith("ORDER BY id DESC\n LIMIT :param_1")
    assert conn.execute(stmt).all() == [(2,)]


def test_union_all_keeps_duplicates(conn, user_table, address_table):
    stmt = select(user_table.c.id).union_all(select(address_table.c.user_id)).order_by("id")
    assert conn.execute(stmt).scalars().all() == [1, 1, 2, 2, 2, 3]


def test_union_as_a_subquery(conn, user_table, address_table):
    ids = union_all(select(user_table.c.id), select(address_table.c.user_id)).subquery()
    stmt = select(ids.c.id, func.count()).group_by(ids.c.id).order_by(ids.c.id)
    assert conn.execute(stmt).all() == [(1, 2), (2, 3), (3, 1)]


def test_intersect_and_except(conn, user_table, address_table):
    both = intersect(select(user_table.c.id), select(address_table.c.user_id))
    assert sorted(conn.execute(both).scalars().all()) == [1, 2]
    only_users = except_(select(user_table.c.id), select(address_table.c.user_id))
    assert conn.execute(only_users).scalars().all() == [3]


def test_union_of_different_widths_raises(user_table):
    with pytest.raises(exc.CompileError, match="numbers of columns"):
        str(union(select(user_table.c.id), select(user_table.c.id, user_table.c.name)))


# -- operators and helpers ---------------------------------------------------------------------------


def test_between_and_not_between(conn, user_table):
    stmt = select(user_table.c.name).where(user_table.c.id.between(2, 3)).order_by(user_table.c.id)
    assert str(stmt).count(":id_") == 2  # both ends are bound parameters
    assert conn.execute(stmt).scalars().all() == ["sandy", "patrick"]
    stmt = select(user_table.c.name).where(not_(user_table.c.id.between(2, 3)))
    assert "NOT BETWEEN" in str(stmt)
    assert conn.execute(stmt).scalars().all() == ["spongebob"]


def test_ilike_ignores_case(conn, user_table):
    stmt = select(user_table.c.name).where(user_table.c.fullname.ilike("%CHEEKS"))
    assert "lower(user_account.fullname) LIKE lower(:fullname_1)" in str(stmt)
    assert conn.execute(stmt).scalars().all() == ["sandy"]
    stmt = select(user_table.c.name).where(user_table.c.fullname.not_ilike("%CHEEKS")).order_by(user_table.c.id)
    assert conn.execute(stmt).scalars().all() == ["spongebob", "patrick"]


def test_not_of_and(conn, user_table):
    stmt = select(user_table.c.name).where(not_(and_(user_table.c.id > 1, user_table.c.name.like("s%"))))
    assert sorted(conn.execute(stmt).scalars().all()) == ["patrick", "spongebob"]


def test_case_with_conditions(conn, user_table):
    size = case((user_table.c.id == 1, "one"), (user_table.c.id == 2, "two"), else_="many")
    stmt = select(user_table.c.name, size.label("size")).order_by(user_table.c.id)
    assert "'one'" not in str(stmt)  # the results are bound parameters too
    assert conn.execute(stmt).all() == [("spongebob", "one"), ("sandy", "two"), ("patrick", "many")]


def test_case_with_a_value_and_a_dict(conn, user_table):
    stmt = select(case({1: "first"}, value=user_table.c.id, else_="later")).order_by(user_table.c.id)
    assert conn.execute(stmt).scalars().all() == ["first", "later", "later"]


def test_cast_converts_the_value(conn, user_table):
    stmt = select(cast(user_table.c.id, String), cast("7", Integer), cast(user_table.c.id, Float)).where(
        user_table.c.id == 2
    )
    assert "CAST(user_account.id AS VARCHAR)" in str(stmt)
    assert conn.execute(stmt).one() == ("2", 7, 2.0)


def test_literal_is_a_bound_parameter(conn, user_table):
    stmt = select(literal("hello").label("greeting"), user_table.c.name).where(user_table.c.id == 1)
    assert str(stmt).startswith("SELECT :param_1 AS greeting")
    assert conn.execute(stmt).one() == ("hello", "spongebob")


def test_literal_column_is_written_as_is(conn, user_table):
    stmt = select(literal_column("42").label("answer"), user_table.c.name).where(user_table.c.id == 1)
    assert str(stmt).startswith("SELECT 42 AS answer")
    assert conn.execute(stmt).one() == (42, "spongebob")


def test_distinct_inside_count_and_select_distinct(conn, address_table):
    assert conn.execute(select(func.count(distinct(address_table.c.user_id)))).scalar() == 2
    stmt = select(address_table.c.user_id).distinct().order_by(address_table.c.user_id)
    assert str(stmt).startswith("SELECT DISTINCT address.user_id")
    assert conn.execute(stmt).scalars().all() == [1, 2]


def test_select_of_two_tables_labels_the_repeated_column(conn, user_table, address_table):
    stmt = select(user_table, address_table).join_from(user_table, address_table).order_by(address_table.c.id)
    result = conn.execute(stmt)
    assert result.keys() == ["id", "name", "fullname", "id_1", "user_id", "email_address"]
    assert result.first() == (1, "spongebob", "Spongebob Squarepants", 1, 1, "spongebob@sqlalchemy.org")


def test_hostile_label_and_alias_names_stay_identifiers(conn, user_table):
    hostile = 'x"; DROP TABLE user_account; --'
    stmt = select(user_table.c.name.label(hostile)).select_from(user_table.alias(hostile)).limit(1)
    sql = str(stmt)
    assert '"x""; DROP TABLE user_account; --"' in sql
    conn.execute(select(user_table.alias(hostile).c.name.label(hostile))).all()
    assert conn.execute(select(func.count()).select_from(user_table)).scalar() == 3


def test_update_where_exists_correlates_to_the_updated_table(conn, user_table, address_table):
    has_address = exists().where(address_table.c.user_id == user_table.c.id)
    stmt = update(user_table).where(~has_address).values(fullname="no address")
    assert str(stmt) == (
        "UPDATE user_account SET fullname=:fullname WHERE NOT (EXISTS (SELECT * \nFROM address \n"
        "WHERE address.user_id = user_account.id))"
    )
    assert conn.execute(stmt).rowcount == 1
    assert conn.execute(select(user_table.c.name).where(user_table.c.fullname == "no address")).scalar_one() == "patrick"


def test_delete_where_in_a_subquery(conn, user_table, address_table):
    sandy = select(user_table.c.id).where(user_table.c.name == "sandy").subquery()
    assert conn.execute(delete(address_table).where(address_table.c.user_id.in_(sandy))).rowcount == 2
    assert conn.execute(select(func.count()).select_from(address_table)).scalar() == 1
