"""Engine, Connection and Transaction: the only place where SQL reaches sqlite3.

Every statement, whether written by the user or emitted by the ORM, goes through
:meth:`Connection._execute_sql`, which logs it on the ``minialchemy.engine`` logger with its
parameters and its *cause* (``flush``, ``autoflush``, ``lazy load of User.addresses``, ...),
runs it, and wraps any sqlite3 error in the matching :mod:`minialchemy.exc` class.

Transactions are explicit: sqlite3 runs with ``isolation_level=None`` (no hidden BEGIN), and
the first statement on a connection emits ``BEGIN`` itself ("autobegin", logged as
``BEGIN (implicit)``) until ``commit()`` or ``rollback()``.

An in-memory URL (``sqlite://``) is one database shared by every connection of the engine: the
engine keeps exactly one sqlite3 connection for it.  A file URL gets connections from a small
pool.

Where it sits: below the ORM's Session (which holds one Connection per transaction), above the
stdlib ``sqlite3`` module.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
from typing import Any, Mapping, Sequence

from minialchemy.engine import insertmanyvalues
from minialchemy.engine.result import CursorResult, row_class
from minialchemy.exc import ArgumentError, DBAPIError, InvalidRequestError, ResourceClosedError, _truncate_params

__all__ = ["Engine", "Connection", "Transaction", "create_engine", "Dialect"]

log = logging.getLogger("minialchemy.engine")


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

    def __repr__(self) -> str:
        version = ".".join(map(str, self.sqlite_version_info))
        return f"<Dialect sqlite {version} returning={self.supports_returning} max_bind_params={self.max_bind_params}>"


class _SingletonPool:
    """One sqlite3 connection for an in-memory database, shared by every Connection."""

    def __init__(self, creator: Any) -> None:
        self._creator = creator
        self._raw: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._raw is None:
                self._raw = self._creator()
            return self._raw

    def checkin(self, raw: sqlite3.Connection) -> None:
        """Nothing to do: the single connection stays open (closing it would lose the data)."""

    def dispose(self) -> None:
        with self._lock:
            if self._raw is not None:
                self._raw.close()
                self._raw = None


class _QueuePool:
    """A few idle sqlite3 connections to a database file, reused instead of reopened."""

    def __init__(self, creator: Any, size: int = 5) -> None:
        self._creator = creator
        self._idle: list[sqlite3.Connection] = []
        self._size = size
        self._lock = threading.Lock()

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
        self.pool: _SingletonPool | _QueuePool = (
            _SingletonPool(self._create_raw) if self.is_memory else _QueuePool(self._create_raw)
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
        """The underlying sqlite3 connection (for the in-memory database: the shared one)."""
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
        self.conn.begin()
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn = self.conn
        assert conn is not None
        try:
            if exc_type is None:
                conn.commit()
            else:
                conn.rollback()
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

    def _autobegin(self, implicit: bool = True) -> None:
        raw = self.connection
        if not raw.in_transaction:
            self._execute_sql("BEGIN", None, cause=None, log_text="BEGIN (implicit)" if implicit else "BEGIN")
            self._began = True

    def begin(self) -> "Transaction":
        """Begin a transaction explicitly; returns a :class:`Transaction` (a context manager)."""
        if self.in_transaction():
            raise InvalidRequestError(
                "a transaction is already begun on this Connection (commit() or rollback() it first)"
            )
        self._autobegin(implicit=False)
        self._transaction = Transaction(self)
        return self._transaction

    def commit(self) -> None:
        """COMMIT the current transaction, if any."""
        if self.in_transaction():
            self._execute_sql("COMMIT", None, cause=None)
        self._began = False
        self._transaction = None

    def rollback(self) -> None:
        """ROLLBACK the current transaction, if any."""
        if self.in_transaction():
            self._execute_sql("ROLLBACK", None, cause=None)
        self._began = False
        self._transaction = None

    def close(self) -> None:
        """Roll back a transaction this connection began and give the connection back."""
        if self._raw is None:
            return
        try:
            if self._began and self._raw.in_transaction:
                self.rollback()
        finally:
            raw, self._raw = self._raw, None
            self.engine.pool.checkin(raw)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    # -- execution --------------------------------------------------------------------------

    def execute(
        self,
        statement: Any,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult:
        """Run a Core statement (``select``, ``insert``, ``update``, ``delete``, ``text``).

        ``parameters`` is a dict, or a list of dicts to run the statement once per dict
        (``executemany``).
        """
        return self._execute_statement(statement, parameters, cause=None)

    def _execute_statement(self, statement: Any, parameters: Any, cause: str | None) -> CursorResult:
        from minialchemy.sql.compiler import compile_element

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
        self._autobegin()
        if many and compiled.returning_columns:
            return self._execute_many_returning(compiled, parameters, cause)
        if many:
            rows = [compiled.construct_params(p) for p in parameters]
            cursor = self._execute_sql(compiled.string, rows, many=True, cause=cause)
            return CursorResult([], [], rowcount=cursor.rowcount, returns_rows=False)
        params = compiled.construct_params(parameters)
        cursor = self._execute_sql(compiled.string, params, cause=cause)
        return self._result_from_cursor(compiled, cursor, params)

    def _result_from_cursor(self, compiled: Any, cursor: sqlite3.Cursor, params: tuple[Any, ...]) -> CursorResult:
        description = cursor.description
        if description is None:
            inserted = None
            if compiled.statement.__visit_name__ == "insert" and not compiled.statement._multi_values:
                inserted = _inserted_primary_key(compiled, params, cursor.lastrowid)
            return CursorResult(
                [], [], rowcount=cursor.rowcount, lastrowid=cursor.lastrowid,
                inserted_primary_key=inserted, returns_rows=False,
            )
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
        return CursorResult(
            keys, rows, rowcount=cursor.rowcount, lastrowid=cursor.lastrowid,
            processors=processors, inserted_primary_key=inserted,
        )

    def _execute_many_returning(self, compiled: Any, parameters: Sequence[Mapping[str, Any]], cause: str | None) -> CursorResult:
        """``insert(t).returning(...)`` (or update/delete) with several parameter sets: one row
        back per set, in parameter order.

        sqlite3's executemany() drops RETURNING rows.  So an INSERT whose rows all take their key
        from the table's rowid alias goes in batches of many rows per statement, the keys tied
        to the parameter sets by :mod:`minialchemy.engine.insertmanyvalues` (the same rule as the
        ORM's flush); anything else runs once per parameter set."""
        batched = self._batched_returning_form(compiled, parameters)
        if batched is not None:
            return self._execute_batched_returning(compiled, parameters, cause, *batched)
        rows: list[tuple[Any, ...]] = []
        pks: list[tuple[Any, ...]] = []
        for parameter_set in parameters:
            params = compiled.construct_params(parameter_set)
            cursor = self._execute_sql(compiled.string, params, cause=cause)
            rows.extend(cursor.fetchall())
            pks.append(_inserted_primary_key(compiled, params, cursor.lastrowid))
        keys = [key for key, _, _ in compiled.result_columns]
        processors = [type_.result_processor() for _, type_, _ in compiled.result_columns]
        return CursorResult(keys, rows, rowcount=len(rows), processors=processors, inserted_primary_key_rows=pks)

    def _batched_returning_form(self, compiled: Any, parameters: Sequence[Mapping[str, Any]]) -> tuple[Any, str] | None:
        """``(rowid column, returning SQL)`` when the parameter sets may go in batched
        statements, else None: the engine allows it, SQLite has RETURNING, the statement is an
        INSERT of bound values only (no ``.values()`` expressions), into a table whose key is a
        rowid alias that no parameter set gives a value."""
        statement = compiled.statement
        engine = self.engine
        if (
            len(parameters) < insertmanyvalues.MIN_BATCH_ROWS
            or not engine.insertmanyvalues
            or not engine.dialect.supports_returning
            or statement.__visit_name__ != "insert"
            or statement._values
            or statement._multi_values
            or not compiled.insert_columns
            or len(compiled.binds) != len(compiled.insert_columns)
        ):
            return None
        rowid = insertmanyvalues.rowid_alias(statement.table)
        if rowid is None or any(p.get(rowid.key) is not None for p in parameters):
            return None
        from minialchemy.sql.compiler import quote

        names = ", ".join(quote(c.name) for c in compiled.insert_columns)
        marks = ", ".join("?" * len(compiled.insert_columns))
        head = f"INSERT INTO {quote(statement.table.name)} ({names}) VALUES ({marks}) RETURNING "
        if not compiled.string.startswith(head):  # not the simple shape this code understands
            return None
        return rowid, compiled.string[len(head):]

    def _execute_batched_returning(
        self, compiled: Any, parameters: Sequence[Mapping[str, Any]], cause: str | None, rowid: Any, returning: str
    ) -> CursorResult:
        """Run :meth:`_batched_returning_form`'s case: the key is returned as one more column,
        each batch's rows are put in parameter order by it, then it is dropped."""
        from minialchemy.sql.compiler import quote

        table_name = compiled.statement.table.name
        column_names = [c.name for c in compiled.insert_columns]
        returning_with_key = f"{returning}, {quote(rowid.name)}"
        size = insertmanyvalues.rows_per_statement(
            self.engine.dialect, len(column_names), self.engine.insertmanyvalues_page_size
        )
        statements = -(-len(parameters) // size)
        rows: list[tuple[Any, ...]] = []
        pk_row = row_class([rowid.key])
        pks: list[Any] = []
        for number, start in enumerate(range(0, len(parameters), size), 1):
            chunk = parameters[start:start + size]
            n = len(chunk)
            params: list[Any] = []
            for parameter_set in chunk:
                params += compiled.construct_params(parameter_set)
            sql = insertmanyvalues.batched_insert_sql(table_name, column_names, n, returning_with_key)
            why = f"{cause or 'executemany with RETURNING'}: batched RETURNING, statement {number} of {statements}, {n} rows (batch size {size})"
            shown = insertmanyvalues.abbreviated_sql(sql, n) if log.isEnabledFor(logging.INFO) else None
            cursor = self._execute_sql(sql, params, cause=why, log_text=shown)
            returned = cursor.fetchall()
            keys = insertmanyvalues.keys_in_parameter_order([row[-1] for row in returned], n)
            if keys is None:
                raise InvalidRequestError(
                    f"Batched INSERT into table {table_name!r} returned keys that are not {n} "
                    f"consecutive integers, so its RETURNING rows cannot be put in parameter order "
                    f"(a trigger inserting into the same table? a rowid already at 2**63-1?).  The "
                    f"rows are inserted in the current transaction: roll it back.  "
                    f"create_engine(..., insertmanyvalues=False) runs one statement per parameter set."
                )
            first = keys.start
            ordered: list[Any] = [None] * n
            for row in returned:
                ordered[row[-1] - first] = row[:-1]
            rows.extend(ordered)
            pks.extend(pk_row((key,)) for key in keys)
        result_keys = [key for key, _, _ in compiled.result_columns]
        processors = [type_.result_processor() for _, type_, _ in compiled.result_columns]
        return CursorResult(result_keys, rows, rowcount=len(rows), processors=processors, inserted_primary_key_rows=pks)

    def exec_driver_sql(self, sql: str, parameters: Any = None) -> CursorResult:
        """Run SQL text as sqlite3 takes it (``?`` or ``:name`` parameters), no compiling."""
        self._autobegin()
        many = isinstance(parameters, list) and parameters and isinstance(parameters[0], (tuple, list, Mapping))
        cursor = self._execute_sql(sql, parameters if parameters is not None else (), many=bool(many), cause=None)
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
        if log.isEnabledFor(logging.INFO):
            _log_statement(sql, params, many=many, cause=cause, log_text=log_text)
        try:
            if many:
                return raw.executemany(sql, params)
            if params is None:
                return raw.execute(sql)
            return raw.execute(sql, params)
        except sqlite3.Error as error:
            raise DBAPIError.instance(sql, params, error) from error

    def _table_exists(self, name: str) -> bool:
        cursor = self._execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
            (name,),
            cause=f"check whether table {name!r} exists",
        )
        return cursor.fetchone() is not None

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
            self.connection.commit()
            self.is_active = False

    def rollback(self) -> None:
        if self.is_active:
            self.connection.rollback()
            self.is_active = False

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


def _inserted_primary_key(compiled: Any, params: tuple[Any, ...], lastrowid: int | None) -> Any:
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
    keys = [c.key for c in table.primary_key.columns]
    return row_class(keys)(values)


def _log_statement(sql: str, params: Any, *, many: bool, cause: str | None, log_text: str | None) -> None:
    extra = {"sql": sql, "params": params, "cause": cause}
    log.info("%s", log_text or sql, extra=extra)
    if params is None:
        return
    label = cause or "raw sql"
    if many:
        shown = params if len(params) <= 10 else [*params[:5], f"... {len(params) - 10} more ...", *params[-5:]]
        log.info("[%s, executemany of %d rows] %s", label, len(params), _truncate_params(shown, 2000))
    else:
        log.info("[%s] %s", label, _truncate_params(params))


_ECHO_HANDLER_NAME = "minialchemy-echo"


def _enable_echo() -> None:
    """``echo=True``: print the engine log to stdout (once, however many engines ask)."""
    if any(getattr(h, "name", None) == _ECHO_HANDLER_NAME for h in log.handlers):
        log.setLevel(logging.INFO)
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.name = _ECHO_HANDLER_NAME
    handler.setFormatter(logging.Formatter("%(asctime)s INFO %(name)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


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

