"""Memory per loaded object: what one row of ``select(User)`` costs once it is an object in a
session, next to a plain class instance built from the same rows (issue 12).

Measured with :mod:`tracemalloc`: the bytes still allocated after ``rows`` rows of the tutorial's
``user_account`` table (``id``, ``name``, ``fullname``; the database file of
``bench_micro.database_file``) have been loaded and kept, divided by ``rows``.  Everything the
load leaves behind counts: the object and its ``__dict__``, the ORM's per-object state, the
identity key and the identity map's entry, the column values themselves and the list holding
the objects.  What the load used and freed (the fetched row tuples, the result) does not.  The
three ways of loading read the same rows from the same file:

- ``baseline``: ``cursor.execute(sql).fetchall()`` and one :class:`PlainUserRow` per row
  (an ordinary class whose ``__init__`` sets the three attributes), rows then dropped;
- ``minialchemy``: ``session.scalars(select(User)).all()`` with the session kept open (its
  identity map is part of what each object costs), with whichever twins
  ``minialchemy._accel`` selected in this process (``MINIALCHEMY_PURE_PYTHON=1`` for the
  pure-Python ones);
- ``sqlalchemy``: the same statement with SQLAlchemy 2.1, when installed.

Use :func:`memory_per_object` for one figure in this process, :func:`memory_per_object_all`
for all four (the other backend of minialchemy runs in a child process), or run this file::

    python benchmarks/bench_memory.py [--rows N]     # prints JSON
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import subprocess
import sys
import tracemalloc
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_micro  # noqa: E402  (a sibling module, found through the line above)

__all__ = ["PlainUserRow", "memory_per_object", "memory_per_object_all"]

#: rows loaded by default (issue 12's figure is for 100 000)
ROWS = 100_000


class PlainUserRow:
    """The baseline: an ordinary class holding one fetched row's three values."""

    def __init__(self, id: int, name: str, fullname: str | None) -> None:  # noqa: A002 (the column's name)
        self.id = id
        self.name = name
        self.fullname = fullname


def _traced_bytes_kept(load: Callable[[], Any]) -> int:
    """Bytes allocated by ``load()`` and still allocated while its result is kept."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = load()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return after - before


def _load_plain(path: str) -> Callable[[], Any]:
    connection = sqlite3.connect(path)

    def load() -> list[PlainUserRow]:
        rows = connection.execute(bench_micro.SELECT_USERS).fetchall()
        return [PlainUserRow(*row) for row in rows]

    return load


def _load_orm(impl: str, path: str) -> Callable[[], Any]:
    orm = bench_micro.orm(impl)
    engine = orm.create_engine(f"sqlite:///{path}")
    statement = orm.select(orm.User)
    warm_up = orm.Session(engine)  # compiled-statement caches filled before the measure
    warm_up.scalars(statement.limit(10)).all()
    warm_up.scalars(statement).all()
    warm_up.close()

    def load() -> tuple[Any, list[Any]]:
        session = orm.Session(engine)
        return session, session.scalars(statement).all()

    return load


def memory_per_object(impl: str, rows: int = ROWS) -> float:
    """Bytes each of ``rows`` loaded objects keeps allocated, measured in this process.

    ``impl`` is ``"baseline"`` (a plain class instance per fetched row), ``"minialchemy"``
    (the twins this process runs: ``minialchemy._accel.BACKEND``) or ``"sqlalchemy"``.  The
    module docstring says what is counted.
    """
    path = bench_micro.database_file(rows)
    if impl == "baseline":
        load = _load_plain(path)
    elif impl in ("minialchemy", "sqlalchemy"):
        load = _load_orm(impl, path)
    else:
        raise ValueError(f"unknown implementation {impl!r}: use 'baseline', 'minialchemy' or 'sqlalchemy'")
    return _traced_bytes_kept(load) / rows


def memory_per_object_all(rows: int = ROWS, with_sqlalchemy: bool | None = None) -> dict[str, float]:
    """Bytes per loaded object for ``baseline``, ``cython`` (compiled twins), ``python``
    (pure-Python twins) and ``sqlalchemy`` (left out when not installed, or when
    ``with_sqlalchemy`` is False), each backend of minialchemy in a child process of its own
    (``minialchemy._accel`` picks the twins once per process).  A backend that cannot run here
    (compiled twins not built) is left out."""
    if with_sqlalchemy is None:
        with_sqlalchemy = bench_micro.sqlalchemy_wanted()
    figures: dict[str, float] = {}
    for pure in (False, True):
        env = dict(os.environ, MINIALCHEMY_PURE_PYTHON="1" if pure else "0")
        command = [sys.executable, os.path.abspath(__file__), "--rows", str(rows), "--in-process"]
        if not with_sqlalchemy or pure:
            command.append("--no-sqlalchemy")
        completed = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        measured = json.loads(completed.stdout)
        if measured["backend"] != ("python" if pure else "cython"):
            continue  # asked for the compiled twins, got the Python ones: not built here
        figures[measured["backend"]] = measured["minialchemy"]
        for impl in ("baseline", "sqlalchemy"):
            if impl in measured and impl not in figures:
                figures[impl] = measured[impl]
    return figures


def _main(argv: list[str]) -> None:
    rows = int(argv[argv.index("--rows") + 1]) if "--rows" in argv else ROWS
    if "--in-process" not in argv:
        print(json.dumps(memory_per_object_all(rows, with_sqlalchemy=False if "--no-sqlalchemy" in argv else None)))
        return
    from minialchemy import _accel

    impls = ["baseline", "minialchemy"]
    if "--no-sqlalchemy" not in argv and bench_micro.sqlalchemy_wanted():
        impls.append("sqlalchemy")
    measured: dict[str, Any] = {"backend": _accel.BACKEND, "rows": rows}
    for impl in impls:
        measured[impl] = memory_per_object(impl, rows)
    print(json.dumps(measured))


if __name__ == "__main__":
    _main(sys.argv[1:])
