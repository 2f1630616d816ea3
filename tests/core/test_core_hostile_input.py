"""Hostile input: strings that look like SQL, quotes, emoji, huge values, keyword identifiers.

Values always travel as bound parameters and identifiers are quoted where needed, so nothing a
user types can change the statement.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minialchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

HOSTILE_STRINGS = [
    "x'); DROP TABLE user_account; --",
    "Robert'); DROP TABLE user_account;--",
    "' OR '1'='1",
    'double "quoted" value',
    "it's a back\\slash",
    ":name and ? and %s and %(name)s",
    "emoji 🧽🦀🐿️ and accents çàé and 中文",
    "line one\nline two\r\nand a tab\t",
    "",
    " ",
]


def _table_names(engine):
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_hostile_string_is_stored_verbatim(engine, metadata, user_table, value):
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(user_table).values(name="victim", fullname=value))
    with engine.connect() as conn:
        assert conn.execute(select(user_table.c.fullname)).scalar_one() == value
    assert "user_account" in _table_names(engine)


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_hostile_string_in_where_matches_only_itself(tutorial_engine, user_table, value):
    with tutorial_engine.begin() as conn:
        conn.execute(insert(user_table).values(name="victim", fullname=value))
        found = conn.execute(select(user_table.c.name).where(user_table.c.fullname == value)).scalars().all()
    assert found == ["victim"]


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_hostile_string_survives_update(tutorial_engine, user_table, value):
    with tutorial_engine.begin() as conn:
        conn.execute(update(user_table).where(user_table.c.id == 1).values(fullname=value))
    with tutorial_engine.connect() as conn:
        assert conn.execute(select(user_table.c.fullname).where(user_table.c.id == 1)).scalar_one() == value
        assert conn.execute(select(func.count()).select_from(user_table)).scalar() == 3


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_hostile_string_through_text_binds(tutorial_engine, value):
    with tutorial_engine.begin() as conn:
        conn.execute(text("INSERT INTO user_account (name, fullname) VALUES ('victim', :fullname)"), {"fullname": value})
        stored = conn.execute(
            text("SELECT fullname FROM user_account WHERE fullname = :fullname"), {"fullname": value}
        ).scalar_one()
    assert stored == value
    assert "user_account" in _table_names(tutorial_engine)


def test_hostile_string_in_delete_where_deletes_nothing_else(tutorial_engine, user_table):
    with tutorial_engine.begin() as conn:
        result = conn.execute(delete(user_table).where(user_table.c.name == "x' OR '1'='1"))
        assert result.rowcount == 0
        assert conn.execute(select(func.count()).select_from(user_table)).scalar() == 3


def test_one_megabyte_string_round_trips(engine):
    metadata = MetaData()
    document = Table("document", metadata, Column("id", Integer, primary_key=True), Column("body", Text))
    metadata.create_all(engine)
    body = ("spongebob's 🍍 \"pineapple\" " * 40_000)[:1_000_000]
    with engine.begin() as conn:
        conn.execute(insert(document).values(body=body))
    with engine.connect() as conn:
        stored = conn.execute(select(document.c.body)).scalar_one()
    assert len(stored) == 1_000_000
    assert stored == body


@pytest.fixture
def order_table():
    metadata = MetaData()
    return Table(
        "order",
        metadata,
        Column("select", Integer, primary_key=True),
        Column("first name", String),
    )


@pytest.fixture
def order_engine(engine, order_table):
    order_table.metadata.create_all(engine)
    return engine


def test_keyword_table_is_created(order_engine):
    assert "order" in _table_names(order_engine)


def test_keyword_identifiers_are_quoted_in_select(order_table):
    stmt = select(order_table).where(order_table.c["first name"] == "x")
    assert str(stmt) == (
        'SELECT "order"."select", "order"."first name" \n'
        'FROM "order" \n'
        'WHERE "order"."first name" = :first_name_1'
    )


def test_keyword_identifiers_are_quoted_in_update_and_delete(order_table):
    assert str(update(order_table).where(order_table.c.select == 1).values({"first name": "y"})) == (
        'UPDATE "order" SET "first name"=:first_name WHERE "order"."select" = :select_1'
    )
    assert str(delete(order_table).where(order_table.c.select == 1)) == (
        'DELETE FROM "order" WHERE "order"."select" = :select_1'
    )


def test_keyword_table_insert_and_select_round_trip(order_engine, order_table):
    with order_engine.begin() as conn:
        result = conn.execute(insert(order_table).values({"first name": "Sandy"}))
        assert result.inserted_primary_key == (1,)
        conn.execute(insert(order_table), [{"first name": "Patrick"}, {"first name": "Gary"}])
    with order_engine.connect() as conn:
        rows = conn.execute(select(order_table).order_by(order_table.c.select)).all()
    assert rows == [(1, "Sandy"), (2, "Patrick"), (3, "Gary")]


def test_keyword_table_where_filters(order_engine, order_table):
    with order_engine.begin() as conn:
        conn.execute(insert(order_table), [{"first name": "Sandy"}, {"first name": "Patrick"}])
        row = conn.execute(select(order_table).where(order_table.c["first name"] == "Patrick")).one()
    assert row == (2, "Patrick")
    assert row.select == 2


def test_keyword_table_mapping_keeps_spaced_column_name(order_engine, order_table):
    with order_engine.begin() as conn:
        conn.execute(insert(order_table).values({"first name": "Sandy"}))
        mapping = conn.execute(select(order_table)).mappings().one()
    assert mapping["first name"] == "Sandy"


def test_keyword_table_update_and_delete(order_engine, order_table):
    with order_engine.begin() as conn:
        conn.execute(insert(order_table), [{"first name": "Sandy"}, {"first name": "Patrick"}])
        updated = conn.execute(
            update(order_table).where(order_table.c.select == 1).values({"first name": "Sandy Cheeks"})
        )
        deleted = conn.execute(delete(order_table).where(order_table.c["first name"] == "Patrick"))
        rows = conn.execute(select(order_table)).all()
    assert (updated.rowcount, deleted.rowcount) == (1, 1)
    assert rows == [(1, "Sandy Cheeks")]


def test_keyword_table_is_dropped(order_engine, order_table):
    order_table.metadata.drop_all(order_engine)
    assert "order" not in _table_names(order_engine)


@pytest.fixture(scope="module")
def roundtrip_engine():
    metadata = MetaData()
    table = Table(
        "roundtrip",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("label", Text),
        Column("number", Integer),
    )
    eng = create_engine("sqlite://")
    metadata.create_all(eng)
    yield eng, table
    eng.dispose()


@settings(max_examples=200, deadline=None)
@given(
    label=st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00")),
    number=st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
def test_any_text_and_integer_round_trip_unchanged(roundtrip_engine, label, number):
    engine, table = roundtrip_engine
    with engine.begin() as conn:
        new_id = conn.execute(insert(table).values(label=label, number=number)).inserted_primary_key[0]
        row = conn.execute(select(table.c.label, table.c.number).where(table.c.id == new_id)).one()
    assert row == (label, number)
    assert type(row.number) is int
