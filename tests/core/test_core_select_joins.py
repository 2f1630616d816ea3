"""SELECT with joins, aliases, subqueries and CTEs: the tutorial's "Using SELECT Statements".

Each test runs the statement and checks the rows; where the shape of the SQL is the lesson
(which FROM, which ON clause), ``str(stmt)`` is compared with what SQLAlchemy 2.1 writes.
"""

import pytest

from minialchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    exc,
    func,
    insert,
    select,
)


@pytest.fixture
def staff():
    """A self-referential table: each employee may have a manager (another employee)."""
    metadata = MetaData()
    table = Table(
        "employee",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String),
        Column("manager_id", ForeignKey("employee.id")),
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(table),
            [
                {"id": 1, "name": "krabs", "manager_id": None},
                {"id": 2, "name": "squidward", "manager_id": 1},
                {"id": 3, "name": "spongebob", "manager_id": 1},
            ],
        )
    yield engine, table
    engine.dispose()


# -- join ---------------------------------------------------------------------------------------


def test_join_finds_the_on_clause_from_the_foreign_key(user_table, address_table):
    stmt = select(user_table.c.name, address_table.c.email_address).join(address_table)
    assert str(stmt) == (
        "SELECT user_account.name, address.email_address \n"
        "FROM user_account JOIN address ON user_account.id = address.user_id"
    )


def test_join_returns_one_row_per_matching_pair(conn, user_table, address_table):
    stmt = (
        select(user_table.c.name, address_table.c.email_address)
        .join(address_table)
        .order_by(address_table.c.id)
    )
    assert conn.execute(stmt).all() == [
        ("spongebob", "spongebob@sqlalchemy.org"),
        ("sandy", "sandy@sqlalchemy.org"),
        ("sandy", "sandy@squirrelpower.org"),
    ]


def test_join_with_an_explicit_on_clause(conn, user_table, address_table):
    stmt = (
        select(address_table.c.email_address)
        .select_from(user_table)
        .join(address_table, user_table.c.id == address_table.c.user_id)
        .where(user_table.c.name == "sandy")
        .order_by(address_table.c.email_address)
    )
    assert conn.execute(stmt).scalars().all() == ["sandy@sqlalchemy.org", "sandy@squirrelpower.org"]


def test_join_from_names_the_left_side(conn, user_table, address_table):
    stmt = select(address_table.c.email_address).join_from(user_table, address_table)
    assert str(stmt) == (
        "SELECT address.email_address \nFROM user_account JOIN address ON user_account.id = address.user_id"
    )
    assert len(conn.execute(stmt).all()) == 3


def test_select_from_then_join(conn, user_table, address_table):
    stmt = (
        select(func.count(address_table.c.id))
        .select_from(user_table)
        .join(address_table)
        .where(user_table.c.name == "sandy")
    )
    assert conn.execute(stmt).scalar() == 2


def test_outerjoin_keeps_users_without_addresses(conn, user_table, address_table):
    stmt = (
        select(user_table.c.name, address_table.c.email_address)
        .outerjoin(address_table)
        .where(address_table.c.id.is_(None))
    )
    assert "LEFT OUTER JOIN address" in str(stmt)
    assert conn.execute(stmt).all() == [("patrick", None)]


def test_join_isouter_is_the_same_as_outerjoin(conn, user_table, address_table):
    stmt = select(user_table.c.name).join(address_table, isouter=True).order_by(user_table.c.id)
    assert conn.execute(stmt).scalars().all() == ["spongebob", "sandy", "sandy", "patrick"]


def test_table_join_used_in_select_from(conn, user_table, address_table):
    joined = user_table.join(address_table)
    stmt = select(address_table.c.email_address).select_from(joined).where(user_table.c.name == "spongebob")
    assert conn.execute(stmt).scalar_one() == "spongebob@sqlalchemy.org"


def test_join_to_a_table_without_foreign_key_raises_naming_both(user_table, metadata):
    other = Table("other", metadata, Column("id", Integer, primary_key=True))
    with pytest.raises(exc.InvalidRequestError, match="other") as info:
        str(select(user_table).join(other))
    assert "Don't know how to join" in str(info.value)


def test_table_join_without_foreign_key_raises_no_foreign_keys_error(user_table, metadata):
    other = Table("other", metadata, Column("id", Integer, primary_key=True))
    with pytest.raises(exc.NoForeignKeysError, match="'user_account' and 'other'"):
        user_table.join(other)


def test_join_with_two_possible_left_sides_asks_for_select_from(metadata, user_table, address_table):
    note = Table(
        "note",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", ForeignKey("user_account.id")),
        Column("address_id", ForeignKey("address.id")),
    )
    with pytest.raises(exc.InvalidRequestError, match="select_from"):
        str(select(user_table.c.id, address_table.c.id).join(note))


def test_join_chain_of_three(conn, user_table, address_table):
    second = address_table.alias("second")
    stmt = (
        select(user_table.c.name, second.c.email_address)
        .join(address_table)
        .join(second, second.c.user_id == user_table.c.id)
        .where(address_table.c.id < second.c.id)
    )
    assert conn.execute(stmt).all() == [("sandy", "sandy@squirrelpower.org")]


# -- aliases -------------------------------------------------------------------------------------


def test_self_join_through_an_alias(staff):
    engine, employee = staff
    manager = employee.alias("manager")
    stmt = (
        select(employee.c.name, manager.c.name)
        .join(manager, employee.c.manager_id == manager.c.id)
        .order_by(employee.c.id)
    )
    assert str(stmt) == (
        "SELECT employee.name, manager.name AS name_1 \n"
        "FROM employee JOIN employee AS manager ON employee.manager_id = manager.id ORDER BY employee.id"
    )
    with engine.connect() as connection:
        assert connection.execute(stmt).all() == [("squidward", "krabs"), ("spongebob", "krabs")]


def test_anonymous_alias_is_numbered(user_table):
    first, second = user_table.alias(), user_table.alias()
    stmt = select(first.c.name, second.c.name).where(first.c.id == second.c.id)
    assert str(stmt) == (
        "SELECT user_account_1.name, user_account_2.name AS name_1 \n"
        "FROM user_account AS user_account_1, user_account AS user_account_2 \n"
        "WHERE user_account_1.id = user_account_2.id"
    )


def test_alias_name_that_is_a_keyword_is_quoted(user_table):
    stmt = select(user_table.alias("order").c.name)
    assert str(stmt) == 'SELECT "order".name \nFROM user_account AS "order"'


def test_alias_columns_keep_the_table_columns_types(conn, user_table):
    boss = user_table.alias("boss")
    assert boss.c.id.type.__class__ is user_table.c.id.type.__class__
    assert conn.execute(select(boss.c.name).where(boss.c.id == 2)).scalar_one() == "sandy"


# -- subqueries and CTEs ---------------------------------------------------------------------------


def test_subquery_columns_are_reachable_through_c(conn, user_table, address_table):
    counts = (
        select(address_table.c.user_id, func.count(address_table.c.id).label("count"))
        .group_by(address_table.c.user_id)
        .subquery()
    )
    stmt = select(user_table.c.name, counts.c.count).join_from(user_table, counts).order_by(user_table.c.id)
    assert str(stmt) == (
        "SELECT user_account.name, anon_1.count \n"
        "FROM user_account JOIN (SELECT address.user_id AS user_id, count(address.id) AS count \n"
        "FROM address GROUP BY address.user_id) AS anon_1 ON user_account.id = anon_1.user_id "
        "ORDER BY user_account.id"
    )
    assert conn.execute(stmt).all() == [("spongebob", 1), ("sandy", 2)]


def test_select_from_a_subquery(conn, address_table):
    sandy_addresses = select(address_table).where(address_table.c.user_id == 2).subquery("sandy_addresses")
    stmt = select(func.count()).select_from(sandy_addresses)
    assert conn.execute(stmt).scalar() == 2
    assert conn.execute(select(sandy_addresses.c.email_address).order_by(sandy_addresses.c.id)).scalars().all() == [
        "sandy@sqlalchemy.org",
        "sandy@squirrelpower.org",
    ]


def test_cte_is_written_before_the_statement(conn, user_table, address_table):
    counts = (
        select(address_table.c.user_id, func.count(address_table.c.id).label("count"))
        .group_by(address_table.c.user_id)
        .cte()
    )
    stmt = (
        select(user_table.c.name, counts.c.count)
        .join_from(user_table, counts)
        .where(counts.c.count > 1)
    )
    assert str(stmt) == (
        "WITH anon_1 AS \n"
        "(SELECT address.user_id AS user_id, count(address.id) AS count \n"
        "FROM address GROUP BY address.user_id)\n"
        " SELECT user_account.name, anon_1.count \n"
        "FROM user_account JOIN anon_1 ON user_account.id = anon_1.user_id \n"
        "WHERE anon_1.count > :count_1"
    )
    assert conn.execute(stmt).all() == [("sandy", 2)]


def test_cte_binds_come_before_the_statement_binds(conn, user_table, address_table):
    # the CTE's parameter is written first in the SQL, so it must be sent first too
    long_names = (
        select(user_table.c.id, user_table.c.name).where(func.length(user_table.c.name) > 5).cte("long_names")
    )
    stmt = (
        select(long_names.c.name, address_table.c.email_address)
        .join_from(long_names, address_table, long_names.c.id == address_table.c.user_id)
        .where(address_table.c.email_address.like("%sqlalchemy%"))
    )
    assert conn.execute(stmt).all() == [("spongebob", "spongebob@sqlalchemy.org")]


def test_named_cte_used_twice_is_defined_once(conn, user_table):
    ids = select(user_table.c.id).where(user_table.c.id > 1).cte("ids")
    other = ids.alias("other_ids")
    stmt = select(ids.c.id, other.c.id).where(ids.c.id == other.c.id).order_by(ids.c.id)
    sql = str(stmt)
    assert sql.count("WITH ids AS") == 1 and "FROM ids, ids AS other_ids" in sql
    assert conn.execute(stmt).all() == [(2, 2), (3, 3)]


def test_recursive_cte_walks_the_management_chain(staff):
    engine, employee = staff
    chain = select(employee.c.id, employee.c.name).where(employee.c.name == "krabs").cte("chain", recursive=True)
    chain = chain.union_all(
        select(employee.c.id, employee.c.name).join(chain, employee.c.manager_id == chain.c.id)
    )
    stmt = select(chain.c.name).order_by(chain.c.id)
    with engine.connect() as connection:
        assert connection.execute(stmt).scalars().all() == ["krabs", "squidward", "spongebob"]


def test_join_with_two_foreign_keys_to_the_same_table_needs_an_on_clause(conn, metadata, user_table):
    message = Table(
        "message",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("sender_id", ForeignKey("user_account.id")),
        Column("recipient_id", ForeignKey("user_account.id")),
    )
    with pytest.raises(exc.AmbiguousForeignKeysError, match="more than one foreign key"):
        user_table.join(message)
    with pytest.raises(exc.AmbiguousForeignKeysError):
        str(select(user_table.c.name).join(message))
    stmt = select(user_table.c.name).join(message, message.c.sender_id == user_table.c.id)
    assert "JOIN message ON message.sender_id = user_account.id" in str(stmt)


def test_self_join_without_on_clause_uses_the_foreign_key_both_ways(staff):
    engine, employee = staff
    manager = employee.alias("manager")
    stmt = select(employee.c.name).join_from(employee, manager)
    assert str(stmt).endswith(
        "FROM employee JOIN employee AS manager ON employee.id = manager.manager_id "
        "AND manager.id = employee.manager_id"
    )
