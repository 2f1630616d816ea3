"""Engine and Connection: URLs, connect/begin, commit/rollback, autobegin, echo logging."""

import logging
import sqlite3

import pytest

from minialchemy import create_engine, func, insert, select, text


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite+pysqlite:///:memory:"])
def test_in_memory_urls_connect(url):
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1 + 1")).scalar() == 2
    engine.dispose()


def test_file_url_creates_the_database_file(db_path, file_engine, metadata, user_table):
    metadata.create_all(file_engine)
    assert db_path.exists()


def test_file_url_data_is_visible_to_a_plain_sqlite3_connection(db_path, file_engine, metadata, user_table):
    metadata.create_all(file_engine)
    with file_engine.begin() as conn:
        conn.execute(insert(user_table).values(name="spongebob"))
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("SELECT name FROM user_account").fetchall() == [("spongebob",)]
    finally:
        raw.close()


def test_in_memory_database_is_shared_by_connections_of_one_engine(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(insert(user_table).values(name="spongebob"))
        conn.commit()
    with engine.connect() as conn:
        assert conn.execute(select(user_table.c.name)).scalars().all() == ["spongebob"]


def test_two_in_memory_engines_have_separate_databases(metadata, user_table):
    first = create_engine("sqlite://")
    second = create_engine("sqlite://")
    metadata.create_all(first)
    with second.connect() as conn:
        tables = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).all()
    assert tables == []
    first.dispose()
    second.dispose()


def test_file_database_committed_data_is_visible_to_another_connection(file_engine, metadata, user_table):
    metadata.create_all(file_engine)
    with file_engine.connect() as writer:
        writer.execute(insert(user_table).values(name="sandy"))
        writer.commit()
        with file_engine.connect() as reader:
            assert reader.execute(select(user_table.c.name)).scalars().all() == ["sandy"]


def test_file_database_survives_engine_dispose(db_path, file_engine, metadata, user_table):
    metadata.create_all(file_engine)
    with file_engine.begin() as conn:
        conn.execute(insert(user_table).values(name="patrick"))
    file_engine.dispose()
    assert _count(file_engine, user_table) == 1
    other = create_engine(f"sqlite:///{db_path}")
    assert _count(other, user_table) == 1
    other.dispose()


def test_begin_commits_at_exit(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(user_table).values(name="spongebob"))
    assert _count(engine, user_table) == 1


def test_begin_rolls_back_when_block_raises(engine, metadata, user_table):
    metadata.create_all(engine)
    with pytest.raises(RuntimeError, match="boom"):
        with engine.begin() as conn:
            conn.execute(insert(user_table).values(name="spongebob"))
            raise RuntimeError("boom")
    assert _count(engine, user_table) == 0


def test_connect_commit_makes_changes_permanent(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(insert(user_table).values(name="spongebob"))
        conn.commit()
    assert _count(engine, user_table) == 1


def test_closing_connection_without_commit_discards_changes(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(insert(user_table).values(name="spongebob"))
    assert _count(engine, user_table) == 0


def test_rollback_discards_uncommitted_changes(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(insert(user_table).values(name="spongebob"))
        conn.rollback()
        assert conn.execute(select(func.count()).select_from(user_table)).scalar() == 0


def test_connection_sees_its_own_uncommitted_changes(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(insert(user_table).values(name="spongebob"))
        assert conn.execute(select(user_table.c.name)).scalar_one() == "spongebob"


def test_execute_after_commit_begins_a_new_transaction(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(insert(user_table).values(name="kept"))
        conn.commit()
        conn.execute(insert(user_table).values(name="discarded"))
        conn.rollback()
        assert conn.execute(select(user_table.c.name)).scalars().all() == ["kept"]


def test_rollback_discards_only_since_last_commit(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(insert(user_table).values(name="first"))
        conn.commit()
        conn.execute(insert(user_table).values(name="second"))
    assert _count(engine, user_table) == 1


def test_connect_args_timeout_is_passed_to_sqlite3(db_path, metadata, user_table):
    import time

    from minialchemy import exc

    setup = create_engine(f"sqlite:///{db_path}")
    metadata.create_all(setup)
    setup.dispose()
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{db_path}", connect_args={"timeout": 0.1})
    try:
        started = time.monotonic()
        with engine.connect() as conn:
            with pytest.raises(exc.OperationalError, match="locked"):
                conn.execute(select(user_table))
        assert time.monotonic() - started < 3  # sqlite3's default timeout is 5 seconds
    finally:
        locker.rollback()
        locker.close()
        engine.dispose()


def _logged_messages(caplog):
    return [record.getMessage() for record in caplog.records if record.name.startswith("minialchemy.engine")]


def test_echo_logs_each_statement(metadata, user_table, caplog):
    engine = create_engine("sqlite://", echo=True)
    metadata.create_all(engine)
    with caplog.at_level(logging.INFO, logger="minialchemy.engine"):
        with engine.begin() as conn:
            conn.execute(insert(user_table).values(name="spongebob", fullname="Spongebob Squarepants"))
            conn.execute(select(user_table.c.name).where(user_table.c.id == 1))
    messages = _logged_messages(caplog)
    assert any("INSERT INTO user_account" in m for m in messages)
    assert any("SELECT user_account.name" in m for m in messages)
    engine.dispose()


def test_echo_logs_the_parameters(metadata, user_table, caplog):
    engine = create_engine("sqlite://", echo=True)
    metadata.create_all(engine)
    with caplog.at_level(logging.INFO, logger="minialchemy.engine"):
        with engine.begin() as conn:
            conn.execute(insert(user_table).values(name="spongebob", fullname="Spongebob Squarepants"))
    messages = _logged_messages(caplog)
    assert any("Spongebob Squarepants" in m for m in messages)
    engine.dispose()


@pytest.mark.minialchemy_only
def test_echo_log_record_carries_the_sql(metadata, user_table, caplog):
    engine = create_engine("sqlite://", echo=True)
    metadata.create_all(engine)
    with caplog.at_level(logging.INFO, logger="minialchemy.engine"):
        with engine.begin() as conn:
            conn.execute(insert(user_table).values(name="spongebob", fullname="Spongebob Squarepants"))
    sql_on_records = [getattr(record, "sql", None) for record in caplog.records]
    assert any(sql and sql.startswith("INSERT INTO user_account") for sql in sql_on_records)
    engine.dispose()
