"""``conn.execute(insert(t).returning(...), [dict, ...])``: one row back per parameter set, in
parameter order, whether the sets go in batched statements or one statement each.

The batched form and its correlation rule are ``minialchemy.engine.insertmanyvalues``'s (the
ORM's flush uses the same); ``docs/insert_strategies.md`` explains them.
"""

import logging
import random
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minialchemy import Column, Integer, MetaData, String, Table, create_engine, insert, update
from minialchemy.engine import insertmanyvalues
from minialchemy.engine.base import Connection


@pytest.fixture(autouse=True, scope="module")
def batch_from_two_rows():
    """Batch from 2 parameter sets on (the library waits for MIN_BATCH_ROWS), so that small
    examples exercise the batched form too."""
    with mock.patch.object(insertmanyvalues, "MIN_BATCH_ROWS", 2):
        yield


def parameter_sets(n, start=0):
    return [{"name": f"user{i}", "fullname": None if i % 2 else f"User {i}"} for i in range(start, start + n)]


@pytest.fixture
def table_engine(metadata, user_table):
    """Make an in-memory engine (any create_engine arguments) with ``user_account`` created."""
    engines = []

    def make(**kwargs):
        engine = create_engine("sqlite://", **kwargs)
        metadata.create_all(engine)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def logged(caplog):
    """The SQL text of each statement sent (the ``record.sql`` attribute), with its cause."""
    caplog.set_level(logging.INFO, logger="minialchemy.engine")

    def statements():
        return [
            (record.sql, record.cause)
            for record in caplog.records
            if getattr(record, "sql", None) and record.sql.startswith(("INSERT", "UPDATE"))
        ]

    return statements


def test_returning_gives_one_row_per_parameter_set_in_parameter_order(table_engine, user_table):
    engine = table_engine()
    with engine.begin() as conn:
        result = conn.execute(insert(user_table).returning(user_table.c.id, user_table.c.name), parameter_sets(7))
        assert [tuple(row) for row in result.all()] == [(i + 1, f"user{i}") for i in range(7)]


def test_returning_other_columns_than_the_key_keeps_parameter_order(table_engine, user_table):
    engine = table_engine(insertmanyvalues_page_size=3)
    with engine.begin() as conn:
        result = conn.execute(insert(user_table).returning(user_table.c.name), parameter_sets(8))
        assert list(result.keys()) == ["name"]
        assert result.scalars().all() == [f"user{i}" for i in range(8)]


def test_inserted_primary_key_rows_are_in_parameter_order(table_engine, user_table):
    engine = table_engine(insertmanyvalues_page_size=2)
    with engine.begin() as conn:
        result = conn.execute(insert(user_table).returning(user_table.c.id), parameter_sets(5))
        assert [tuple(pk) for pk in result.inserted_primary_key_rows] == [(i,) for i in range(1, 6)]


@pytest.mark.minialchemy_only
def test_parameter_sets_go_in_batched_statements(table_engine, user_table, logged):
    engine = table_engine(insertmanyvalues_page_size=3)
    with engine.begin() as conn:
        conn.execute(insert(user_table).returning(user_table.c.id), parameter_sets(7))
    statements = logged()
    assert len(statements) == 3
    sql, cause = statements[0]
    assert sql.startswith("INSERT INTO user_account (name, fullname) SELECT column1, column2 FROM (VALUES (?, ?, 0),")
    assert sql.endswith("ORDER BY column3 RETURNING id")  # the key is not returned twice
    assert cause == "insert(user_account) by you: batched RETURNING, statement 1 of 3, 3 rows (batch size 3)"


@pytest.mark.minialchemy_only
def test_rows_come_back_in_parameter_order_whatever_order_returning_uses(table_engine, user_table):
    engine = table_engine(insertmanyvalues_page_size=4)
    real = Connection._execute_sql

    def shuffled(self, sql, params, **kwargs):
        cursor = real(self, sql, params, **kwargs)
        if "RETURNING" not in sql:
            return cursor
        rows = cursor.fetchall()
        random.Random(len(rows)).shuffle(rows)
        return mock.Mock(fetchall=lambda: rows, lastrowid=cursor.lastrowid, rowcount=cursor.rowcount)

    with mock.patch.object(Connection, "_execute_sql", shuffled), engine.begin() as conn:
        result = conn.execute(insert(user_table).returning(user_table.c.id, user_table.c.name), parameter_sets(10))
        assert [tuple(row) for row in result.all()] == [(i + 1, f"user{i}") for i in range(10)]


@pytest.mark.minialchemy_only
def test_given_keys_run_one_statement_per_parameter_set(table_engine, user_table, logged):
    engine = table_engine()
    with engine.begin() as conn:
        rows = conn.execute(
            insert(user_table).returning(user_table.c.id, user_table.c.name),
            [{"id": 30 - i, **p} for i, p in enumerate(parameter_sets(3))],
        ).all()
    assert [tuple(row) for row in rows] == [(30, "user0"), (29, "user1"), (28, "user2")]
    assert [sql for sql, _ in logged()] == ["INSERT INTO user_account (id, name, fullname) VALUES (?, ?, ?) RETURNING id, name"] * 3


@pytest.mark.minialchemy_only
def test_insertmanyvalues_false_runs_one_statement_per_parameter_set(table_engine, user_table, logged):
    engine = table_engine(insertmanyvalues=False)
    with engine.begin() as conn:
        ids = conn.execute(insert(user_table).returning(user_table.c.id), parameter_sets(4)).scalars().all()
    assert ids == [1, 2, 3, 4]
    assert len(logged()) == 4


@pytest.mark.minialchemy_only
def test_update_returning_with_many_parameter_sets_runs_one_statement_each(table_engine, user_table, logged):
    engine = table_engine()
    from minialchemy import bindparam

    with engine.begin() as conn:
        conn.execute(insert(user_table), parameter_sets(3))
        statement = update(user_table).where(user_table.c.id == bindparam("uid")).values(fullname=bindparam("fn"))
        rows = conn.execute(statement.returning(user_table.c.id), [{"uid": 3, "fn": "c"}, {"uid": 1, "fn": "a"}]).all()
    assert [tuple(row) for row in rows] == [(3,), (1,)]
    assert len([sql for sql, _ in logged() if sql.startswith("UPDATE")]) == 2


def test_a_python_side_default_is_computed_for_each_row(table_engine):
    counter = iter(range(100))
    metadata = MetaData()
    table = Table(
        "numbered",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("label", String),
        Column("serial", Integer, default=lambda: next(counter)),
    )
    engine = create_engine("sqlite://", insertmanyvalues_page_size=2)
    metadata.create_all(engine)
    with engine.begin() as conn:
        rows = conn.execute(insert(table).returning(table.c.label, table.c.serial), [{"label": c} for c in "abcde"]).all()
    assert [tuple(row) for row in rows] == [("a", 0), ("b", 1), ("c", 2), ("d", 3), ("e", 4)]
    engine.dispose()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", ""]), st.one_of(st.none(), st.text(max_size=5))), min_size=1, max_size=12),
    st.integers(1, 5),
)
def test_batched_and_per_row_return_the_same_rows(rows, page_size):
    results = []
    for kwargs in ({"insertmanyvalues": False}, {"insertmanyvalues_page_size": page_size}):
        metadata = MetaData()
        table = Table("t", metadata, Column("id", Integer, primary_key=True), Column("a", String), Column("b", String))
        engine = create_engine("sqlite://", **kwargs)
        metadata.create_all(engine)
        with engine.begin() as conn:
            returned = conn.execute(
                insert(table).returning(table.c.id, table.c.a, table.c.b), [{"a": a, "b": b} for a, b in rows]
            ).all()
            stored = conn.exec_driver_sql("SELECT id, a, b FROM t ORDER BY id").all()
        results.append(([tuple(r) for r in returned], [tuple(r) for r in stored]))
        engine.dispose()
    assert results[0] == results[1]
    returned, stored = results[1]
    assert [r[1:] for r in returned] == rows
    assert returned == stored
