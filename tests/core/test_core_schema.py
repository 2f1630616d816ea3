"""Schema objects: MetaData, Table, Column, types, keys, defaults, create_all / drop_all."""

import datetime
import logging

import pytest

from minialchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    exc,
    insert,
    select,
    text,
)


def _table_names(engine):
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).all()
    return {name for (name,) in rows}


def test_public_names_import_from_the_package():
    import minialchemy
    from minialchemy import (  # noqa: F401
        and_,
        asc,
        create_engine,
        delete,
        desc,
        func,
        inspect,
        not_,
        or_,
        update,
    )
    from minialchemy.exc import IntegrityError, OperationalError, StatementError  # noqa: F401

    assert minialchemy.exc is exc


def test_table_columns_are_reachable_through_c(user_table):
    assert user_table.c.name.name == "name"
    assert user_table.c["fullname"] is user_table.c.fullname
    assert list(user_table.c.keys()) == ["id", "name", "fullname"]


def test_table_is_registered_in_its_metadata(metadata, user_table, address_table):
    assert metadata.tables["user_account"] is user_table
    assert metadata.tables["address"] is address_table


def test_create_all_creates_every_table(engine, metadata, user_table, address_table):
    metadata.create_all(engine)
    assert {"user_account", "address"} <= _table_names(engine)


def test_create_all_twice_skips_existing_tables(engine, metadata, user_table):
    metadata.create_all(engine)
    metadata.create_all(engine)
    assert "user_account" in _table_names(engine)


def test_drop_all_removes_parent_and_child(engine, metadata, user_table, address_table):
    metadata.create_all(engine)
    metadata.drop_all(engine)
    assert not ({"user_account", "address"} & _table_names(engine))


def test_drop_all_drops_child_before_parent(metadata, user_table, address_table, caplog):
    from minialchemy import create_engine

    engine = create_engine("sqlite://", echo=True)
    metadata.create_all(engine)
    with caplog.at_level(logging.INFO, logger="minialchemy.engine"):
        metadata.drop_all(engine)
    messages = [r.getMessage() for r in caplog.records]
    drop_child = next(i for i, m in enumerate(messages) if "DROP TABLE address" in m)
    drop_parent = next(i for i, m in enumerate(messages) if "DROP TABLE user_account" in m)
    assert drop_child < drop_parent
    engine.dispose()


def test_create_all_creates_parent_first_when_child_is_declared_first(caplog):
    from minialchemy import create_engine

    metadata = MetaData()
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", ForeignKey("parent.id")),
    )
    Table("parent", metadata, Column("id", Integer, primary_key=True))
    engine = create_engine("sqlite://", echo=True)
    with caplog.at_level(logging.INFO, logger="minialchemy.engine"):
        metadata.create_all(engine)
    messages = [r.getMessage() for r in caplog.records]
    create_parent = next(i for i, m in enumerate(messages) if "CREATE TABLE parent" in m)
    create_child = next(i for i, m in enumerate(messages) if "CREATE TABLE child" in m)
    assert create_parent < create_child
    assert {"parent", "child"} <= _table_names(engine)
    engine.dispose()


def test_integer_primary_key_is_assigned_automatically(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        ids = conn.execute(select(user_table.c.id).order_by(user_table.c.id)).scalars().all()
    assert ids == [1, 2, 3]


def test_nullable_column_accepts_missing_value(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(user_table).values(name="squidward"))
        fullname = conn.execute(select(user_table.c.fullname)).scalar_one()
    assert fullname is None


def test_not_nullable_column_rejects_null(engine, metadata, user_table, address_table):
    metadata.create_all(engine)
    with engine.connect() as conn:
        with pytest.raises(exc.IntegrityError, match="NOT NULL"):
            conn.execute(insert(address_table).values(user_id=1))


def test_unique_column_rejects_duplicate(engine):
    metadata = MetaData()
    account = Table(
        "account",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String(100), unique=True),
    )
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(insert(account).values(email="a@example.com"))
        with pytest.raises(exc.IntegrityError, match="UNIQUE"):
            conn.execute(insert(account).values(email="a@example.com"))


def test_duplicate_primary_key_is_rejected(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        with pytest.raises(exc.IntegrityError):
            conn.execute(insert(user_table).values(id=1, name="again"))


def test_scalar_default_fills_missing_value(engine):
    metadata = MetaData()
    ticket = Table(
        "ticket",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("status", String(20), default="new"),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(ticket).values())
        conn.execute(insert(ticket).values(status="closed"))
        statuses = conn.execute(select(ticket.c.status).order_by(ticket.c.id)).scalars().all()
    assert statuses == ["new", "closed"]


def test_callable_default_is_called_for_each_row(engine):
    counter = iter(range(100, 200))

    def next_number():
        return next(counter)

    metadata = MetaData()
    ticket = Table(
        "ticket",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("title", String),
        Column("number", Integer, default=next_number),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(ticket).values(title="first"))
        conn.execute(insert(ticket), [{"title": "second"}, {"title": "third"}])
        numbers = conn.execute(select(ticket.c.number).order_by(ticket.c.id)).scalars().all()
    assert numbers == [100, 101, 102]


def test_callable_default_datetime_is_stored(engine):
    fixed = datetime.datetime(2024, 5, 17, 12, 30, 45, 123456)
    metadata = MetaData()
    event = Table(
        "event",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("created_at", DateTime, default=lambda: fixed),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(event).values())
        created_at = conn.execute(select(event.c.created_at)).scalar_one()
    assert created_at == fixed


@pytest.fixture
def typed_table(metadata):
    return Table(
        "typed",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("title", String(50)),
        Column("body", Text),
        Column("active", Boolean),
        Column("ratio", Float),
        Column("seen_at", DateTime),
    )


def test_types_round_trip_with_python_values(engine, metadata, typed_table):
    metadata.create_all(engine)
    seen_at = datetime.datetime(2001, 9, 9, 1, 46, 40)
    with engine.begin() as conn:
        conn.execute(
            insert(typed_table).values(
                title="a title", body="a long body\nwith lines", active=True, ratio=0.25, seen_at=seen_at
            )
        )
        row = conn.execute(select(typed_table)).one()
    assert row == (1, "a title", "a long body\nwith lines", True, 0.25, seen_at)


def test_boolean_column_returns_python_bools(engine, metadata, typed_table):
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(typed_table), [{"active": True}, {"active": False}])
        values = conn.execute(select(typed_table.c.active).order_by(typed_table.c.id)).scalars().all()
    assert values[0] is True
    assert values[1] is False


def test_datetime_column_returns_datetime_objects(engine, metadata, typed_table):
    metadata.create_all(engine)
    moment = datetime.datetime(2024, 2, 29, 23, 59, 59, 999999)
    with engine.begin() as conn:
        conn.execute(insert(typed_table).values(seen_at=moment))
        value = conn.execute(select(typed_table.c.seen_at)).scalar_one()
    assert isinstance(value, datetime.datetime)
    assert value == moment


def test_float_column_returns_float(engine, metadata, typed_table):
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(typed_table).values(ratio=3))
        value = conn.execute(select(typed_table.c.ratio)).scalar_one()
    assert isinstance(value, float)
    assert value == 3.0
