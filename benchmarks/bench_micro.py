"""Micro-benchmarks of the ORM's hot paths: minialchemy next to a plain-Python baseline and
SQLAlchemy 2.1, measured the same way in the same process.

Run with pytest-benchmark::

    python -m pytest benchmarks/bench_micro.py                        # compiled twins
    MINIALCHEMY_PURE_PYTHON=1 python -m pytest benchmarks/bench_micro.py

or, for both backends and SQLAlchemy side by side with ratios, targets and a Markdown/JSON
summary, ``python benchmarks/report.py --micro`` (``benchmarks/micro_report.py``), which times
the same cases in interleaved rounds (``python benchmarks/bench_micro.py --interleaved``, see
:func:`run_interleaved`).

Every measure has three implementations: ``baseline`` (what the operation costs without an
ORM: a plain attribute, a plain class, a dict lookup, a raw ``cursor.fetchall()`` ...),
``minialchemy`` (whichever twins ``minialchemy._accel`` selected) and ``sqlalchemy`` (skipped
when SQLAlchemy is not installed, or when ``MINIALCHEMY_BENCH_SQLALCHEMY=0``).

How an operation is timed.  Per-operation measures run the operation ``LOOP`` times in a
``for _ in range(LOOP):`` loop inside the benchmarked function; ns/op is the median time of
one call divided by ``LOOP``.  The loop's own cost (``empty_loop``, measured too) is part of
every per-operation figure, baseline included: this is the method behind the SQLAlchemy
ratios quoted in issue 4 (it reproduces them on this machine), so ratios compare like with
like.  The report also shows each ratio with the empty loop subtracted.  Whole-statement
measures (loading, flushing) time one call per round, with the setup outside the timing;
their ns/op is per row.
"""

import itertools
import os
import sqlite3
import sys
import tempfile
import time
from typing import Any, Callable, Optional

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tutorial_model import user_model  # noqa: E402  (a sibling module, found through the line above)

from minialchemy import _accel  # noqa: E402

#: operations per call of a per-operation measure
LOOP = 10_000
#: rows per loading / flushing measure
LOAD_SIZES = {"load_10k": 10_000, "load_100k": 100_000}
FLUSH_ROWS = 10_000

IMPLEMENTATIONS = ("baseline", "minialchemy", "sqlalchemy")


def sqlalchemy_wanted() -> bool:
    """SQLAlchemy is measured unless ``MINIALCHEMY_BENCH_SQLALCHEMY=0`` (or not installed)."""
    if os.environ.get("MINIALCHEMY_BENCH_SQLALCHEMY", "1") in ("0", ""):
        return False
    try:
        import sqlalchemy  # noqa: F401
    except ImportError:
        return False
    return True


# --- the models: the tutorial's user_account table, three ways --------------------------------


class PlainUser:
    """The baseline: a plain class with the same keyword ``__init__`` as the mapped ones."""

    def __init__(self, name=None, fullname=None):
        self.name = name
        self.fullname = fullname


class Orm:
    """One ORM's entry points: ``create_engine``, ``Session``, ``select``, the mapped ``User``."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "minialchemy":
            from minialchemy import create_engine, select
            from minialchemy.orm import Session

            self.Base, self.User = user_model("minialchemy")
        else:
            from sqlalchemy import create_engine, select
            from sqlalchemy.orm import Session

            self.Base, self.User = user_model("sqlalchemy")
        self.create_engine, self.Session, self.select = create_engine, Session, select


_orms: dict[str, Orm] = {}


def orm(name: str) -> Orm:
    if name not in _orms:
        _orms[name] = Orm(name)
    return _orms[name]


def memory_session(name: str) -> Any:
    """A session on a fresh in-memory database holding users 1..10 (user 4 loaded)."""
    o = orm(name)
    engine = o.create_engine("sqlite://")
    o.Base.metadata.create_all(engine)
    session = o.Session(engine)
    session.add_all([o.User(name=f"user{i}", fullname=f"User Number {i}") for i in range(1, 11)])
    session.commit()
    user = session.get(o.User, 4)
    user.name  # loaded (the commit expired it)
    return session, user


# --- database files for loading and flushing ------------------------------------------------

_database_dir = tempfile.TemporaryDirectory(prefix="minialchemy-bench-")


def database_file(rows: int, owner: str = "shared") -> str:
    """A SQLite file with ``rows`` users (made once per process); an ``owner`` that writes gets a
    file of its own (a flush measure leaves its last transaction open)."""
    path = os.path.join(_database_dir.name, f"users_{rows}_{owner}.db")
    if not os.path.exists(path):
        connection = sqlite3.connect(path)
        connection.execute(
            "CREATE TABLE user_account (id INTEGER PRIMARY KEY, name VARCHAR(30) NOT NULL, fullname VARCHAR)"
        )
        connection.executemany(
            "INSERT INTO user_account (id, name, fullname) VALUES (?, ?, ?)",
            ((i, f"user{i}", f"User Number {i}") for i in range(1, rows + 1)),
        )
        connection.commit()
        connection.close()
    return path


SELECT_USERS = "SELECT user_account.id, user_account.name, user_account.fullname FROM user_account"


# --- measures ---------------------------------------------------------------------------------
#
# A per-operation measure returns (function, operations per call); a statement measure returns
# (function, rows, setup) for benchmark.pedantic, where setup() returns the function's args.


#: what a measure's function needs alive, by (measure, impl): the session whose identity map
#: holds the measured object (each implementation its own: the interleaved rounds build them all
#: before timing any)
_kept: dict[tuple[str, str], Any] = {}


def _keep(measure: str, impl: str, value: Any) -> None:
    _kept[(measure, impl)] = value


def _loop(body: str, **names: Any) -> Callable[[], None]:
    """``for _ in range(LOOP): <body>`` as a compiled function of ``names`` (locals, so the
    loop body costs what it would in a user's function)."""
    source = f"def run({', '.join(names)}):\n    for _ in range({LOOP}):\n        {body}\n"
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - our own benchmark source
    run = namespace["run"]
    return lambda: run(**names)


def measure_empty_loop(impl: str) -> Any:
    return _loop("pass"), LOOP


def measure_attr_get(impl: str) -> Any:
    """Reading an attribute of a loaded object (baseline: of a plain object)."""
    if impl == "baseline":
        return _loop("user.name", user=PlainUser("user4", "User Number 4")), LOOP
    session, user = memory_session(impl)
    _keep("attr_get", impl, session)
    return _loop("user.name", user=user), LOOP


def measure_attr_set(impl: str) -> Any:
    """Setting an attribute of a persistent object (baseline: of a plain object)."""
    if impl == "baseline":
        return _loop("user.fullname = value", user=PlainUser("user4", "User Number 4"), value="Four"), LOOP
    session, user = memory_session(impl)
    _keep("attr_set", impl, session)
    user.fullname = "Four"  # the first write records the committed value; then the steady state
    return _loop("user.fullname = value", user=user, value="Four"), LOOP


def measure_construct(impl: str) -> Any:
    """Constructing a transient object with two keyword arguments (baseline: a plain class
    whose ``__init__`` takes the same keywords and sets them)."""
    cls = PlainUser if impl == "baseline" else orm(impl).User
    return _loop("cls(name='squidward', fullname='Squidward Tentacles')", cls=cls), LOOP


def measure_session_get(impl: str) -> Any:
    """``session.get(User, 4)`` when the object is in the identity map (baseline: a dict
    lookup of the identity key, ``identity_map.get((User, (4,), None))``)."""
    if impl == "baseline":
        user = PlainUser("user4", "User Number 4")
        return _loop("identity_map.get(key)", identity_map={(PlainUser, (4,), None): user},
                     key=(PlainUser, (4,), None)), LOOP
    session, user = memory_session(impl)
    _keep("session_get", impl, (session, user))
    return _loop("session.get(User, 4)", session=session, User=orm(impl).User), LOOP


def _identity_set(impl: str) -> Any:
    members = [PlainUser(f"user{i}") for i in range(100)]
    if impl == "baseline":
        collection = set(members)
    elif impl == "minialchemy":
        collection = _accel.identity.IdentitySet(members)
    else:
        from sqlalchemy.util import IdentitySet

        collection = IdentitySet(members)
    return collection, members[50]


def measure_identityset_add(impl: str) -> Any:
    """``session.new.add(obj)``-style: adding a member again to an IdentitySet of 100 objects
    (baseline: ``set.add``)."""
    collection, member = _identity_set(impl)
    return _loop("add(member)", add=collection.add, member=member), LOOP


def measure_identityset_contains(impl: str) -> Any:
    """``obj in session.dirty``-style: membership of a member (baseline: ``in`` a set)."""
    collection, member = _identity_set(impl)
    return _loop("member in collection", collection=collection, member=member), LOOP


def _loading(impl: str, rows: int) -> Any:
    path = database_file(rows)
    if impl == "baseline":
        connection = sqlite3.connect(path)

        def fetch_all(_: Any = None) -> Any:
            return connection.execute(SELECT_USERS).fetchall()

        return fetch_all, rows, lambda: ((None,), {})
    o = orm(impl)
    engine = o.create_engine(f"sqlite:///{path}")
    statement = o.select(o.User)
    sessions: list[Any] = []

    def new_session() -> Any:
        for old in sessions:  # the previous round's session is closed outside the timing
            old.close()
        sessions[:] = [o.Session(engine)]
        return (sessions[0],), {}

    def load_all(session: Any) -> Any:
        return session.scalars(statement).all()

    return load_all, rows, new_session


def measure_load_10k(impl: str) -> Any:
    """``session.scalars(select(User)).all()`` of 10,000 rows into a fresh session (baseline:
    ``cursor.execute(sql).fetchall()``); per row."""
    return _loading(impl, LOAD_SIZES["load_10k"])


def measure_load_100k(impl: str) -> Any:
    """The same with 100,000 rows."""
    return _loading(impl, LOAD_SIZES["load_100k"])


def measure_flush_10k(impl: str) -> Any:
    """``session.flush()`` of 10,000 loaded objects with one changed attribute each (baseline:
    ``cursor.executemany`` of the same UPDATE); per row.  Set-up (load, change) is untimed."""
    path = database_file(FLUSH_ROWS, owner=impl)
    if impl == "baseline":
        connection = sqlite3.connect(path, isolation_level=None)
        parameters = [(f"Changed {i}", i) for i in range(1, FLUSH_ROWS + 1)]

        def begin() -> Any:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            connection.execute("BEGIN")
            return (), {}

        def update_all() -> None:
            connection.executemany("UPDATE user_account SET fullname=? WHERE user_account.id = ?", parameters)

        return update_all, FLUSH_ROWS, begin
    o = orm(impl)
    engine = o.create_engine(f"sqlite:///{path}")
    statement = o.select(o.User)
    sessions: list[Any] = []

    def load_and_change() -> Any:
        for old in sessions:
            old.rollback()
            old.close()
        session = o.Session(engine)
        users = session.scalars(statement).all()
        for user in users:
            user.fullname = f"Changed {user.id}"
        sessions[:] = [session]
        return (session, users), {}

    def flush(session: Any, users: Any) -> None:
        session.flush()

    return flush, FLUSH_ROWS, load_and_change


def measure_update_params(impl: str) -> Any:
    """``instrumentation.update_params`` of one modified object (the flush's UPDATE values);
    minialchemy only: compiled twin against pure-Python twin."""
    if impl != "minialchemy":
        return None
    session, user = memory_session(impl)
    user.fullname = "Four"
    instrumentation = _accel.instrumentation
    _keep("update_params", impl, session)
    state = instrumentation.instance_state(user)
    return _loop("update_params(state, d)", update_params=instrumentation.update_params, state=state,
                 d=user.__dict__), LOOP


#: measure name -> factory; per-operation measures first
MEASURES: dict[str, Callable[[str], Any]] = {
    "empty_loop": measure_empty_loop,
    "attr_get": measure_attr_get,
    "attr_set": measure_attr_set,
    "construct": measure_construct,
    "session_get": measure_session_get,
    "identityset_add": measure_identityset_add,
    "identityset_contains": measure_identityset_contains,
    "update_params": measure_update_params,
    "load_10k": measure_load_10k,
    "load_100k": measure_load_100k,
    "flush_10k": measure_flush_10k,
}
STATEMENT_MEASURES = {"load_10k", "load_100k", "flush_10k"}


# --- pytest-benchmark ---------------------------------------------------------------------------


def _cases() -> list[Any]:
    cases = []
    for measure in MEASURES:
        for impl in IMPLEMENTATIONS:
            if measure == "empty_loop" and impl != "baseline":
                continue
            marks = []
            if impl == "sqlalchemy":
                marks.append(pytest.mark.skipif(not sqlalchemy_wanted(), reason="SQLAlchemy not measured"))
            cases.append(pytest.param(measure, impl, id=f"{measure}-{impl}", marks=marks))
    return cases


@pytest.mark.parametrize(("measure", "impl"), _cases())
def test_micro(benchmark: Any, measure: str, impl: str) -> None:
    built = MEASURES[measure](impl)
    if built is None:
        pytest.skip(f"{measure} has no {impl} implementation")
    benchmark.group = measure
    benchmark.extra_info.update(measure=measure, impl=impl, backend=_accel.BACKEND)
    if measure in STATEMENT_MEASURES:
        function, rows, setup = built
        benchmark.extra_info["ops"] = rows
        rounds = 3 if measure == "load_100k" else 7
        benchmark.pedantic(function, setup=setup, rounds=rounds, iterations=1, warmup_rounds=1)
    else:
        function, ops = built
        benchmark.extra_info["ops"] = ops
        benchmark(function)


# --- interleaved rounds: what the report runs ---------------------------------------------------
#
# pytest-benchmark times one case after the other: the baseline of a measure runs, then
# minialchemy, then SQLAlchemy, each for a second or so.  On a shared machine the load can change
# between them, and a ratio of two figures taken at different moments moves with it (construct
# measured 1.10x and 1.89x in two runs of the same code).  Here the implementations of a measure
# take turns instead, round by round, so that the two figures of a ratio are taken next to each
# other, and the report gives both the ratio of the medians and the median of the round-by-round
# ratios.

#: timed rounds of each measure (after one warm-up round)
ROUNDS = 15
#: calls of a per-operation measure per implementation per round: the fastest is the round's
#: figure (a call is 10 000 operations, a millisecond or so: one interruption by another process
#: would otherwise decide a round) ...
CALLS_PER_ROUND = 5
#: ... unless the calls so far took this many seconds (SQLAlchemy's, up to 0.1 s a call)
ROUND_SECONDS = 0.02
#: SQLAlchemy's statement measures take up to a second a round: it takes part in this many
#: rounds only (the first ones), each next to that round's baseline
SQLALCHEMY_STATEMENT_ROUNDS = {"load_10k": 7, "load_100k": 3, "flush_10k": 5}


def _time_round(measure: str, built: Any) -> float:
    """Seconds of one round of one implementation of ``measure`` (set-up untimed)."""
    if measure in STATEMENT_MEASURES:
        function, _rows, setup = built
        args, kwargs = setup()
        start = time.perf_counter()
        function(*args, **kwargs)
        return time.perf_counter() - start
    function, _ops = built
    best = float("inf")
    spent = 0.0
    for _ in range(CALLS_PER_ROUND):
        start = time.perf_counter()
        function()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        if spent >= ROUND_SECONDS:
            break
    return best


def run_interleaved(rounds: int = ROUNDS, only: Optional[list[str]] = None) -> dict[str, Any]:
    """Every measure (or those named in ``only``), its implementations taking turns for
    ``rounds`` rounds (after a warm-up round), in alternating order (baseline first in one
    round, last in the next).  Returns, per measure and implementation, the seconds per
    operation of each round (``None`` for a round it sat out) and the operations per call.
    Each measure's wall time goes to stderr."""
    impls = [impl for impl in IMPLEMENTATIONS if impl != "sqlalchemy" or sqlalchemy_wanted()]
    report: dict[str, Any] = {"backend": _accel.BACKEND, "rounds": rounds, "measures": {}}
    for measure, factory in MEASURES.items():
        if only and measure not in only and measure != "empty_loop":
            continue
        started = time.perf_counter()
        cases = {}
        for impl in impls:
            if measure == "empty_loop" and impl != "baseline":
                continue
            built = factory(impl)
            if built is not None:
                cases[impl] = built
        ops = {impl: (built[1]) for impl, built in cases.items()}
        per_op: dict[str, list[Optional[float]]] = {impl: [] for impl in cases}
        for round_number in range(rounds + 1):  # round 0 warms up
            order = list(cases) if round_number % 2 else list(reversed(cases))
            for impl in order:
                sits_out = (impl == "sqlalchemy" and measure in STATEMENT_MEASURES
                            and round_number > SQLALCHEMY_STATEMENT_ROUNDS.get(measure, rounds))
                seconds = None if sits_out else _time_round(measure, cases[impl])
                if round_number:
                    per_op[impl].append(None if seconds is None else seconds / ops[impl])
        report["measures"][measure] = {"ops": ops, "seconds_per_op": per_op}
        sys.stderr.write(f"{measure}: {time.perf_counter() - started:.1f} s\n")
    return report


# --- diagnostics: the garbage collector while loading ---------------------------------------


def gc_profile_of_loading(rows: int = 100_000) -> dict[str, Any]:
    """What the cyclic garbage collector does while ``rows`` rows are loaded, per
    implementation: collections per generation and the time spent in them (``gc.callbacks``),
    and the load's time with the collector disabled.  ``python benchmarks/bench_micro.py
    --gc-profile`` prints it as JSON."""
    import gc
    import time

    report: dict[str, Any] = {"backend": _accel.BACKEND, "rows": rows}
    impls = ["baseline", "minialchemy"] + (["sqlalchemy"] if sqlalchemy_wanted() else [])
    for impl in impls:
        function, _, setup = _loading(impl, rows)
        function(*setup()[0])  # warm-up
        events: list[tuple[int, float]] = []
        started: list[float] = []

        def callback(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                started.append(time.perf_counter())
            else:
                events.append((info["generation"], time.perf_counter() - started.pop()))

        args = setup()[0]
        gc.callbacks.append(callback)
        start = time.perf_counter()
        result = function(*args)
        elapsed = time.perf_counter() - start
        gc.callbacks.remove(callback)
        del result
        args = setup()[0]
        gc.disable()
        try:
            start = time.perf_counter()
            result = function(*args)
            elapsed_without_gc = time.perf_counter() - start
        finally:
            gc.enable()
        del result
        setup()
        report[impl] = {
            "seconds": elapsed,
            "seconds_with_gc_disabled": elapsed_without_gc,
            "collections": {g: sum(1 for gen, _ in events if gen == g) for g in (0, 1, 2)},
            "gc_seconds": {g: sum(t for gen, t in events if gen == g) for g in (0, 1, 2)},
        }
    return report


if __name__ == "__main__":
    import json
    import sys

    if "--gc-profile" in sys.argv:
        print(json.dumps(gc_profile_of_loading()))
    elif "--interleaved" in sys.argv:
        # --interleaved [MEASURE ...]: all measures, or the ones named
        print(json.dumps(run_interleaved(only=sys.argv[sys.argv.index("--interleaved") + 1:] or None)))
    else:
        print(__doc__)
