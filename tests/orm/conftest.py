"""Fixtures for the ORM behaviour tests.

The models are the tutorial's ``User`` and ``Address``; every test gets a fresh
``DeclarativeBase``, a fresh in-memory engine, and the tutorial's three users
(spongebob, sandy, patrick: ids 1, 2, 3) with their three addresses.

``sql_log`` records every statement the engine sends, in order, from the
``minialchemy.engine`` logger: each log record for a statement carries
``record.sql`` (the text with ``?`` placeholders, exactly as given to sqlite3)
and ``record.params``.

These tests copy SQLAlchemy 2.x's ORM behaviour.  Each one was checked against
real SQLAlchemy by replacing the word ``minialchemy`` with ``sqlalchemy``; only
the ``sql_log`` fixture below (between the ``sql_log`` markers) differs there,
and tests marked ``minialchemy_only`` (our own error wording) are left out.
"""

import logging
from types import SimpleNamespace
from typing import List, Optional

import pytest

from minialchemy import ForeignKey, String, create_engine, insert
from minialchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "minialchemy_only: checks minialchemy's own wording; not run against SQLAlchemy",
    )


# --- the tutorial's models ------------------------------------------------------------


def make_models(**addresses_options):
    """Build the tutorial's ``User`` and ``Address`` on a brand-new ``DeclarativeBase``
    (``addresses_options``: more arguments for ``relationship()`` of ``User.addresses``, such as
    ``lazy="selectin"``)."""

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "user_account"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(30))
        fullname: Mapped[Optional[str]]
        addresses: Mapped[List["Address"]] = relationship(back_populates="user", **addresses_options)

        def __repr__(self) -> str:
            return f"User(id={self.id!r}, name={self.name!r}, fullname={self.fullname!r})"

    class Address(Base):
        __tablename__ = "address"

        id: Mapped[int] = mapped_column(primary_key=True)
        email_address: Mapped[str]
        user_id = mapped_column(ForeignKey("user_account.id"))
        user: Mapped[User] = relationship(back_populates="addresses")

        def __repr__(self) -> str:
            return f"Address(id={self.id!r}, email_address={self.email_address!r})"

    return SimpleNamespace(Base=Base, User=User, Address=Address)


SEED_USERS = [
    {"id": 1, "name": "spongebob", "fullname": "Spongebob Squarepants"},
    {"id": 2, "name": "sandy", "fullname": "Sandy Cheeks"},
    {"id": 3, "name": "patrick", "fullname": "Patrick Star"},
]
SEED_ADDRESSES = [
    {"id": 1, "email_address": "spongebob@sqlalchemy.org", "user_id": 1},
    {"id": 2, "email_address": "sandy@sqlalchemy.org", "user_id": 2},
    {"id": 3, "email_address": "sandy@squirrelpower.org", "user_id": 2},
]


def create_seeded_database(engine, models):
    """Create the tables and insert the tutorial's rows, committed."""
    models.Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(models.User.__table__), SEED_USERS)
        connection.execute(insert(models.Address.__table__), SEED_ADDRESSES)


@pytest.fixture
def models():
    return make_models()


@pytest.fixture
def User(models):
    return models.User


@pytest.fixture
def Address(models):
    return models.Address


@pytest.fixture
def engine(models):
    """A fresh in-memory database holding the tutorial's users and addresses."""
    engine = create_engine("sqlite://")
    create_seeded_database(engine, models)
    yield engine
    engine.dispose()


@pytest.fixture
def seeded_engine_for():
    """Make a fresh seeded in-memory engine for models a test builds itself
    (a namespace with ``Base``, ``User`` and ``Address``)."""
    engines = []

    def make_engine(models):
        engine = create_engine("sqlite://")
        create_seeded_database(engine, models)
        engines.append(engine)
        return engine

    yield make_engine
    for engine in engines:
        engine.dispose()


@pytest.fixture
def session(engine):
    session = Session(engine)
    yield session
    session.close()


@pytest.fixture
def file_engine_factory(tmp_path, models):
    """Make engines on a seeded database file (for tests that need a second connection)."""
    path = tmp_path / "tutorial.db"
    engines = []

    def make_engine(**kwargs):
        engine = create_engine(f"sqlite:///{path}", **kwargs)
        if not engines:
            create_seeded_database(engine, models)
        engines.append(engine)
        return engine

    make_engine.path = path
    yield make_engine
    for engine in engines:
        engine.dispose()


# --- the SQL log ----------------------------------------------------------------------


class SQLLog:
    """The SQL statements sent to the database while a test runs, in order."""

    TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")

    def __init__(self):
        self.statements = []

    def clear(self):
        self.statements.clear()

    def matching(self, prefix):
        """The statements that start with ``prefix`` (case-insensitive), e.g. ``"UPDATE"``."""
        prefix = prefix.upper()
        return [sql for sql in self.statements if sql.lstrip().upper().startswith(prefix)]

    @property
    def queries(self):
        """Every statement except BEGIN / COMMIT / ROLLBACK / SAVEPOINT."""
        return [
            sql
            for sql in self.statements
            if not sql.lstrip().upper().startswith(self.TRANSACTION_CONTROL)
        ]

    @property
    def kinds(self):
        """The first word of each query: ``["UPDATE", "SELECT"]``."""
        return [sql.split(None, 1)[0].upper() for sql in self.queries]

    def index(self, prefix):
        """Position in ``queries`` of the first query starting with ``prefix``."""
        prefix = prefix.upper()
        for position, sql in enumerate(self.queries):
            if sql.lstrip().upper().startswith(prefix):
                return position
        raise AssertionError(f"no statement starting with {prefix!r} in {self.queries!r}")


# --- sql_log (minialchemy) begin ---
class _SQLLogHandler(logging.Handler):
    def __init__(self, log):
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record):
        sql = getattr(record, "sql", None)
        if sql is not None:
            self.log.statements.append(sql)


@pytest.fixture
def sql_log(engine):
    """Record every statement sent by any engine (the seed rows are not included)."""
    log = SQLLog()
    logger = logging.getLogger("minialchemy.engine")
    handler = _SQLLogHandler(log)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield log
    logger.removeHandler(handler)
    logger.setLevel(old_level)


# --- sql_log (minialchemy) end ---
