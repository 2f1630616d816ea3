"""Core statements check values against their column types before anything is sent.

``insert()``, ``update()`` and a WHERE clause pass each value through its column type: a value
the type refuses raises ``StatementError`` (the TypeError/ValueError as ``.orig``, with the
statement and parameters), a value it can convert is converted (a ``Decimal`` for a ``Float``).
"""

import datetime
import decimal

import pytest

from minialchemy import Boolean, Column, Date, DateTime, Float, Integer, MetaData, Table, exc, insert, literal, select, update


@pytest.fixture
def measurement(engine):
    metadata = MetaData()
    table = Table(
        "measurement",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("valid", Boolean),
        Column("value", Float),
        Column("taken_at", DateTime),
        Column("day", Date),
        Column("note", Integer, default=lambda: 1 // 0),
    )
    metadata.create_all(engine)
    return table


def _count(engine, table):
    with engine.connect() as conn:
        return len(conn.execute(select(table.c.id)).all())


@pytest.mark.parametrize(
    "values, cause",
    [
        ({"valid": "false"}, TypeError),
        ({"value": "abc"}, ValueError),
        ({"taken_at": "not a date"}, TypeError),
        ({"day": "garbage"}, TypeError),
        ({"taken_at": 12345}, TypeError),
    ],
)
def test_insert_of_a_refused_value_raises_statement_error(engine, measurement, values, cause):
    with engine.connect() as conn:
        with pytest.raises(exc.StatementError) as raised:
            conn.execute(insert(measurement).values(note=0, **values))
    assert type(raised.value.orig) is cause
    assert raised.value.statement.startswith("INSERT INTO measurement")
    assert _count(engine, measurement) == 0


def test_executemany_with_one_refused_value_inserts_nothing(engine, measurement):
    with engine.connect() as conn:
        with pytest.raises(exc.StatementError) as raised:
            conn.execute(insert(measurement), [{"value": 1.0, "note": 0}, {"value": "abc", "note": 0}])
        assert isinstance(raised.value.orig, ValueError)
        conn.rollback()
    assert _count(engine, measurement) == 0


def test_update_of_a_refused_value_raises_statement_error(engine, measurement):
    with engine.begin() as conn:
        conn.execute(insert(measurement).values(id=1, value=1.5, note=0))
    with engine.connect() as conn:
        with pytest.raises(exc.StatementError) as raised:
            conn.execute(update(measurement).values(valid="no"))
        assert isinstance(raised.value.orig, TypeError)
        assert raised.value.statement.startswith("UPDATE measurement SET valid=?")


def test_a_failing_python_default_raises_statement_error(engine, measurement):
    with engine.connect() as conn:
        with pytest.raises(exc.StatementError) as raised:
            conn.execute(insert(measurement).values(value=1.0))
    assert isinstance(raised.value.orig, ZeroDivisionError)
    assert raised.value.statement.startswith("INSERT INTO measurement")


def test_converted_values_are_stored_as_their_type(engine, measurement):
    with engine.begin() as conn:
        conn.execute(
            insert(measurement).values(
                id=1, valid=1, value=decimal.Decimal("1.25"), day=datetime.datetime(2020, 1, 2, 3, 4), note=0
            )
        )
        row = conn.execute(select(measurement.c.valid, measurement.c.value, measurement.c.day)).one()
    assert row == (True, 1.25, datetime.date(2020, 1, 2))


def test_a_decimal_compared_with_a_float_column_is_converted(engine, measurement):
    with engine.begin() as conn:
        conn.execute(insert(measurement).values(id=1, value=1.25, note=0))
        assert conn.execute(select(measurement.c.id).where(measurement.c.value == decimal.Decimal("1.25"))).all() == [(1,)]
        assert conn.execute(select(literal(decimal.Decimal("1.25")) == measurement.c.value)).scalar() == 1
