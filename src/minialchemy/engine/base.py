"""Engine, Connection and Transaction: the only place where SQL reaches sqlite3.

Statements come in through three public methods of :class:`Connection`: ``execute()`` (a Core
statement, compiled here), ``execute_compiled()`` (compiled once by the caller: the ORM's flush
and loader) and ``execute_insertmanyvalues()`` (batched ``INSERT ... RETURNING``).  Each takes
``execution_options={"cause": ...}``: why the statement was sent (``flush step 1 of 2: INSERT
...``, ``lazy load of User.addresses``).  All of them end in one private choke point,
``Connection._execute_sql``, which logs the statement on the ``minialchemy.engine`` logger with
its parameters and its cause, runs it, and wraps any sqlite3 error in the matching
:mod:`minialchemy.exc` class.

Transactions are explicit: sqlite3 runs with ``isolation_level=None`` (no hidden BEGIN), and
the first statement on a connection emits ``BEGIN`` itself ("autobegin", logged as
``BEGIN (implicit)``) until ``commit()`` or ``rollback()``.

An in-memory URL (``sqlite://``) is one database shared by every connection of the engine, with
one sqlite3 connection per thread (:class:`_MemoryPool`): threads never share a transaction.
A file URL gets connections from a small pool.

Where it sits: below the ORM's Session (which holds one Connection per transaction), above the
stdlib ``sqlite3`` module.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Mapping

# threading.local and threading.Lock are these two from _thread (the interpreter's built-in
# module, already loaded at start-up): importing threading itself would cost more than
# sqlite3's import (issue 12's import-time ratio).
from _thread import _local as _thread_local, allocate_lock as _new_lock

from minialchemy.engine import log
from minialchemy.engine.result import CursorResult, row_class
from minialchemy.exc import ArgumentError, DBAPIError, InvalidRequestError, ResourceClosedError, _truncate_params
from minialchemy.inspection import Inspector, _inspects
from minialchemy.sql.compiler import compile_element

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Iterable, Iterator, Sequence
    from minialchemy.engine import insertmanyvalues
    from minialchemy.sql.compiler import Compiled

__all__ = ["Engine", "Connection", "Transaction", "create_engine", "Dialect"]


class Dialect:
    """What this SQLite can do, read once from the first connection."""

    name = "sqlite"
    driver = "pysqlite"

    def __init__(self) -> None:
        self.sqlite_version_info: tuple[int, ...] = sqlite3.sqlite_version_info
        #: ``INSERT ... RETURNING`` exists since SQLite 3.35 (below it, the flush inserts
        #: one row per statement; see ``minialchemy.engine.insertmanyvalues``)
        self.supports_returning = self.sqlite_version_info >= (3, 35)
        #: the bind-parameter limit (SQLITE_LIMIT_VARIABLE_NUMBER): how many ``?`` one statement
        #: may hold, which caps the rows of a batched INSERT.  Read from the first connection
        #: (:meth:`initialize`); until then, SQLite's compiled-in default.
        self.max_bind_params = self.default_max_bind_params(self.sqlite_version_info)

    @staticmethod
    def default_max_bind_params(version: tuple[int, ...]) -> int:
        """SQLite's default SQLITE_MAX_VARIABLE_NUMBER: 999 before 3.32, 32766 since."""
        return 999 if version < (3, 32) else 32766

    def initialize(self, raw: sqlite3.Connection) -> None:
        """Read what this connection's SQLite allows.  ``Connection.getlimit`` exists since
        Python 3.11; on 3.10 the version-based default stands (distributions that raise the
        limit then get a smaller batch than they could, never a too-large one)."""
        limit = getattr(sqlite3, "SQLITE_LIMIT_VARIABLE_NUMBER", None)
        if limit is not None and hasattr(raw, "getlimit"):
            self.max_bind_params = raw.getlimit(limit)

    def has_table(self, connection: "Connection", table_name: str) -> bool:
        """True if the database behind ``connection`` has a table of this name."""
        result = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
            (table_name,),
            execution_options={"cause": f"check whether table {table_name!r} exists"},
        )
        return result.first() is not None

    def __repr__(self) -> str:
        version = ".".join(map(str, self.sqlite_version_info))
        return f"<Dialect sqlite {version} returning={self.supports_returning} max_bind_params={self.max_bind_params}>"


class _MemoryPool:
    """An in-memory database shared by the whole engine, one sqlite3 connection per thread.

    The database is SQLite's shared-cache in-memory database (``file:<name>?mode=memory&
    cache=shared``, unique per engine): every connection opened on that name sees the same
    tables, and a *keeper* connection held by the pool keeps it alive until :meth:`dispose`.

    Within a thread, every Connection of the engine uses that thread's sqlite3 connection (as
    SQLAlchemy's SingletonThreadPool does, so two Sessions of one thread see each other's
    flushed rows); each thread has its own, so threads never share a transaction: one
    thread's ROLLBACK cannot undo another thread's work, and a COMMIT saves only its own.
    SQLite's shared cache lets one connection at a time write, and a writer's tables cannot
    be read by others until it ends; where threads collide it refuses at once ("database
    table is locked": it cannot wait, unlike a database file), which the engine raises as an
    OperationalError saying so (``_explain_table_lock``).

    A thread's connection is closed once the thread has ended and no Connection uses it.
    """

    def __init__(self, creator: Any) -> None:
        self._creator = creator
        self._keeper: sqlite3.Connection | None = None
        self._local = _thread_local()
        self._lock = _new_lock()
        #: id(raw) -> its bookkeeping, for every thread's connection
        self._entries: dict[int, _ThreadConnection] = {}

    def checkout(self) -> sqlite3.Connection:
        entry = getattr(self._local, "entry", None)
        if entry is None or entry.raw is None:
            with self._lock:
                if self._keeper is None:
                    self._keeper = self._creator()
            entry = _ThreadConnection(self._creator())
            with self._lock:
                self._entries[id(entry.raw)] = entry
            self._local.entry = entry
            # dropped with the thread's storage when the thread ends: then _thread_ended runs
            self._local.watcher = _ThreadEndWatcher(self, entry)
        with self._lock:
            entry.users += 1
        return entry.raw  # type: ignore[return-value]

    def checkin(self, raw: sqlite3.Connection) -> None:
        """One Connection fewer uses ``raw``; closed if its thread has ended and none is left."""
        with self._lock:
            entry = self._entries.get(id(raw))
            if entry is None:
                return
            entry.users -= 1
            closing = entry.users <= 0 and not entry.thread_alive
            if closing:
                del self._entries[id(raw)]
        if closing:
            entry.close()

    def _thread_ended(self, entry: "_ThreadConnection") -> None:
        with self._lock:
            entry.thread_alive = False
            closing = entry.users <= 0 and self._entries.pop(id(entry.raw), None) is not None
        if closing:
            entry.close()

    def dispose(self) -> None:
        """Close every connection; the in-memory database is gone with the last of them."""
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
            keeper, self._keeper = self._keeper, None
        for entry in entries:
            entry.close()
        if keeper is not None:
            keeper.close()
        self._local = _thread_local()


class _ThreadConnection:
    """One thread's sqlite3 connection in a :class:`_MemoryPool`, with how many Connections
    use it and whether its thread is still running."""

    __slots__ = ("raw", "users", "thread_alive")

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw: sqlite3.Connection | None = raw
        self.users = 0
        self.thread_alive = True

    def close(self) -> None:
        raw, self.raw = self.raw, None
        if raw is not None:
            raw.close()


class _ThreadEndWatcher:
    """Kept in the thread's storage only: its finalizer tells the pool the thread has ended."""

    __slots__ = ("pool", "entry")

    def __init__(self, pool: _MemoryPool, entry: _ThreadConnection) -> None:
        self.pool = pool
        self.entry = entry

    def __del__(self) -> None:
        self.pool._thread_ended(self.entry)


class _QueuePool:
    """A few idle sqlite3 connections to a database file, reused instead of reopened."""

    def __init__(self, creator: Any, size: int = 5) -> None:
        self._creator = creator
        self._idle: list[sqlite3.Connection] = []
        self._size = size
        self._lock = _new_lock()

    def checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._creator()

    def checkin(self, raw: sqlite3.Connection) -> None:
        if raw.in_transaction:  # its ROLLBACK failed: never hand an open transaction to the next user
            raw.close()
            return
        with self._lock:
            if len(self._idle) < self._size:
                self._idle.append(raw)
                return
        raw.close()

    def dispose(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()


def _parse_url(url: str) -> str:
    """The sqlite3 database argument for a URL: ``":memory:"`` or a file path."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] != "sqlite":
        raise ArgumentError(
            f"Could not parse URL {url!r}: minialchemy supports sqlite URLs only, such as "
            f"'sqlite://' (in memory) or 'sqlite:///path/to/file.db'"
        )
    path = rest[1:] if rest.startswith("/") else rest
    path = path.split("?", 1)[0]
    return path or ":memory:"


class Engine:
    """A factory of connections to one database, with its pool, dialect and echo setting."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool | str = False,
        connect_args: Mapping[str, Any] | None = None,
        insertmanyvalues: bool = True,
        insertmanyvalues_page_size: int | None = None,
        n_plus_one_threshold: int | None = 10,
    ) -> None:
        self.url = url
        #: the N+1 warning's threshold for the ORM sessions on this engine (None: off); see
        #: ``minialchemy.orm.n_plus_one``
        self.n_plus_one_threshold = n_plus_one_threshold
        self.database = _parse_url(url)
        self.connect_args = dict(connect_args or {})
        self.dialect = Dialect()
        #: True: new rows whose key SQLite assigns may go many to a statement, keys read back
        #: with RETURNING (the flush, and Core's ``execute(insert(t).returning(...), [...])``;
        #: see ``minialchemy.engine.insertmanyvalues``).  False forces one INSERT per row, like
        #: SQLAlchemy's ``use_insertmanyvalues=False``.
        self.insertmanyvalues = bool(insertmanyvalues)
        if insertmanyvalues_page_size is not None and (
            not isinstance(insertmanyvalues_page_size, int) or insertmanyvalues_page_size < 1
        ):
            raise ArgumentError(
                f"insertmanyvalues_page_size must be a positive number of rows, got {insertmanyvalues_page_size!r}"
            )
        #: rows per batched INSERT (None: ``insertmanyvalues.INSERT_BATCH_ROWS``, the best size
        #: the benchmark found); always capped by the dialect's bind-parameter limit
        self.insertmanyvalues_page_size = insertmanyvalues_page_size
        self._initialized = False
        self.is_memory = self.database == ":memory:" or self.database.startswith("file::memory:")
        if self.is_memory:
            # one shared-cache in-memory database per engine, reached by a name of its own
            self.database = f"file:minialchemy-{os.urandom(16).hex()}?mode=memory&cache=shared"
        self.pool: _MemoryPool | _QueuePool = (
            _MemoryPool(self._create_raw) if self.is_memory else _QueuePool(self._create_raw)
        )
        self.echo = echo

    @property
    def echo(self) -> bool | str:
        return self._echo

    @echo.setter
    def echo(self, value: bool | str) -> None:
        self._echo = value
        if value:
            _enable_echo()

    def _create_raw(self) -> sqlite3.Connection:
        args = {"check_same_thread": False, **self.connect_args}
        args["isolation_level"] = None  # we emit BEGIN/COMMIT ourselves (see module docstring)
        if self.is_memory:
            args["uri"] = True
        raw = sqlite3.connect(self.database, **args)
        if not self._initialized:
            self.dialect.initialize(raw)
            self._initialized = True
        return raw

    def connect(self) -> "Connection":
        """A new Connection (use it as a context manager; it is closed at exit)."""
        return Connection(self)

    def begin(self) -> "_EngineBegin":
        """``with engine.begin() as conn:`` a connection in a transaction, committed at exit
        (rolled back if the block raises)."""
        return _EngineBegin(self)

    def raw_connection(self) -> sqlite3.Connection:
        """An underlying sqlite3 connection (for the in-memory database: this thread's)."""
        return self.pool.checkout()

    def dispose(self) -> None:
        """Close pooled connections; an in-memory database is lost with its connection."""
        self.pool.dispose()

    def __repr__(self) -> str:
        return f"Engine({self.url})"


class _EngineBegin:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None

    def __enter__(self) -> "Connection":
        self.conn = self.engine.connect()
        self.conn.begin(execution_options={"cause": "engine.begin()"})
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn = self.conn
        assert conn is not None
        try:
            if exc_type is None:
                conn.commit(execution_options={"cause": "end of the engine.begin() block"})
            else:
                conn.rollback(execution_options={"cause": f"the engine.begin() block raised {exc_type.__name__}"})
        finally:
            conn.close()


class Connection:
    """One database connection in use; statements run in a transaction it begins on demand."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._raw: sqlite3.Connection | None = engine.pool.checkout()
        self._began = False
        self._transaction: Transaction | None = None

    # -- transaction control -----------------------------------------------------------------

    @property
    def connection(self) -> sqlite3.Connection:
        """The sqlite3 connection (raises if this Connection is closed)."""
        if self._raw is None:
            raise ResourceClosedError("This Connection is closed")
        return self._raw

    @property
    def closed(self) -> bool:
        return self._raw is None

    def in_transaction(self) -> bool:
        """True while a transaction is open on this connection."""
        return self._raw is not None and self._raw.in_transaction

    def _autobegin(self, implicit: bool = True, cause: str | None = None) -> None:
        """BEGIN unless a transaction is open; the echo log says which statement began it."""
        raw = self.connection
        if not raw.in_transaction:
            why = f"autobegin, for {cause}" if implicit and cause else cause
            self._execute_sql("BEGIN", None, cause=why, log_text="BEGIN (implicit)" if implicit else "BEGIN")
            self._began = True

    def begin(self, *, execution_options: Mapping[str, Any] | None = None) -> "Transaction":
        """Begin a transaction explicitly; returns a :class:`Transaction` (a context manager).
        ``execution_options={"cause": ...}``: what began it, for the echo log."""
        if self.in_transaction():
            raise InvalidRequestError(
                "a transaction is already begun on this Connection (commit() or rollback() it first)"
            )
        self._autobegin(implicit=False, cause=_cause_of(None, execution_options) or "Connection.begin()")
        self._transaction = Transaction(self)
        return self._transaction

    def commit(self, *, execution_options: Mapping[str, Any] | None = None) -> None:
        """COMMIT the current transaction, if any.  ``execution_options={"cause": ...}``: what
        ended it, for the echo log (``Session.commit()``)."""
        if self.in_transaction():
            self._execute_sql("COMMIT", None, cause=_cause_of(None, execution_options) or "Connection.commit()")
        self._began = False
        self._transaction = None

    def rollback(self, *, execution_options: Mapping[str, Any] | None = None) -> None:
        """ROLLBACK the current transaction, if any.  ``execution_options={"cause": ...}``: what
        ended it, for the echo log (``Session.close() with nothing committed``)."""
        if self.in_transaction():
            self._execute_sql("ROLLBACK", None, cause=_cause_of(None, execution_options) or "Connection.rollback()")
        self._began = False
        self._transaction = None

    def close(self) -> None:
        """Roll back a transaction this connection began and give the connection back."""
        if self._raw is None:
            return
        try:
            if self._began and self._raw.in_transaction:
                self.rollback(execution_options={"cause": "Connection.close() with the transaction open"})
        finally:
            raw, self._raw = self._raw, None
            self.engine.pool.checkin(raw)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    # -- execution --------------------------------------------------------------------------
    #
    # Three public doors, one choke point (_execute_sql) that logs each statement with its cause:
    #   execute(statement)              a Core statement, compiled here (users, the Session)
    #   execute_compiled(compiled)      compiled once by the caller, positional parameters (the
    #                                   ORM's flush and loader: compile once per mapper, run often)
    #   execute_insertmanyvalues(...)   batched INSERT ... RETURNING, keys in parameter order
    # Each takes execution_options={"cause": "..."}: why the statement was sent, for the echo log.

    @property
    def dialect(self) -> Dialect:
        """What this connection's SQLite can do (the engine's :class:`Dialect`)."""
        return self.engine.dialect

    def execute(
        self,
        statement: Any,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult:
        """Run a Core statement (``select``, ``insert``, ``update``, ``delete``, ``text``).

        ``parameters`` is a dict, or a list of dicts to run the statement once per dict
        (``executemany``; an ``insert().returning()`` then goes in batches, see
        :meth:`execute_insertmanyvalues`).  ``execution_options`` are merged over the
        statement's own; ``"cause"``, a short text saying why the statement is sent, is shown
        in the echo log (the ORM passes e.g. ``"lazy load of User.addresses"``); without one,
        the log names the statement as yours (``insert(user_account) by you``).
        """
        cause = _cause_of(statement, execution_options) or f"{describe_statement(statement)} by you"
        return self._execute_statement(statement, parameters, cause)

    def execute_compiled(
        self,
        compiled: Compiled,
        parameters: Sequence[Any] | Sequence[Sequence[Any]] | None = None,
        *,
        many: bool = False,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult:
        """Run a statement compiled already (``compile_element(stmt, dialect="sqlite")``).

        ``parameters`` are positional, in the order of the statement's placeholders and already
        processed by their types (:meth:`Compiled.bind_processors`): one tuple, or with
        ``many=True`` a list of tuples run as one ``executemany`` (which returns no rows; for
        many rows with RETURNING use :meth:`execute_insertmanyvalues`).  This is the door for
        callers that compile a statement once and run it many times: the ORM's flush and
        loader.  ``execution_options={"cause": ...}`` as in :meth:`execute`.
        """
        cause = execution_options.get("cause") if execution_options else None
        self._autobegin(cause=cause)
        if many:
            if compiled.returning_columns:
                raise ArgumentError(
                    f"executemany drops RETURNING rows; run {compiled.string!r} with "
                    f"execute_insertmanyvalues(), or once per parameter row"
                )
            cursor = self._execute_sql(compiled.string, parameters, many=True, cause=cause)
            return CursorResult([], [], rowcount=cursor.rowcount, returns_rows=False)
        params = () if parameters is None else parameters
        cursor = self._execute_sql(compiled.string, params, cause=cause)
        return self._result_from_cursor(compiled, cursor, params)

    def execute_insertmanyvalues(
        self,
        compiled: Compiled,
        parameter_rows: Iterable[Sequence[Any]] | insertmanyvalues.FlatParameters,
        *,
        rows_total: int,
        execution_options: Mapping[str, Any] | None = None,
    ) -> Iterator[insertmanyvalues.InsertedBatch]:
        """Run a compiled ``INSERT ... RETURNING`` for ``rows_total`` positional parameter rows,
        many rows a statement ("insertmanyvalues"); yields an ``InsertedBatch`` per statement:
        its rows' keys in parameter order (``.keys``) and RETURNING rows in parameter order, the
        table's rowid key as their last value (``.rows``).  ``parameter_rows`` may also be a
        function ``(start, stop) -> flat list`` of the values of rows start..stop.

        The one implementation of batched RETURNING, used by the ORM's flush and by
        :meth:`execute` with a list of parameter dicts; :mod:`minialchemy.engine.insertmanyvalues`
        has the argument that ties each key to its row, checked on every statement
        (:class:`~minialchemy.exc.InsertManyValuesError` when it fails).  ``parameter_rows`` is
        consumed one statement at a time.
        """
        from minialchemy.engine import insertmanyvalues  # on first use: a query never needs it (issue 12)

        cause = execution_options.get("cause") if execution_options else None
        self._autobegin(cause=cause)
        return insertmanyvalues.execute_batches(self, compiled, parameter_rows, rows_total, cause)

    def _execute_statement(self, statement: Any, parameters: Any, cause: str | None) -> CursorResult:
        if isinstance(statement, str):
            raise ArgumentError(
                f"Textual SQL {statement[:60]!r} should be passed as text(...) "
                f"(or use exec_driver_sql for driver-level SQL)"
            )
        many = isinstance(parameters, (list, tuple)) and len(parameters) > 0 and isinstance(parameters[0], Mapping)
        if isinstance(parameters, (list, tuple)) and not many:
            parameters = parameters[0] if parameters else None
        first = parameters[0] if many else parameters
        visit = getattr(statement, "__visit_name__", None)
        column_keys = list(first or ()) if visit in ("insert", "update") else None
        compiled = compile_element(statement, dialect="sqlite", column_keys=column_keys)
        self._autobegin(cause=cause)
        if many and compiled.returning_columns:
            return self._execute_many_returning(compiled, parameters, cause)
        if many:
            rows = [compiled.construct_params(p) for p in parameters]
            cursor = self._execute_sql(compiled.string, rows, many=True, cause=cause)
            return CursorResult([], [], rowcount=cursor.rowcount, returns_rows=False)
        params = compiled.construct_params(parameters)
        cursor = self._execute_sql(compiled.string, params, cause=cause)
        return self._result_from_cursor(compiled, cursor, params)

    def _result_from_cursor(self, compiled: Compiled, cursor: sqlite3.Cursor, params: Sequence[Any]) -> CursorResult:
        description = cursor.description
        if description is None:
            if compiled.statement.__visit_name__ == "insert" and not compiled.statement._multi_values:
                # the key is worked out only if asked for: the flush's per-row INSERTs read
                # lastrowid and never ask
                return _InsertResult(compiled, params, cursor.rowcount, cursor.lastrowid)
            return CursorResult([], [], rowcount=cursor.rowcount, lastrowid=cursor.lastrowid, returns_rows=False)
        rows = cursor.fetchall()
        if compiled.result_columns and len(compiled.result_columns) == len(description):
            keys = [key for key, _, _ in compiled.result_columns]
            processors = [type_.result_processor() for _, type_, _ in compiled.result_columns]
        else:
            keys = [d[0] for d in description]
            processors = None
        inserted = None
        if compiled.statement.__visit_name__ == "insert" and len(rows) == 1:
            inserted = _inserted_primary_key(compiled, params, cursor.lastrowid)
        result = CursorResult(
            keys, rows, rowcount=cursor.rowcount, lastrowid=cursor.lastrowid,
            processors=processors, inserted_primary_key=inserted,
        )
        yield_per = getattr(compiled.statement, "_execution_options", {}).get("yield_per")
        return result.yield_per(yield_per) if yield_per else result

    def _execute_many_returning(self, compiled: Compiled, parameters: Sequence[Mapping[str, Any]], cause: str | None) -> CursorResult:
        """``insert(t).returning(...)`` (or update/delete) with several parameter sets: one row
        back per set, in parameter order.

        sqlite3's executemany() drops RETURNING rows.  So an INSERT whose rows all take their key
        from the table's rowid alias goes in batches of many rows per statement
        (:meth:`execute_insertmanyvalues`, the same implementation as the ORM's flush); anything
        else runs once per parameter set."""
        keys = [key for key, _, _ in compiled.result_columns]
        processors = [type_.result_processor() for _, type_, _ in compiled.result_columns]
        rowid = self._batchable_key(compiled, parameters, cause)
        if rowid is not None:
            rows: list[tuple[Any, ...]] = []
            pks: list[Any] = []
            pk_row = row_class([rowid.key])
            batches = self.execute_insertmanyvalues(
                compiled, map(compiled.construct_params, parameters), rows_total=len(parameters),
                execution_options={"cause": cause or "executemany with RETURNING"},
            )
            key_added = compiled.returning_columns[-1] is not rowid  # the compiler appended it
            for batch in batches:
                pks.extend(pk_row((key,)) for key in batch.keys)
                rows.extend([row[:-1] for row in batch.rows] if key_added else batch.rows)
            return CursorResult(keys, rows, rowcount=len(rows), processors=processors, inserted_primary_key_rows=pks)
        rows = []
        pks = []
        for parameter_set in parameters:
            params = compiled.construct_params(parameter_set)
            cursor = self._execute_sql(compiled.string, params, cause=cause)
            rows.extend(cursor.fetchall())
            pks.append(_inserted_primary_key(compiled, params, cursor.lastrowid))
        return CursorResult(keys, rows, rowcount=len(rows), processors=processors, inserted_primary_key_rows=pks)

    def _batchable_key(self, compiled: Compiled, parameters: Sequence[Mapping[str, Any]], cause: str | None) -> Any:
        """The rowid-alias column when the parameter sets may go in batched statements, else
        None: enough of them, the engine allows it, SQLite has RETURNING, an INSERT of bound
        values into a table whose key is a rowid alias that no parameter set gives a value and
        that is not at its largest rowid."""
        from minialchemy.engine import insertmanyvalues  # on first use (execute_insertmanyvalues)

        engine = self.engine
        if (
            len(parameters) < insertmanyvalues.MIN_BATCH_ROWS
            or not engine.insertmanyvalues
            or not engine.dialect.supports_returning
            or not compiled.supports_insertmanyvalues
        ):
            return None
        table = compiled.statement.table
        rowid = insertmanyvalues.rowid_alias(table)
        if rowid is None or any(p.get(rowid.key) is not None for p in parameters):
            return None
        if insertmanyvalues.rowid_at_limit(self, table, cause=f"{cause or 'executemany with RETURNING'}: is a rowid of {table.name!r} at 2**63-1?"):
            return None
        return rowid

    def exec_driver_sql(
        self, sql: str, parameters: Any = None, *, execution_options: Mapping[str, Any] | None = None
    ) -> CursorResult:
        """Run SQL text as sqlite3 takes it (``?`` or ``:name`` parameters), no compiling;
        ``execution_options={"cause": ...}`` as in :meth:`execute`."""
        cause = (execution_options.get("cause") if execution_options else None) or "exec_driver_sql() by you"
        self._autobegin(cause=cause)
        many = isinstance(parameters, list) and parameters and isinstance(parameters[0], (tuple, list, Mapping))
        cursor = self._execute_sql(sql, parameters if parameters is not None else (), many=bool(many), cause=cause)
        if cursor.description is None:
            return CursorResult([], [], rowcount=cursor.rowcount, lastrowid=cursor.lastrowid, returns_rows=False)
        return CursorResult([d[0] for d in cursor.description], cursor.fetchall(), rowcount=cursor.rowcount)

    def _execute_sql(
        self,
        sql: str,
        params: Any,
        *,
        many: bool = False,
        cause: str | None = None,
        log_text: str | None = None,
    ) -> sqlite3.Cursor:
        """THE place where SQL is sent: log it (with why), run it, wrap driver errors."""
        raw = self.connection
        if log.info_enabled(log.ENGINE):
            _log_statement(sql, params, many=many, cause=cause, log_text=log_text)
        try:
            if many:
                return raw.executemany(sql, params)
            if params is None:
                return raw.execute(sql)
            return raw.execute(sql, params)
        except sqlite3.Error as error:
            wrapped = DBAPIError.instance(sql, params, error)
            if self.engine.is_memory and "database table is locked" in str(error):
                _explain_table_lock(wrapped)
            raise wrapped from error

    def __repr__(self) -> str:
        state = "closed" if self._raw is None else ("in transaction" if self.in_transaction() else "idle")
        return f"<Connection to {self.engine.url} ({state})>"


class Transaction:
    """A transaction begun with ``connection.begin()``; commits at the end of a ``with`` block
    (rolls back if the block raises)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.is_active = True

    def commit(self) -> None:
        if self.is_active:
            self.connection.commit(execution_options={"cause": "Transaction.commit()"})
            self.is_active = False

    def rollback(self) -> None:
        if self.is_active:
            self.connection.rollback(execution_options={"cause": "Transaction.rollback()"})
            self.is_active = False

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


def describe_statement(statement: Any) -> str:
    """How the echo log names a statement: ``select(User)``, ``select(User.fullname)``,
    ``insert(user_account)``, ``text()``."""
    visit = getattr(statement, "__visit_name__", None)
    if visit == "select":
        items = [
            item.__name__ if isinstance(item, type) else str(item)
            for item in getattr(statement, "_raw_columns", ())
        ]
        shown = ", ".join(items[:3]) + (", ..." if len(items) > 3 else "")
        return f"select({shown})"
    if visit in ("insert", "update", "delete"):
        target = getattr(statement, "entity", None) or getattr(statement, "table", None)
        name = getattr(target, "__name__", None) or getattr(target, "name", None) or "?"
        return f"{visit}({name})"
    if visit == "textclause":
        return "text()"
    return type(statement).__name__


class _InsertResult(CursorResult):
    """The result of a single-row INSERT without RETURNING: ``inserted_primary_key`` is
    computed on first access (from the parameters and ``lastrowid``)."""

    def __init__(self, compiled: Compiled, params: Sequence[Any], rowcount: int, lastrowid: int | None) -> None:
        super().__init__([], [], rowcount=rowcount, lastrowid=lastrowid, returns_rows=False)
        self._compiled = compiled
        self._params = params

    @property
    def inserted_primary_key(self) -> Any:
        if self._inserted_primary_key is None:
            self._inserted_primary_key = _inserted_primary_key(self._compiled, self._params, self.lastrowid)
        return self._inserted_primary_key


def _cause_of(statement: Any, execution_options: Mapping[str, Any] | None) -> str | None:
    """The ``cause`` execution option: from the call, else from the statement's own options."""
    if execution_options and "cause" in execution_options:
        return execution_options["cause"]
    own = getattr(statement, "_execution_options", None)
    return own.get("cause") if own else None


def _explain_table_lock(error: DBAPIError) -> None:
    """Say what a shared-cache table lock means: another thread's open transaction on this
    in-memory database uses the table, and SQLite cannot wait for it."""
    error.message += (
        " (another thread's open transaction on this in-memory database is using the table; "
        "in-memory databases cannot wait for a lock, so this statement failed at once.  Roll "
        "back and retry, keep transactions short, or use a database file, where SQLite waits "
        "for locks)"
    )


def _inserted_primary_key(compiled: Compiled, params: Sequence[Any], lastrowid: int | None) -> Any:
    """The new row's primary key: values given in the INSERT, else the rowid SQLite assigned to
    the table's INTEGER PRIMARY KEY (its rowid alias)."""
    table = compiled.statement.table
    given = {column.key: value for column, value in zip(compiled.insert_columns, params)}
    values = []
    for column in table.primary_key.columns:
        value = given.get(column.key)
        if value is None and column.is_autoincrement_pk:
            value = lastrowid
        values.append(value)
    pk_row = compiled.__dict__.get("_pk_row_class")
    if pk_row is None:  # one Row class per compiled statement, not one per execution
        pk_row = compiled._pk_row_class = row_class([c.key for c in table.primary_key.columns])
    return pk_row(values)


def _log_statement(sql: str, params: Any, *, many: bool, cause: str | None, log_text: str | None) -> None:
    logger = log.get_logger(log.ENGINE)
    extra = {"sql": sql, "params": params, "cause": cause}
    logger.info("%s", log_text or sql, extra=extra)
    if params is None:
        return
    label = cause or "raw sql"
    if many:
        shown = params if len(params) <= 10 else [*params[:5], f"... {len(params) - 10} more ...", *params[-5:]]
        logger.info("[%s, executemany of %d rows] %s", label, len(params), _truncate_params(shown, 2000))
    else:
        logger.info("[%s] %s", label, _truncate_params(params))


_ECHO_HANDLER_NAME = "minialchemy-echo"


def _enable_echo() -> None:
    """``echo=True``: print the engine log to stdout (once, however many engines ask)."""
    import logging

    logger = log.get_logger(log.ENGINE)
    if any(getattr(h, "name", None) == _ECHO_HANDLER_NAME for h in logger.handlers):
        logger.setLevel(logging.INFO)
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.name = _ECHO_HANDLER_NAME
    handler.setFormatter(logging.Formatter("%(asctime)s INFO %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@_inspects(Engine, Connection)
def _inspect_bind(bind: Engine | Connection) -> Inspector:
    """``inspect(engine)`` / ``inspect(connection)``: an :class:`Inspector` of the database."""
    return Inspector(bind)


def create_engine(url: str, **kwargs: Any) -> Engine:
    """``create_engine("sqlite://", echo=True)``: an :class:`Engine` for a SQLite URL.

    Accepted: ``sqlite://`` / ``sqlite:///:memory:`` / ``sqlite+pysqlite:///:memory:`` (one
    in-memory database per engine), ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``.
    Keyword arguments: ``echo``, ``connect_args`` (passed to ``sqlite3.connect``, e.g.
    ``{"timeout": 1}``), ``future=True`` (accepted and ignored: 2.x behaviour is the only one),
    and for INSERTs of many rows (``docs/insert_strategies.md``):

    - ``insertmanyvalues=True``: rows whose primary key SQLite assigns go many to a statement,
      keys read back with ``RETURNING`` and matched to the rows by a checked rule.  ``False``
      inserts one row per statement (key from ``cursor.lastrowid``), as SQLAlchemy does on
      SQLite; SQLAlchemy's spelling ``use_insertmanyvalues`` is accepted too.
    - ``insertmanyvalues_page_size``: rows per batched statement (default 500, the best the
      benchmark found), never more than SQLite's bind-parameter limit allows.

    ``n_plus_one_threshold`` (default 10, None turns it off): the ORM warns when a session lazy
    loads one relationship for that many different objects (``minialchemy.orm.n_plus_one``).
    """
    kwargs.pop("future", None)
    if "use_insertmanyvalues" in kwargs:
        kwargs["insertmanyvalues"] = kwargs.pop("use_insertmanyvalues")
    known = {"echo", "connect_args", "insertmanyvalues", "insertmanyvalues_page_size", "n_plus_one_threshold"}
    unknown = set(kwargs) - known
    if unknown:
        raise ArgumentError(
            f"create_engine() got unknown arguments: {', '.join(sorted(unknown))} "
            f"(supported: {', '.join(sorted(known))})"
        )
    return Engine(url, **kwargs)

