"""The N+1 problem made visible: every lazy load is counted in the echo log, and one session
lazy loading the same relationship for many different objects gets one warning that names the
option to use instead.  (minialchemy's own teaching feature: SQLAlchemy has no such warning.)"""

import logging
import warnings

import pytest

from minialchemy import create_engine, insert, select
from minialchemy.exc import NPlusOneWarning
from minialchemy.orm import Session, selectinload


pytestmark = pytest.mark.minialchemy_only


@pytest.fixture
def many_users_engine(models):
    """25 users, each with one address."""
    engine = create_engine("sqlite://")
    models.Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(models.User.__table__), [{"id": i, "name": f"user{i}"} for i in range(1, 26)])
        connection.execute(
            insert(models.Address.__table__),
            [{"id": i, "email_address": f"user{i}@example.org", "user_id": i} for i in range(1, 26)],
        )
    yield engine
    engine.dispose()


@pytest.fixture
def causes():
    """The cause of every statement the engine logs."""
    found = []

    class Handler(logging.Handler):
        def emit(self, record):
            if getattr(record, "sql", None) is not None:
                found.append(record.cause)

    logger = logging.getLogger("minialchemy.engine")
    handler = Handler()
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield found
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def read_every_collection(session, User, statement=None):
    users = session.scalars(statement if statement is not None else select(User).order_by(User.id)).all()
    return [len(user.addresses) for user in users]


def test_each_lazy_load_is_labelled_with_its_relationship_and_count(many_users_engine, User, causes):
    with Session(many_users_engine, n_plus_one_threshold=None) as session:
        read_every_collection(session, User)
    lazy = [c for c in causes if c and c.startswith("lazy load")]
    assert lazy[:3] == ["lazy load of User.addresses #1", "lazy load of User.addresses #2", "lazy load of User.addresses #3"]
    assert len(lazy) == 25


def test_the_tenth_parent_brings_one_warning_naming_the_fix(many_users_engine, User, caplog):
    with Session(many_users_engine) as session:
        with pytest.warns(NPlusOneWarning) as record:
            read_every_collection(session, User)
    assert len(record) == 1
    message = str(record[0].message)
    assert "User.addresses" in message
    assert "10 different User objects" in message
    assert "selectinload(User.addresses)" in message
    assert record[0].filename == __file__  # points at the line that read user.addresses
    assert [r.getMessage() for r in caplog.records if r.name == "minialchemy.orm"] == [message]


def test_no_warning_below_the_threshold(many_users_engine, User):
    with Session(many_users_engine) as session:
        users = session.scalars(select(User).order_by(User.id).limit(9)).all()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for user in users:
                user.addresses


def test_reading_the_same_parent_again_is_not_another_parent(many_users_engine, User):
    with Session(many_users_engine) as session:
        sandy = session.get(User, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for _ in range(12):
                session.expire(sandy, ["addresses"])
                sandy.addresses


def test_threshold_is_configurable_per_session(many_users_engine, User):
    with Session(many_users_engine, n_plus_one_threshold=3) as session:
        with pytest.warns(NPlusOneWarning, match="3 different User objects"):
            read_every_collection(session, User)


def test_warning_is_off_with_a_session_flag(many_users_engine, User):
    with Session(many_users_engine, n_plus_one_threshold=None) as session:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            read_every_collection(session, User)


def test_warning_is_off_with_an_engine_flag(models, User):
    engine = create_engine("sqlite://", n_plus_one_threshold=None)
    models.Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(User.__table__), [{"id": i, "name": f"user{i}"} for i in range(1, 15)])
    with Session(engine) as session:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            read_every_collection(session, User)
    engine.dispose()


def test_selectinload_replaces_the_n_lazy_loads_by_one_select(many_users_engine, User, causes):
    with Session(many_users_engine) as session:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            counts = read_every_collection(session, User, select(User).order_by(User.id).options(selectinload(User.addresses)))
    assert counts == [1] * 25
    assert [c for c in causes if c is not None and c.startswith(("lazy", "selectin"))] == ["selectinload of User.addresses"]


def test_many_to_one_found_in_the_identity_map_is_not_counted(many_users_engine, models, causes):
    User, Address = models.User, models.Address
    with Session(many_users_engine) as session:
        users = session.scalars(select(User)).all()
        addresses = session.scalars(select(Address)).all()
        causes.clear()
        assert all(address.user in users for address in addresses)
        assert causes == []
