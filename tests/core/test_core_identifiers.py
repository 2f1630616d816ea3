"""Names written into SQL are identifiers, never SQL: function names, labels, ON DELETE phrases,
server defaults.

A value always travels as a bound parameter; a *name* cannot, so the compiler quotes it (or, for
keyword phrases such as ``ON DELETE CASCADE``, refuses anything that is not keywords).  Each test
tries to smuggle SQL through a name and checks that it stays a name.
"""

import pytest

from minialchemy import Column, ForeignKey, Integer, MetaData, String, Table, exc, func, insert, select, text

SMUGGLED = "(SELECT secret FROM canary) --"


@pytest.fixture
def canary_engine(tutorial_engine):
    with tutorial_engine.begin() as conn:
        conn.execute(text("CREATE TABLE canary (secret VARCHAR)"))
        conn.execute(text("INSERT INTO canary (secret) VALUES ('the krabby patty formula')"))
    return tutorial_engine


def test_plain_function_names_are_written_as_given(user_table):
    assert str(select(func.lower(user_table.c.name))) == (
        "SELECT lower(user_account.name) AS lower_1 \nFROM user_account"
    )


def test_function_name_with_sql_in_it_is_quoted(user_table):
    stmt = select(getattr(func, SMUGGLED)(user_table.c.name))
    assert str(stmt).startswith('SELECT "(SELECT secret FROM canary) --"(user_account.name) AS ')


def test_function_name_with_sql_in_it_cannot_read_another_table(canary_engine, user_table):
    stmt = select(getattr(func, SMUGGLED)(user_table.c.name))
    with canary_engine.connect() as conn:
        with pytest.raises(exc.OperationalError, match="no such function"):
            conn.execute(stmt).all()


def test_function_name_with_a_quote_is_escaped(canary_engine, user_table):
    stmt = select(getattr(func, 'x"(1) FROM canary --')(user_table.c.name))
    with canary_engine.connect() as conn:
        with pytest.raises(exc.OperationalError, match="no such function"):
            conn.execute(stmt).all()


def test_label_with_sql_in_it_is_only_a_column_name(canary_engine, user_table):
    name = 'x", (SELECT secret FROM canary) AS "y'
    stmt = select(user_table.c.name.label(name)).where(user_table.c.id == 1)
    with canary_engine.connect() as conn:
        row = conn.execute(stmt).mappings().one()
    assert row == {name: "spongebob"}


def test_label_of_a_function_with_odd_name_round_trips(canary_engine, user_table):
    stmt = select(func.count(user_table.c.id).label("how many?"))
    with canary_engine.connect() as conn:
        assert conn.execute(stmt).mappings().one() == {"how many?": 3}


@pytest.mark.parametrize(
    "option, phrase",
    [("ondelete", "CASCADE); DROP TABLE parent; --"), ("onupdate", "CASCADE DEFERRABLE'")],
)
def test_ondelete_or_onupdate_with_sql_in_it_is_refused_at_create(engine, option, phrase):
    metadata = MetaData()
    Table("parent", metadata, Column("id", Integer, primary_key=True))
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", ForeignKey("parent.id", **{option: phrase})),
    )
    with pytest.raises(exc.CompileError, match="Unexpected SQL phrase"):
        metadata.create_all(engine)


def test_ondelete_and_onupdate_keywords_reach_the_database(engine):
    metadata = MetaData()
    Table("parent", metadata, Column("id", Integer, primary_key=True))
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", ForeignKey("parent.id", ondelete="SET NULL", onupdate="cascade")),
    )
    metadata.create_all(engine)
    with engine.connect() as conn:
        ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'child'")).scalar_one()
    assert "REFERENCES parent (id) ON DELETE SET NULL ON UPDATE cascade" in ddl


def test_string_server_default_is_a_literal_value(engine):
    metadata = MetaData()
    note = Table(
        "note",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("status", String, server_default="(unknown)"),
        Column("quoted", String, server_default="it's new"),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(note).values(id=1))
        assert conn.execute(select(note.c.status, note.c.quoted)).one() == ("(unknown)", "it's new")


def test_text_server_default_is_sql(engine):
    metadata = MetaData()
    note = Table(
        "note",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("total", Integer, server_default=text("(1 + 2)")),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(note).values(id=1))
        assert conn.execute(select(note.c.total)).scalar_one() == 3
