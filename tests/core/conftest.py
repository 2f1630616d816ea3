"""Fixtures for the Core tests: an engine, the tutorial's two tables, a file-backed engine.

The tables are the ones of SQLAlchemy's unified tutorial: ``user_account`` (id, name, fullname)
and ``address`` (id, user_id -> user_account.id, email_address).  Every test in this folder is
also run against real SQLAlchemy (the word ``minialchemy`` replaced by ``sqlalchemy``) with
``-m "not minialchemy_only"``, so a test marked ``minialchemy_only`` checks a contract of our own
(for example the ``record.sql`` attribute on log records) that SQLAlchemy does not have.
"""

import pytest

from minialchemy import Column, ForeignKey, Integer, MetaData, String, Table, create_engine, insert


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "minialchemy_only: checks a minialchemy contract that SQLAlchemy does not share "
        "(deselect with -m 'not minialchemy_only' when running the suite against SQLAlchemy)",
    )


@pytest.fixture
def engine():
    """An in-memory SQLite database: one database shared by every connection of this engine."""
    eng = create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.fixture
def db_path(tmp_path):
    """Path of the database file that ``file_engine`` uses."""
    return tmp_path / "core.db"


@pytest.fixture
def file_engine(db_path):
    """A database in a file under tmp_path (``db_path``)."""
    eng = create_engine(f"sqlite:///{db_path}")
    yield eng
    eng.dispose()


@pytest.fixture
def metadata():
    return MetaData()


@pytest.fixture
def user_table(metadata):
    return Table(
        "user_account",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(30)),
        Column("fullname", String),
    )


@pytest.fixture
def address_table(metadata, user_table):
    return Table(
        "address",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", ForeignKey("user_account.id"), nullable=False),
        Column("email_address", String, nullable=False),
    )


@pytest.fixture
def tutorial_engine(engine, metadata, user_table, address_table):
    """The in-memory engine with both tables created and the tutorial's rows committed:
    users spongebob (1), sandy (2), patrick (3); addresses for spongebob (1) and sandy (2, 3)."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(user_table),
            [
                {"name": "spongebob", "fullname": "Spongebob Squarepants"},
                {"name": "sandy", "fullname": "Sandy Cheeks"},
                {"name": "patrick", "fullname": "Patrick Star"},
            ],
        )
        conn.execute(
            insert(address_table),
            [
                {"user_id": 1, "email_address": "spongebob@sqlalchemy.org"},
                {"user_id": 2, "email_address": "sandy@sqlalchemy.org"},
                {"user_id": 2, "email_address": "sandy@squirrelpower.org"},
            ],
        )
    return engine


@pytest.fixture
def conn(tutorial_engine):
    """A connection to the tutorial's database."""
    with tutorial_engine.connect() as connection:
        yield connection
