"""Driver errors are wrapped: IntegrityError / OperationalError carry .orig, the SQL and the parameters."""

import sqlite3

import pytest

from minialchemy import create_engine, exc, insert, select, text, update


def test_integrity_error_is_a_dbapi_error_and_a_statement_error():
    assert issubclass(exc.IntegrityError, exc.DBAPIError)
    assert issubclass(exc.IntegrityError, exc.StatementError)


def test_operational_error_is_a_dbapi_error_and_a_statement_error():
    assert issubclass(exc.OperationalError, exc.DBAPIError)
    assert issubclass(exc.OperationalError, exc.StatementError)


def test_duplicate_primary_key_raises_integrity_error_with_original(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        with pytest.raises(exc.IntegrityError) as caught:
            conn.execute(insert(user_table).values(id=1, name="impostor"))
    assert isinstance(caught.value.orig, sqlite3.IntegrityError)


def test_integrity_error_message_shows_statement_and_parameters(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        with pytest.raises(exc.IntegrityError) as caught:
            conn.execute(insert(user_table).values(id=1, name="impostor"))
    message = str(caught.value)
    assert "INSERT INTO user_account" in message
    assert "impostor" in message
    assert "UNIQUE constraint failed" in message


def test_null_into_not_null_column_raises_integrity_error(tutorial_engine, address_table):
    with tutorial_engine.connect() as conn:
        with pytest.raises(exc.IntegrityError, match="NOT NULL constraint failed") as caught:
            conn.execute(insert(address_table).values(user_id=1, email_address=None))
    assert isinstance(caught.value.orig, sqlite3.IntegrityError)
    assert "INSERT INTO address" in str(caught.value)


def test_integrity_error_from_update_names_the_update(tutorial_engine, address_table):
    with tutorial_engine.connect() as conn:
        with pytest.raises(exc.IntegrityError) as caught:
            conn.execute(update(address_table).where(address_table.c.id == 1).values(email_address=None))
    assert "UPDATE address" in str(caught.value)


def test_no_such_table_raises_operational_error(engine, user_table):
    with engine.connect() as conn:
        with pytest.raises(exc.OperationalError, match="no such table") as caught:
            conn.execute(select(user_table).where(user_table.c.name == "sandy"))
    assert isinstance(caught.value.orig, sqlite3.OperationalError)
    assert "SELECT user_account.id" in str(caught.value)
    assert "sandy" in str(caught.value)


def test_text_error_message_shows_statement_and_parameters(engine):
    with engine.connect() as conn:
        with pytest.raises(exc.OperationalError) as caught:
            conn.execute(text("SELECT * FROM missing_table WHERE code = :code"), {"code": "XJ-9"})
    assert "missing_table" in str(caught.value)
    assert "XJ-9" in str(caught.value)


def test_locked_database_raises_operational_error(db_path, metadata, user_table):
    setup = create_engine(f"sqlite:///{db_path}")
    metadata.create_all(setup)
    setup.dispose()
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{db_path}", connect_args={"timeout": 0.1})
    try:
        with engine.connect() as conn:
            with pytest.raises(exc.OperationalError, match="database is locked") as caught:
                conn.execute(insert(user_table).values(name="blocked"))
        assert isinstance(caught.value.orig, sqlite3.OperationalError)
    finally:
        locker.rollback()
        locker.close()
        engine.dispose()


def test_wrapped_errors_are_caught_as_dbapi_error(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        with pytest.raises(exc.DBAPIError):
            conn.execute(insert(user_table).values(id=2, name="again"))


def test_connection_is_usable_after_rollback_following_an_error(tutorial_engine, user_table):
    with tutorial_engine.connect() as conn:
        with pytest.raises(exc.IntegrityError):
            conn.execute(insert(user_table).values(id=1, name="impostor"))
        conn.rollback()
        assert conn.execute(select(user_table.c.name).where(user_table.c.id == 1)).scalar() == "spongebob"
