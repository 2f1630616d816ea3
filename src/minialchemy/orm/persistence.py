"""Persistence: the INSERT, UPDATE and DELETE statements of a flush.

The unit of work (:mod:`minialchemy.orm.unitofwork`) decides *what* to write, in which order
and with which strategy (its plan); this module writes it:

- :func:`emit_insert_client_keys`, :func:`emit_insert_batched`, :func:`emit_insert_per_row`:
  the new objects of one table, one function per strategy for getting every object its
  primary key *correctly* (below); the plan picks with :func:`insert_strategy_for`;
- :func:`emit_update`: ``UPDATE t SET changed=? ... WHERE t.id = ?``, only the columns whose
  value really changed; objects with the same changed columns share one ``executemany``;
- :func:`emit_delete`: ``DELETE FROM t WHERE t.id = ?`` for all deleted objects of a table in
  one ``executemany``.

Primary-key retrieval on INSERT (``docs/insert_strategies.md`` has the measurements):

==========================  ================================================  =====================================
strategy                    SQL                                               used when
==========================  ================================================  =====================================
client-assigned keys        ``INSERT ... VALUES (?, ?)``, one ``executemany``  every primary-key attribute is set
batched RETURNING           ``INSERT ... SELECT ... FROM (VALUES ...)         a rowid-alias key (single ``INTEGER``),
                            ORDER BY ... RETURNING id``, 500 rows a            ``MIN_BATCH_ROWS`` (10) rows or more,
                            statement                                          SQLite >= 3.35, the engine's
                                                                               ``insertmanyvalues`` on, and no rowid
                                                                               of the table at 2**63-1
per-row                     ``INSERT ... VALUES (?, ?)`` each, key from        everything else (always correct)
                            ``cursor.lastrowid``
==========================  ================================================  =====================================

The plan chooses per table per flush.  Objects whose keys are set go first, in one
``executemany`` (so a key SQLite picks can never collide with one you chose in the same flush);
then the others, in the order they were added, batched where the correlation rule of
:mod:`minialchemy.engine.insertmanyvalues` holds, else one per statement.  The order does not
depend on the strategy, so every strategy leaves the same rows with the same keys.

Every statement is a Core statement (``insert(table)``, ``update(table).where(pk ==
bindparam(...))``, ``delete(table).where(...)``) compiled once per mapper and column set by
:class:`MapperStatements` and kept; batched RETURNING is the engine's
(:meth:`Connection.execute_insertmanyvalues`, the same code as Core's ``insert().returning()``
with many parameter sets).  Statements run through the Connection's public
``execute_compiled`` with ``execution_options={"cause": ...}``: the echo log says which flush
step sent each one, and how.
"""

from __future__ import annotations

from functools import partial
from itertools import groupby

from minialchemy import _accel
from minialchemy.engine import insertmanyvalues, log
from minialchemy.orm.exc import StaleDataError
from minialchemy.orm.mapper import Mapper
from minialchemy.orm.weakmaps import WeakKeyMap
from minialchemy.sql.compiler import Compiled, compile_element, process_parameters
from minialchemy.sql.dml import delete, insert, update
from minialchemy.sql.elements import and_, bindparam
from minialchemy.sql.schema import Column
from minialchemy.sql.selectable import select
from minialchemy.sql.types import Integer

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Callable, Iterator, Sequence
    from minialchemy.engine.base import Connection

__all__ = [
    "FilledKeys",
    "MapperStatements",
    "statements_for",
    "runs_by_columns",
    "emit_insert_client_keys",
    "emit_insert_batched",
    "emit_insert_per_row",
    "insert_strategy_for",
    "emit_update",
    "emit_delete",
    "PER_ROW",
    "BATCHED",
    "CLIENT_KEYS",
    "single_row_insert_sql",
]


PER_ROW = "per-row"
BATCHED = "batched RETURNING"
CLIENT_KEYS = "client-assigned keys"


def _compile(statement: Any) -> Compiled:
    return compile_element(statement, dialect="sqlite")


class MapperStatements:
    """The flush's Core statements for one mapper, compiled once per column set and kept.

    An INSERT is ``insert(table)`` compiled for the columns an object writes; an UPDATE is
    ``update(table).values(col=bindparam(...)).where(pk == bindparam(...))`` for the columns
    that changed; a DELETE is ``delete(table).where(pk == bindparam(...))``.  Parameters are
    positional, in placeholder order, built straight from the objects' ``__dict__``.
    """

    def __init__(self, mapper: Mapper) -> None:
        table = mapper.local_table
        self.mapper = mapper
        self.table = table
        self.table_name: str = table.name
        self.pk_keys: tuple[str, ...] = mapper._pk_attr_keys
        rowid = insertmanyvalues.rowid_alias(table)
        #: the attribute of the rowid-alias primary key (None: batched RETURNING never applies)
        self.rowid_key: str | None = mapper._col_to_attr[rowid] if rowid is not None else None
        #: the attributes filled from ``lastrowid`` when left unset
        self.autoincrement_keys = tuple(p.key for p in mapper._column_props if p.column.is_autoincrement_pk)
        #: primary-key attributes a server default fills when left unset (read back per row)
        self.server_key_keys = tuple(
            k for k in self.pk_keys
            if mapper._props[k].column.server_default is not None and k not in self.autoincrement_keys
        )
        self._props = {p.key: p for p in mapper._column_props}
        # columns an object may leave out of its INSERT (by leaving them None)
        self._optional = tuple(
            p.key for p in mapper._column_props
            if p.column.is_autoincrement_pk or p.column.server_default is not None
        )
        self._all_keys = tuple(p.key for p in mapper._column_props)
        self._columns_by_omitted: dict[tuple[bool, ...], tuple[str, ...]] = {}
        self._compiled: dict[tuple[Any, ...], Any] = {}

    def columns_for(self, d: dict[str, Any]) -> tuple[str, ...]:
        """Attribute keys the INSERT of the object whose ``__dict__`` is ``d`` writes: every
        column, except an autogenerated primary key with no value (SQLite then assigns the
        rowid) and a server-default column with no value (the database fills it)."""
        omitted = tuple(d.get(k) is None for k in self._optional)
        try:
            return self._columns_by_omitted[omitted]
        except KeyError:
            left_out = {k for k, none in zip(self._optional, omitted) if none}
            keys = tuple(k for k in self._all_keys if k not in left_out)
            self._columns_by_omitted[omitted] = keys
            return keys

    def column(self, key: str) -> Column:
        return self._props[key].column

    def _bind_order(self, compiled: Compiled, keys: Sequence[str]) -> tuple[str, ...]:
        """The attribute keys in the order of ``compiled``'s placeholders."""
        by_column_key = {self.column(k).key: k for k in keys}
        ordered = tuple(by_column_key[name] for name, _ in compiled.binds[: len(keys)])
        if len(compiled.binds) < len(keys) or set(ordered) != set(keys):
            raise AssertionError(f"{compiled.string!r} does not bind exactly {keys!r}")
        return ordered

    def insert(self, keys: tuple[str, ...], returning: tuple[str, ...] = ()) -> tuple[Compiled, tuple[str, ...]]:
        """``insert(table)`` writing the columns of attribute ``keys`` (RETURNING the columns
        of ``returning``): the compiled statement, and ``keys`` in placeholder order."""
        cache_key = ("insert", keys, returning)
        found = self._compiled.get(cache_key)
        if found is None:
            statement = insert(self.table)
            if returning:
                statement = statement.returning(*[self.column(k) for k in returning])
            compiled = compile_element(statement, dialect="sqlite", column_keys=[self.column(k).key for k in keys])
            if len(compiled.binds) != len(keys):
                raise AssertionError(f"{compiled.string!r} does not bind exactly {keys!r}")
            found = self._compiled[cache_key] = (compiled, self._bind_order(compiled, keys))
        return found

    def update(self, keys: tuple[str, ...]) -> tuple[Compiled, tuple[str, ...]]:
        """``UPDATE table SET <keys> WHERE <primary key>``: compiled, and the SET keys in
        placeholder order (the primary-key values follow them)."""
        cache_key = ("update", keys)
        found = self._compiled.get(cache_key)
        if found is None:
            statement = (
                update(self.table)
                .values({self.column(k).key: bindparam(self.column(k).key) for k in keys})
                .where(self._pk_criteria())
            )
            compiled = _compile(statement)
            found = self._compiled[cache_key] = (compiled, self._bind_order(compiled, keys))
        return found

    def delete(self) -> Compiled:
        """``DELETE FROM table WHERE <primary key>``."""
        compiled = self._compiled.get(("delete",))
        if compiled is None:
            compiled = self._compiled[("delete",)] = _compile(delete(self.table).where(self._pk_criteria()))
        return compiled

    def select_by_rowid(self, keys: Sequence[str]) -> Compiled:
        """``SELECT <keys> FROM table WHERE rowid = ?``: a new row's server-generated key
        where SQLite has no RETURNING."""
        cache_key = ("select by rowid", tuple(keys))
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            rowid = Column("rowid", Integer)  # SQLite's own row id, not a column of the table
            statement = select(*[self.column(k) for k in keys]).select_from(self.table).where(rowid == bindparam("rowid"))
            compiled = self._compiled[cache_key] = _compile(statement)
        return compiled

    def _pk_criteria(self) -> Any:
        columns = [self.column(k) for k in self.pk_keys]
        return and_(*[c == bindparam(f"{c.key}_pk", type_=c.type) for c in columns])


_statements: "WeakKeyMap" = WeakKeyMap()  # Mapper -> MapperStatements


def statements_for(mapper: Mapper) -> MapperStatements:
    """The :class:`MapperStatements` of ``mapper`` (made on first use, kept with the mapper)."""
    found = _statements.get(mapper)
    if found is None:
        found = _statements[mapper] = MapperStatements(mapper)
    return found


def _process(values: Sequence[Any], compiled: Compiled, processors: list[Any] | None) -> tuple[Any, ...]:
    """One row of ``compiled``'s parameters as sent: through the column types' bind processors
    when any column has one (a refused value raises StatementError naming the statement), else
    as it is."""
    if processors is not None:
        return process_parameters(processors, values, compiled.string)
    return tuple(values)


def single_row_insert_sql(mapper: Mapper, d: dict[str, Any]) -> str:
    """The one-row ``INSERT`` of the object whose ``__dict__`` is ``d`` (for error messages)."""
    plan = statements_for(mapper)
    return plan.insert(plan.columns_for(d))[0].string


def runs_by_columns(
    plan: MapperStatements, objects: Sequence[Any], dict_of: Callable[[Any], dict[str, Any]] | None = None
) -> list[tuple[tuple[str, ...], list[Any]]]:
    """Consecutive runs of objects that write the same columns (one statement shape each).
    Runs, not groups: rows keep the order in which the objects were added.  ``dict_of``: the
    values to decide by (default: the object's ``__dict__``; the flush plan passes the values
    the object will have at its INSERT)."""
    if not objects:
        return []
    if dict_of is None:
        dict_of = _dict_of
    if len(plan.pk_keys) == 1 and set(plan._optional) <= set(plan.pk_keys):
        # fast path: only the (single-column) primary key may be left out, and within one
        # step either every object left it out or none did (the plan splits them so).  The
        # step's own list is the run, not a copy: a list of 100 000 objects costs a write to
        # each object's reference count when it is made and again when it is freed, and those
        # objects are no longer in the CPU's caches
        return [(plan.columns_for(dict_of(objects[0])), objects if type(objects) is list else list(objects))]
    columns_for = plan.columns_for
    return [(keys, list(run)) for keys, run in groupby(objects, key=lambda o: columns_for(dict_of(o)))]


def _dict_of(obj: Any) -> dict[str, Any]:
    return obj.__dict__


class FilledKeys:
    """The primary-key attributes INSERTs filled in, so that a failed flush can take them back
    (the objects are pending again, without an id).  Iterating gives ``(object, key)`` pairs.

    Kept as runs (a list of objects, the part of it a batch filled, and one key), not one pair
    per object: a flush of 100 000 objects would otherwise make 100 000 tuples that live until
    its end, and long-lived allocations are what drives CPython's full garbage collections (a
    tenth of a second each at that size, measured).  Nor a slice of the list per batch: a slice
    writes to the reference count of each object it holds, twice."""

    __slots__ = ("_runs", "_marked", "_marked_count")

    def __init__(self) -> None:
        #: (objects, start, stop, attribute key): objects[start:stop] got a value for the key
        self._runs: list[tuple[Sequence[Any], int, int, str]] = []
        #: the runs whose objects were made persistent with their keys (``emit_insert_batched``'s
        #: ``fill_batch``): their positions in ``_runs``, and how many objects they hold
        self._marked: list[int] = []
        self._marked_count = 0

    def add(self, obj: Any, key: str) -> None:
        self._runs.append(((obj,), 0, 1, key))

    def add_run(self, objects: Sequence[Any], key: str, marked: bool = False, start: int = 0, stop: int | None = None) -> None:
        """``objects[start:stop]`` (all of them by default) got a value for ``key``."""
        stop = len(objects) if stop is None else stop
        if marked:
            self._marked.append(len(self._runs))
            self._marked_count += stop - start
        self._runs.append((objects, start, stop, key))

    def not_marked(self, objects: Sequence[Any]) -> list[Any]:
        """Those of ``objects`` that no run added with ``marked=True`` holds, in order (the
        usual answers, all or none, without a look at each object)."""
        if not self._marked:
            return list(objects)
        if self._marked_count == len(objects):
            return []
        marked = {id(obj) for index in self._marked for obj in self._run_objects(index)}
        return [obj for obj in objects if id(obj) not in marked]

    def _run_objects(self, index: int) -> Sequence[Any]:
        objects, start, stop, _ = self._runs[index]
        return objects[start:stop]

    def __iter__(self) -> Iterator[tuple[Any, str]]:
        for index, (_, _, _, key) in enumerate(self._runs):
            for obj in self._run_objects(index):
                yield obj, key

    def __len__(self) -> int:
        return sum(stop - start for _, start, stop, _ in self._runs)

    def undo(self) -> None:
        """Remove the filled-in values again."""
        for obj, key in self:
            obj.__dict__.pop(key, None)


def _with_strategy(cause: str, text: str) -> str:
    """The cause the echo log shows for an INSERT: why (``flush``) and how (the strategy)."""
    return f"{cause}: {text}"


def _options(cause: str) -> dict[str, Any]:
    return {"cause": cause}


def insert_strategy_for(connection: Connection, mapper: Mapper, n_rows: int) -> str:
    """The strategy for ``n_rows`` new objects of ``mapper`` whose primary key is not set:
    ``"batched RETURNING"`` when the correlation rule holds and there are enough rows for it to
    pay (:data:`insertmanyvalues.MIN_BATCH_ROWS`), else ``"per-row"``."""
    engine = connection.engine
    table = mapper.local_table
    if (
        n_rows >= insertmanyvalues.MIN_BATCH_ROWS
        and engine.insertmanyvalues
        and engine.dialect.supports_returning
        and statements_for(mapper).rowid_key is not None
        and not insertmanyvalues.rowid_at_limit(
            connection, table,
            cause=f"flush plan: is a rowid of {table.name!r} at 2**63-1? (batched RETURNING needs the next rowids free)",
        )
    ):
        return BATCHED
    return PER_ROW


def emit_insert_client_keys(connection: Connection, mapper: Mapper, objects: Sequence[Any], cause: str) -> None:
    """INSERT objects whose primary key is already set: nothing to read back, so the rows of
    each statement shape go in one ``executemany`` (a single row: a plain ``execute``)."""
    plan = statements_for(mapper)
    insert_params = _accel.instrumentation.insert_params
    options = _options(_with_strategy(cause, CLIENT_KEYS))  # the log adds "executemany of N rows"
    for keys, run in runs_by_columns(plan, objects):
        compiled, ordered = plan.insert(keys)
        processors = compiled.bind_processors()
        rows = [_process(insert_params(o.__dict__, ordered), compiled, processors) for o in run]
        if len(rows) == 1:
            connection.execute_compiled(compiled, rows[0], execution_options=options)
        else:
            connection.execute_compiled(compiled, rows, many=True, execution_options=options)


def emit_insert_batched(
    connection: Connection,
    mapper: Mapper,
    objects: Sequence[Any],
    cause: str,
    filled: FilledKeys | None = None,
    fill_batch: Callable[[list[Any], int, range, str], None] | None = None,
) -> FilledKeys:
    """INSERT objects without a primary key, many rows per statement, keys read back with
    RETURNING and matched to the objects by the engine
    (:meth:`Connection.execute_insertmanyvalues`; the argument is in
    :mod:`minialchemy.engine.insertmanyvalues`).

    Only for a mapper whose primary key is a rowid alias (see :func:`insert_strategy_for`).
    Records each key it sets in ``filled`` (a new :class:`FilledKeys` if None) and returns it.
    ``fill_batch(run, start, keys, attr_key)``, when given, sets the keys of each statement's
    objects ``run[start:start + len(keys)]`` instead of :func:`fill_keys` (the flush's
    ``mark_inserted_batch``, which also makes them persistent), for the statements
    whose parameters no Python code of yours computes (no type has a bind processor); the
    objects it was not called for are returned by :meth:`FilledKeys.not_marked`.
    """
    plan = statements_for(mapper)
    pk = plan.rowid_key
    if pk is None:
        raise AssertionError(f"batched RETURNING needs a rowid-alias primary key; table {plan.table_name!r} has none")
    if filled is None:
        filled = FilledKeys()
    instrumentation = _accel.instrumentation
    options = _options(cause)
    for keys, run in runs_by_columns(plan, objects):
        if not keys:  # nothing to write but the key: INSERT ... DEFAULT VALUES, one by one
            emit_insert_per_row(connection, mapper, run, cause, filled)
            continue
        compiled, ordered = plan.insert(keys, returning=(pk,))
        processors = compiled.bind_processors()
        fill = instrumentation.fill_keys
        if processors is None:
            # each statement's parameters, one flat list built in one pass over its objects
            params: Any = partial(instrumentation.insert_params_many, run, ordered)
            if fill_batch is not None:
                fill = fill_batch
        else:
            params = (_process(instrumentation.insert_params(o.__dict__, ordered), compiled, processors) for o in run)
        for batch in connection.execute_insertmanyvalues(compiled, params, rows_total=len(run), execution_options=options):
            fill(run, batch.start, batch.keys, pk)
            filled.add_run(run, pk, marked=fill is fill_batch, start=batch.start, stop=batch.start + len(batch))
    return filled


def emit_insert_per_row(
    connection: Connection,
    mapper: Mapper,
    objects: Sequence[Any],
    cause: str,
    filled: FilledKeys | None = None,
) -> FilledKeys:
    """INSERT each object with its own statement; read each new primary key from ``lastrowid``.

    Records each key it fills in in ``filled`` (a new :class:`FilledKeys` if None), returns it.
    """
    plan = statements_for(mapper)
    if filled is None:
        filled = FilledKeys()
    insert_params = _accel.instrumentation.insert_params
    autoinc = plan.autoincrement_keys
    server_keys = plan.server_key_keys
    columns_for = plan.columns_for
    why = _with_strategy(cause, f"{PER_ROW}, key from lastrowid") if log.info_enabled(log.ENGINE) else cause
    options = _options(why)
    execute_compiled = connection.execute_compiled
    shapes: dict[tuple[str, ...], tuple[Compiled, tuple[str, ...], list[Any] | None]] = {}
    for obj in objects:
        d = obj.__dict__
        keys = columns_for(d)
        generated = [k for k in server_keys if d.get(k) is None] if server_keys else None
        if generated:
            _insert_one_reading_server_keys(connection, plan, obj, keys, tuple(generated), cause, filled)
            continue
        shape = shapes.get(keys)
        if shape is None:  # the statement of this column set, looked up once per call
            compiled, ordered = plan.insert(keys)
            shape = shapes[keys] = (compiled, ordered, compiled.bind_processors())
        compiled, ordered, processors = shape
        values = insert_params(d, ordered)
        params = process_parameters(processors, values, compiled.string) if processors is not None else tuple(values)
        result = execute_compiled(compiled, params, execution_options=options)
        for key in autoinc:
            if d.get(key) is None:
                d[key] = result.lastrowid
                filled.add(obj, key)
    return filled


def _insert_one_reading_server_keys(
    connection: Connection,
    plan: MapperStatements,
    obj: Any,
    keys: tuple[str, ...],
    generated: tuple[str, ...],
    cause: str,
    filled: FilledKeys,
) -> None:
    """INSERT one object whose primary key (or part of it) a server default fills: read the
    key back with ``RETURNING`` (one row: no order to worry about), or, before SQLite 3.35,
    with a SELECT of the row by the rowid that ``lastrowid`` reports."""
    d = obj.__dict__
    insert_params = _accel.instrumentation.insert_params
    if connection.dialect.supports_returning:
        compiled, ordered = plan.insert(keys, returning=generated)
        params = _process(insert_params(d, ordered), compiled, compiled.bind_processors())
        result = connection.execute_compiled(
            compiled, params, execution_options=_options(_with_strategy(cause, f"{PER_ROW}, key from RETURNING"))
        )
    else:
        compiled, ordered = plan.insert(keys)
        params = _process(insert_params(d, ordered), compiled, compiled.bind_processors())
        inserted = connection.execute_compiled(
            compiled, params, execution_options=_options(_with_strategy(cause, f"{PER_ROW}, key by rowid"))
        )
        result = connection.execute_compiled(
            plan.select_by_rowid(generated),
            (inserted.lastrowid,),
            execution_options=_options(_with_strategy(cause, f"{PER_ROW}, read the server-generated key of the new row")),
        )
    values = result.raw_tuples()[0]
    for key, value in zip(generated, values):
        d[key] = value
        filled.add(obj, key)


if TYPE_CHECKING:  # a type alias, for annotations only (it needs typing.Any)
    #: ``{changed attribute keys: (objects, rows)}``, as ``instrumentation.update_rows`` groups them
    UpdateGroups = dict[tuple[str, ...], tuple[list[Any], list[tuple[Any, ...]]]]


def emit_update(
    connection: Connection, mapper: Mapper, objects: Sequence[Any], cause: str, groups: UpdateGroups | None = None
) -> None:
    """UPDATE the changed columns of each of ``objects`` (persistent, of ``mapper``); objects
    with the same changed columns are sent as one ``executemany``, their rows built in one pass
    (``update_rows``, or ``groups`` already built by it); objects with no net change send
    nothing.  A row count that does not match raises StaleDataError."""
    plan = statements_for(mapper)
    options = _options(cause)
    if groups is None:
        groups = _accel.instrumentation.update_rows(mapper, objects)
    for keys, (members, rows) in groups.items():
        compiled, ordered = plan.update(keys)
        if ordered != keys:  # placeholders not in column order: the SET values follow them
            positions = [keys.index(key) for key in ordered]
            rows = [(*[row[p] for p in positions], *row[len(keys):]) for row in rows]
        processors = compiled.bind_processors()
        if processors is not None:
            rows = [_process(row, compiled, processors) for row in rows]
        if len(rows) == 1:
            result = connection.execute_compiled(compiled, rows[0], execution_options=options)
        else:
            result = connection.execute_compiled(compiled, rows, many=True, execution_options=options)
        if result.rowcount != len(rows):
            raise StaleDataError(
                f"UPDATE statement on table {plan.table_name!r} expected to update {len(rows)} row(s); "
                f"{result.rowcount} were matched (was a row deleted by someone else?)"
            )


def emit_delete(connection: Connection, mapper: Mapper, objects: Sequence[Any], cause: str) -> None:
    """DELETE the rows of ``objects`` by primary key (one ``executemany`` for several)."""
    plan = statements_for(mapper)
    compiled = plan.delete()
    processors = compiled.bind_processors()
    delete_params = _accel.instrumentation.delete_params
    state_key = _accel.instrumentation.STATE_KEY
    rows = [_process(delete_params(obj.__dict__[state_key]), compiled, processors) for obj in objects]
    options = _options(cause)
    if len(rows) == 1:
        result = connection.execute_compiled(compiled, rows[0], execution_options=options)
    else:
        result = connection.execute_compiled(compiled, rows, many=True, execution_options=options)
    if result.rowcount != len(rows):
        # as in SQLAlchemy, a row already gone is only worth a warning: the goal is reached
        log.get_logger(log.ORM).warning(
            "DELETE statement on table %r expected to delete %d row(s); only %d were matched",
            plan.table_name, len(rows), result.rowcount,
        )
