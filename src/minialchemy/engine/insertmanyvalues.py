"""Batched ``INSERT ... RETURNING`` on SQLite ("insertmanyvalues"): the statement, how many
rows go in one, and the rule that ties each key SQLite returns to the parameter row it belongs to.

It is one implementation with two callers, both through the public
:meth:`minialchemy.engine.base.Connection.execute_insertmanyvalues`: the ORM's flush (the new
objects of one table, :mod:`minialchemy.orm.persistence`) and Core's
``conn.execute(insert(t).returning(t.c.id), [dict, ...])``.  The SQL text of the batched
statement is rendered by the compiler (:meth:`minialchemy.sql.compiler.Compiled.insertmanyvalues_sql`)
from the single-row INSERT; this module decides how many rows go in one statement, runs the
statements, and ties each returned key to its parameter row.  ``docs/insert_strategies.md``
tells the story with measurements.

The problem.  ``sqlite3``'s ``executemany()`` throws away the rows a RETURNING clause produces,
so getting the new keys of many rows at once means one ``execute()`` of one statement carrying
many rows.  And SQLite says of RETURNING: "The order in which rows are returned by RETURNING is
arbitrary", may change between releases and executions, and "there is no way to cause the
output rows to appear in a particular order" (sqlite.org/lang_returning.html).  SQLAlchemy 2.1
concludes that on SQLite its ORM cannot tie generated keys to parameter rows, and inserts one
row per statement.  We tie them by this argument, step by step:

1. The statement is ::

       INSERT INTO t (a, b)
       SELECT column1, column2 FROM (VALUES (?, ?, 0), (?, ?, 1), ..., (?, ?, n-1))
       ORDER BY column3
       RETURNING id

   The third value of each VALUES row is a *sentinel*: the row's position among the parameter
   rows, written into the SQL as a literal.  A bare multi-row ``VALUES`` promises no row order
   (it is a compound SELECT, and a SELECT without ORDER BY has none); ``ORDER BY`` is SQLite's
   documented way to fix the order in which a SELECT returns its rows.
2. ``INSERT ... SELECT`` inserts "a new entry ... for each row of data returned by executing
   the SELECT statement", and accepts a SELECT "with ORDER BY" (sqlite.org/lang_insert.html):
   the rows are inserted one after the other, in the order the SELECT returns them, i.e. in
   parameter order.  (Very old SQLite documented that it *ignored* such an ORDER BY; the
   test suite checks that this SQLite follows it: rows whose sentinels run backwards get
   their keys backwards.)
3. For a rowid table whose ``INTEGER PRIMARY KEY`` (the rowid alias) is given as NULL, "the
   usual algorithm is to give the newly created row a ROWID that is one larger than the
   largest ROWID in the table prior to the insert"; with AUTOINCREMENT, one larger than the
   largest ever used (sqlite.org/autoinc.html).  Each row of our statement is the newest, so
   row *i* gets ``k + i``: the keys are n consecutive integers, ascending in parameter order.
4. RETURNING hands them back in any order.  We do not care: the *i*-th smallest key belongs
   to parameter row *i*.

Step 3 has one precondition that can be known in advance: the table's largest rowid must be
below 2**63-1 (once a table holds that rowid, SQLite picks new rowids at random).  Before its
first batched statement into a table, :func:`execute_batches` asks (``SELECT max(rowid)``, one
b-tree lookup); at the limit it inserts one row per statement instead (keys from
``lastrowid``), which is always correct.

What step 3 assumes is then checked on every statement (:func:`keys_in_parameter_order`): the
returned keys must be exactly n distinct consecutive integers.  That catches the ways the rowid
rule can still fail: a trigger that inserts into the same table between our rows (a gap), and a
primary key that is not really a rowid alias (NULLs, or not integers).  A failed check comes
*after* the rows were inserted: :class:`~minialchemy.exc.InsertManyValuesError` is raised (by
both callers), and the rows go away with the transaction (the ORM's flush always runs in one,
and a failed flush rolls it back).  Recovering in place would need a SAVEPOINT around every
batch, a cost paid by every flush for an event that does not happen with tables the ORM created.

Where the rule does not apply, callers insert one row per statement (key from
``cursor.lastrowid``): SQLite older than 3.35 (no RETURNING), a primary key that is composite
or not ``INTEGER`` (no rowid alias: ``BIGINT PRIMARY KEY`` is an ordinary column in SQLite),
a table without columns to write, or a switch: ``create_engine(..., insertmanyvalues=False)``.
"""

from __future__ import annotations

from itertools import chain, islice
from operator import itemgetter

from minialchemy.engine import log
from minialchemy.exc import InsertManyValuesError
from minialchemy.sql.elements import func
from minialchemy.sql.selectable import select

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Callable, Iterable, Iterator, Sequence
    from minialchemy.engine.base import Connection, Dialect
    from minialchemy.sql.compiler import Compiled
    from minialchemy.sql.schema import Column, Table

__all__ = [
    "INSERT_BATCH_ROWS",
    "MIN_BATCH_ROWS",
    "MAX_ROWID",
    "rowid_alias",
    "rowid_at_limit",
    "rows_per_statement",
    "InsertedBatch",
    "execute_batches",
    "abbreviated_sql",
    "keys_in_parameter_order",
]

#: Rows per batched INSERT statement (the default of ``create_engine(...,
#: insertmanyvalues_page_size=...)``), capped by the bind-parameter limit.  Not the largest
#: statement SQLite accepts: ``python benchmarks/report.py --insert`` sweeps the size from 10
#: to the limit.  Measured (``benchmarks/results/insert_pk.md``): for this statement form,
#: 200-1000 rows per statement are within 5% of the best, which was 500 (raw, 100 000 rows)
#: and 1000 (whole flush, 20 000 objects, 500 within 1% of it); 10 rows per statement are
#: 1.6x slower, and one statement for all 100 000 rows 1.1x slower.
INSERT_BATCH_ROWS = 500

#: Fewer new rows than this go one per statement.  A statement with RETURNING costs SQLite a
#: few microseconds more than a plain INSERT (it buffers the rows it returns; our ORDER BY
#: sorts), so for a handful of rows one INSERT per row is faster.  Measured on a warm
#: connection, pure-Python flush of N new objects, per-row / batched: N=2 30 / 40 us,
#: N=10 65 / 65 us, N=30 150 / 125 us.
MIN_BATCH_ROWS = 10

#: The largest rowid; once a table holds it, SQLite picks new rowids at random.
MAX_ROWID = 2**63 - 1


def rowid_alias(table: Table) -> Column | None:
    """The column of ``table`` that aliases SQLite's rowid, or None.

    That is the table's only primary-key column, declared exactly ``INTEGER`` (SQLite makes
    ``INTEGER PRIMARY KEY`` an alias of the rowid, but not ``BIGINT PRIMARY KEY``), with no
    Python-side default and ``autoincrement`` not False: a NULL written there gets the next rowid.
    """
    columns = list(table.primary_key.columns)
    if len(columns) != 1:
        return None
    column = columns[0]
    if not column.is_autoincrement_pk or column.type.ddl().upper() != "INTEGER":
        return None
    return column


def rows_per_statement(dialect: Dialect, params_per_row: int, page_size: int | None = None) -> int:
    """How many rows one batched statement carries: ``page_size`` (default
    :data:`INSERT_BATCH_ROWS`), but no more than the bind-parameter limit allows."""
    wanted = page_size or INSERT_BATCH_ROWS
    fits = dialect.max_bind_params // max(params_per_row, 1)
    return max(1, min(wanted, fits))


def abbreviated_sql(sql: str, n_rows: int) -> str:
    """The batched statement as the echo log shows it: first two and last VALUES rows only."""
    if n_rows <= 3:
        return sql
    head, sep, rest = sql.partition("(VALUES ")
    values, sep2, tail = rest.partition(") ORDER BY ")
    rows = values.split("), (")
    shown = f"{rows[0]}), ({rows[1]}), ... {n_rows - 3} more rows ..., ({rows[-1]}"
    return f"{head}{sep}{shown}{sep2}{tail}"


def keys_in_parameter_order(keys: list[Any], n_rows: int) -> range | None:
    """The keys of the ``n_rows`` parameter rows, in parameter order, from the keys RETURNING
    gave back in any order; None when they are not n distinct consecutive integers (the check
    of the module docstring: do not match them to rows then).  Sorts ``keys`` in place."""
    if len(keys) != n_rows or n_rows == 0:
        return None
    try:
        keys.sort()
    except TypeError:  # NULL keys: the primary key is not a rowid alias
        return None
    first = keys[0]
    if type(first) is not int:
        return None
    expected = range(first, first + n_rows)
    # list == list compares in C; equal to a range of n integers means distinct and consecutive
    if keys != list(expected):
        return None
    return expected


def rowid_at_limit(connection: Connection, table: Table, cause: str | None = None) -> bool:
    """True when ``table`` already holds the largest rowid, 2**63-1: SQLite then picks new
    rowids at random, step 3 of the argument fails, and new rows must go one per statement.

    One ``SELECT max(<rowid alias>)`` (SQLite answers it from the end of the b-tree); callers
    ask once per table before batching (the flush plans it, logged with ``cause``)."""
    key = rowid_alias(table)
    if key is None:
        return False
    largest = connection.execute(
        select(func.max(key)), execution_options={"cause": cause or f"is a rowid of {table.name!r} at 2**63-1?"}
    ).scalar()
    return largest == MAX_ROWID


class InsertedBatch:
    """What one batched statement inserted: the parameter rows ``start`` to ``start + len(keys)``,
    their keys in parameter order (``keys``, a range: row ``start + i`` got ``keys[i]``), and
    their RETURNING rows in parameter order, the key last (``rows``, put in order on first use:
    the ORM's flush needs only the keys)."""

    __slots__ = ("start", "keys", "_returned", "_rows")

    def __init__(self, start: int, keys: range, returned: list[tuple[Any, ...]]) -> None:
        self.start = start
        self.keys = keys
        self._returned = returned
        self._rows: list[tuple[Any, ...]] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            first = self.keys.start
            ordered: list[Any] = [None] * len(self.keys)
            for row in self._returned:
                ordered[row[-1] - first] = row
            self._rows = ordered
        return self._rows

    def __repr__(self) -> str:
        return f"<InsertedBatch of rows {self.start}..{self.start + len(self.keys) - 1}: keys {self.keys.start}..{self.keys.stop - 1}>"


if TYPE_CHECKING:  # a type alias, for annotations only (it needs typing.Callable)
    #: ``(start, stop) -> [values of row start, then of row start + 1, ... row stop - 1]``
    FlatParameters = Callable[[int, int], "list[Any]"]


def _chunks(parameter_rows: Iterable[Sequence[Any]] | FlatParameters, rows_total: int, size: int) -> Iterator[tuple[int, list[Any]]]:
    """``(number of rows, their parameters in one flat list)`` for each statement of ``size``
    rows (the last one shorter).  ``parameter_rows``: the rows, or a function giving the flat
    parameters of rows start..stop (the flush builds them in C, straight from the objects)."""
    if callable(parameter_rows):
        for start in range(0, rows_total, size):
            stop = min(start + size, rows_total)
            yield stop - start, parameter_rows(start, stop)
        return
    rows = iter(parameter_rows)
    while True:
        chunk = list(islice(rows, size))
        if not chunk:
            return
        yield len(chunk), list(chain.from_iterable(chunk))  # one flat list: ?, ?, ... row after row


def execute_batches(
    connection: Connection,
    compiled: Compiled,
    parameter_rows: Iterable[Sequence[Any]] | FlatParameters,
    rows_total: int,
    cause: str | None,
) -> Iterator[InsertedBatch]:
    """Run ``compiled`` (an ``INSERT ... RETURNING`` of bound values into a table whose key is a
    rowid alias) for ``rows_total`` parameter rows, many rows a statement; yield an
    :class:`InsertedBatch` per statement: the keys of its rows in parameter order (and their
    RETURNING rows, the rowid key as their last value).

    ``parameter_rows`` are positional, in the order of ``compiled``'s placeholders, already
    processed by their types: the rows, consumed one statement at a time (a flush of 100 000
    objects never holds 100 000 parameter tuples), or a function ``(start, stop) -> flat list``
    of the values of rows start..stop one after the other.  Raises
    :class:`InsertManyValuesError` when a statement's keys fail the check of the module
    docstring.
    """
    table = compiled.statement.table
    key_column = rowid_alias(table)
    if key_column is None or not compiled.supports_insertmanyvalues:
        raise InsertManyValuesError(
            f"{compiled.string!r} cannot be batched: batched RETURNING needs an INSERT of bound "
            f"values into a table whose primary key is a rowid alias (a single INTEGER column)"
        )
    width = len(compiled.insert_columns)
    engine = connection.engine
    size = rows_per_statement(engine.dialect, width, engine.insertmanyvalues_page_size)
    statements = -(-rows_total // size)
    echoing = log.info_enabled(log.ENGINE)
    sql_for_size: dict[int, str] = {}
    start = 0
    for number, (n, params) in enumerate(_chunks(parameter_rows, rows_total, size), 1):
        sql = sql_for_size.get(n)
        if sql is None:
            sql = sql_for_size[n] = compiled.insertmanyvalues_sql(n, key_column)
        if echoing:  # the cause and the short SQL are only for the log
            why = f"{cause or 'executemany with RETURNING'}: batched RETURNING, statement {number} of {statements}, {n} rows (batch size {size})"
            cursor = connection._execute_sql(sql, params, cause=why, log_text=abbreviated_sql(sql, n))
        else:
            cursor = connection._execute_sql(sql, params, cause=cause)
        returned = cursor.fetchall()
        keys = keys_in_parameter_order(list(map(_last, returned)), n)
        if keys is None:
            raise InsertManyValuesError(
                f"Batched INSERT into table {table.name!r} returned keys that are not {n} "
                f"consecutive integers, so they cannot be matched to the {n} parameter rows (a "
                f"trigger inserting into the same table? a primary key that is not an INTEGER "
                f"rowid alias?).  The rows are inserted in the current transaction: roll it back "
                f"(a failed flush does).  Use create_engine(..., insertmanyvalues=False) to "
                f"insert one row per statement on this database."
            )
        yield InsertedBatch(start, keys, returned)
        start += n


_last = itemgetter(-1)
