"""Threads on one in-memory engine: each thread its own transaction, the database shared.

``create_engine("sqlite://")`` is one database for the whole engine, and every thread gets its
own sqlite3 connection to it, so one thread's ROLLBACK never undoes another thread's work and a
COMMIT that returned is never lost.  Two threads whose transactions use the same table are told
so at once (OperationalError: in-memory databases cannot wait for a lock).  One Session used by
two threads at the same time is refused loudly.

(SQLAlchemy gives each thread its own, separate in-memory database, so these tests are ours.)
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from minialchemy import ForeignKey, create_engine, func, select
from minialchemy.exc import InvalidRequestError, OperationalError
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

pytestmark = pytest.mark.minialchemy_only

THREADS = 8
COMMITS_PER_THREAD = 10


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread: Mapped[int]
    number: Mapped[int]


class Note(Base):
    __tablename__ = "note"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), nullable=True)
    text: Mapped[str]


@pytest.fixture
def memory_engine():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _run_in_threads(count, work):
    """Run ``work(index)`` in ``count`` threads started together; return the results (a
    thread's exception is raised here)."""
    barrier = threading.Barrier(count)

    def start(index):
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count)))


def _rows(engine, statement):
    with Session(engine) as session:
        return session.execute(statement).all()


def _until_not_locked(transaction):
    """Run ``transaction()`` (one Session's work) again while another thread's transaction
    holds the table: in memory, SQLite refuses at once instead of waiting."""
    for _ in range(100_000):
        try:
            return transaction()
        except OperationalError as error:
            assert "table is locked" in str(error)
            time.sleep(0.001)  # give the lock holder a moment to finish
    raise AssertionError("the table stayed locked for 100 000 attempts")


def test_threads_with_their_own_sessions_never_lose_an_acknowledged_commit(memory_engine):
    def discarded(thread):
        with Session(memory_engine) as session:
            session.add(Item(thread=thread, number=-1))
            session.flush()
            time.sleep(0)  # let the other threads run while this transaction is open
            session.rollback()

    def kept(thread, number):
        with Session(memory_engine) as session:
            session.add(Item(thread=thread, number=number))
            session.flush()
            time.sleep(0)
            session.commit()  # returned: acknowledged

    def work(thread):
        acknowledged = []
        for number in range(COMMITS_PER_THREAD):
            _until_not_locked(lambda: discarded(thread))
            _until_not_locked(lambda: kept(thread, number))
            acknowledged.append((thread, number))
        return acknowledged

    acknowledged = [pair for pairs in _run_in_threads(THREADS, work) for pair in pairs]
    stored = _rows(memory_engine, select(Item.thread, Item.number))
    assert sorted(stored) == sorted(acknowledged)  # nothing lost, no ghost of a rolled-back row
    assert len(stored) == THREADS * COMMITS_PER_THREAD


def _while_another_thread_has_flushed(engine, body):
    """Run ``body()`` in a second thread while a first thread holds a flushed, uncommitted
    ``Item(thread=1, number=1)``; the first thread commits once ``body`` is done."""
    flushed = threading.Event()
    done = threading.Event()

    def writer():
        with Session(engine) as session:
            session.add(Item(thread=1, number=1))
            session.flush()
            flushed.set()
            done.wait()
            session.commit()

    def other():
        flushed.wait()
        try:
            body()
        finally:
            done.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [pool.submit(writer), pool.submit(other)]
        for result in results:
            result.result()


def test_a_rollback_in_one_thread_does_not_undo_another_threads_flush(memory_engine):
    def roll_back_in_another_thread():
        with Session(memory_engine) as session:
            assert session.scalars(select(Note)).all() == []
            session.add(Note(text="refused"))
            with pytest.raises(OperationalError, match="table is locked"):
                session.flush()  # one writer at a time: the other thread's is open
            session.rollback()

    _while_another_thread_has_flushed(memory_engine, roll_back_in_another_thread)
    assert _rows(memory_engine, select(Item.thread, Item.number)) == [(1, 1)]
    assert _rows(memory_engine, select(Note.text)) == []


def test_threads_see_each_others_committed_rows(memory_engine):
    with Session(memory_engine) as session:
        session.add(Item(thread=0, number=7))
        session.commit()

    def count(_):
        with Session(memory_engine) as session:
            return session.scalar(select(func.count()).select_from(Item))

    assert _run_in_threads(4, count) == [1, 1, 1, 1]


def test_a_table_locked_by_another_threads_transaction_is_a_clear_error(memory_engine):
    def read_in_another_thread():
        with Session(memory_engine) as session:
            with pytest.raises(OperationalError, match="another thread's open transaction"):
                session.scalars(select(Item)).all()

    _while_another_thread_has_flushed(memory_engine, read_in_another_thread)
    assert _rows(memory_engine, select(Item.number)) == [(1,)]


def test_one_session_used_from_a_second_thread_is_refused(memory_engine):
    session = Session(memory_engine)
    item = Item(thread=1, number=1)
    session.add(item)
    session.flush()  # the transaction is open, begun by this thread
    item.number = 5  # a change for the next flush

    def intruder():
        refused = []
        for attempt in (
            lambda: session.add(Item(thread=2, number=2)),
            lambda: session.execute(select(Item)),
            lambda: session.get(Item, 99),  # not in the identity map: a SELECT
            session.flush,
            session.commit,
            session.rollback,
        ):
            with pytest.raises(InvalidRequestError, match="not thread-safe"):
                attempt()
            refused.append(True)
        return len(refused)

    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(intruder).result() == 6
    session.commit()
    session.close()
    assert _rows(memory_engine, select(Item.thread, Item.number)) == [(1, 5)]


def test_a_session_can_move_to_another_thread_between_transactions(memory_engine):
    session = Session(memory_engine)
    session.add(Item(thread=1, number=1))
    session.commit()

    def continue_there():
        session.add(Item(thread=2, number=2))
        session.commit()
        return session.scalar(select(func.count()).select_from(Item))

    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(continue_there).result() == 2
    session.close()
