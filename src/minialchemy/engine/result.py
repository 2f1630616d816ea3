"""Results of a statement: rows you can iterate, fetch and reshape.

A :class:`Row` is a tuple (compare it, unpack it, index it) whose columns are also attributes
(``row.name``).  A :class:`Result` is consumed once, like a cursor: ``all()``, ``first()``,
``one()``, ``scalar_one()``, ``scalars()``, ``mappings()``.  The ORM returns the same
:class:`Result`, holding objects instead of plain values.

Where it sits: built by :mod:`minialchemy.engine.base` from a sqlite3 cursor, and by the ORM's
loading code from objects.
"""

from __future__ import annotations

import functools

from minialchemy.exc import (
    InvalidRequestError,
    MultipleResultsFound,
    NoResultFound,
    NoSuchColumnError,
    ResourceClosedError,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Callable, Iterator, Sequence

__all__ = ["Row", "RowMapping", "Result", "CursorResult", "ScalarResult", "MappingResult"]


class Row(tuple):
    """A result row: a tuple with attribute access by column key (``row.name``)."""

    __slots__ = ()
    _keymap: dict[str, int] = {}
    _fields: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[self._keymap[name]]
        except KeyError:
            raise AttributeError(
                f"Row has no column {name!r}; columns are {', '.join(self._fields) or '(none)'}"
            ) from None

    @property
    def _mapping(self) -> "RowMapping":
        """The row as a read-only mapping of column key to value."""
        return RowMapping(zip(self._fields, self))

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self))

    def _tuple(self) -> tuple[Any, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return repr(tuple(self))


def row_class(keys: Sequence[str]) -> type[Row]:
    """A :class:`Row` subclass for one result shape (the key -> position map lives on the class).

    Made once per shape and kept (:func:`_row_class_for`): creating a class costs far more than
    running a one-row statement, and the flush runs one per object when it inserts row by row."""
    return _row_class_for(tuple(keys))


@functools.lru_cache(maxsize=512)
def _row_class_for(keys: tuple[str, ...]) -> type[Row]:
    keymap: dict[str, int] = {}
    for index, key in enumerate(keys):
        keymap.setdefault(key, index)
    return type("Row", (Row,), {"__slots__": (), "_keymap": keymap, "_fields": keys})


class RowMapping(dict):
    """A row as a dictionary of column key to value (what ``result.mappings()`` yields)."""


class _Consumable:
    """Shared single-pass behaviour of the result classes.

    ``_rows`` holds what the result was built from; ``_make_row`` (None: hand them out as they
    are) turns one of those into what the caller receives, at the moment it is taken.  Built
    lazily like this, a ``Row`` is only made for a row somebody asks for as a row:
    ``session.scalars(select(User)).all()`` never makes one.
    """

    _rows: list[Any]
    _index: int
    _make_row: Callable[[Any], Any] | None = None
    #: rows per partition when ``partitions()`` is given no size (set by ``yield_per``)
    _yield_per: int | None = None
    #: set by the ORM when rows repeat a parent once per joined eager-loaded child
    #: (``joinedload`` of a collection): rows are handed out only after ``unique()``
    _unique_required: bool = False

    def _check_unique(self) -> None:
        if self._unique_required:
            raise InvalidRequestError(
                "The unique() method must be invoked on this Result, as it contains results that "
                "include joined eager loads against collections (each parent comes once per "
                "child row: call .unique() before .all(), or use selectinload instead)"
            )

    def _carry_over(self, result: Any) -> Any:
        """What a derived result (``scalars()``, ``mappings()``...) keeps of this one."""
        result._yield_per = self._yield_per
        result._unique_required = self._unique_required
        return result

    def _take_raw(self) -> list[Any]:
        """The remaining rows as stored (not made into rows), consuming them."""
        rows = self._rows[self._index :] if self._index else self._rows
        self._index = len(self._rows)
        return rows

    def _take_all(self) -> list[Any]:
        self._check_unique()
        rows = self._take_raw()
        make_row = self._make_row
        return rows if make_row is None else list(map(make_row, rows))

    def _take_one(self) -> Any:
        if self._unique_required:
            self._check_unique()
        if self._index >= len(self._rows):
            return _NO_ROW
        row = self._rows[self._index]
        self._index += 1
        make_row = self._make_row
        return row if make_row is None else make_row(row)

    def __iter__(self) -> Iterator[Any]:
        while True:
            row = self._take_one()
            if row is _NO_ROW:
                return
            yield row

    def all(self) -> list[Any]:
        """Every remaining row, as a list."""
        return list(self._take_all())

    def first(self) -> Any:
        """The first row, or None; the rest is discarded."""
        row = self._take_one()
        self._index = len(self._rows)
        return None if row is _NO_ROW else row

    def one(self) -> Any:
        """Exactly one row, else :class:`NoResultFound` / :class:`MultipleResultsFound`."""
        rows = self._take_all()
        if not rows:
            raise NoResultFound("No row was found when one was required")
        if len(rows) > 1:
            raise MultipleResultsFound(
                f"Multiple rows were found when exactly one was required ({len(rows)} rows)"
            )
        return rows[0]

    def one_or_none(self) -> Any:
        """One row or None; more than one raises :class:`MultipleResultsFound`."""
        rows = self._take_all()
        if len(rows) > 1:
            raise MultipleResultsFound(
                f"Multiple rows were found when one or none was required ({len(rows)} rows)"
            )
        return rows[0] if rows else None

    def fetchone(self) -> Any:
        row = self._take_one()
        return None if row is _NO_ROW else row

    def fetchmany(self, size: int = 1) -> list[Any]:
        self._check_unique()
        rows = self._rows[self._index : self._index + size]
        self._index += len(rows)
        make_row = self._make_row
        return rows if make_row is None else list(map(make_row, rows))

    def fetchall(self) -> list[Any]:
        return self.all()

    def partitions(self, size: int | None = None) -> Iterator[list[Any]]:
        """The remaining rows in lists of ``size`` (the last may be shorter); without a size,
        the ``yield_per()`` size, else ``fetchmany()``'s default of one row, as sqlite3's
        cursor has it.  Process a large result a batch at a time."""
        if size is None:
            size = self._yield_per or 1
        if size < 1:
            raise ValueError(f"partitions() needs a size of at least 1, not {size}")
        while True:
            batch = self.fetchmany(size)
            if not batch:
                return
            yield batch

    def yield_per(self, num: int) -> Any:
        """Hand rows out in batches of ``num`` from ``partitions()`` (this result, for chaining)."""
        if num < 1:
            raise ValueError(f"yield_per() needs a batch size of at least 1, not {num}")
        self._yield_per = num
        return self

    def _unique_markers(self, values: Any) -> Any:
        """What makes a row a duplicate: ORM objects by identity, anything else by value."""
        return tuple(id(v) if hasattr(v, "__dict__") else v for v in values)

    def _keep_unique(self, as_values: Callable[[Any], Any]) -> None:
        seen: set[Any] = set()
        kept = []
        for row in self._rows[self._index :]:
            marker = self._unique_markers(as_values(row))
            if marker not in seen:
                seen.add(marker)
                kept.append(row)
        self._rows = kept
        self._index = 0
        self._unique_required = False


_NO_ROW = object()


class Result(_Consumable):
    """Rows of a statement; consumed once.

    ``keys`` names the columns; ``rows`` are tuples of values (or of ORM objects), each made a
    :class:`Row` when it is taken.  With ``single_values=True`` and one key, ``rows`` holds the
    values of the one column themselves (the ORM's ``select(User)``: one object per row), so
    ``scalars()`` hands them out without building a tuple per row.
    """

    def __init__(
        self,
        keys: Sequence[str],
        rows: list[Any],
        *,
        make_rows: bool = True,
        single_values: bool = False,
    ) -> None:
        self._keys = list(keys)
        if single_values and len(self._keys) != 1:
            raise ValueError(f"single_values needs exactly one column, not {self._keys!r}")
        self._single_values = single_values
        if make_rows:
            cls = row_class(self._keys)
            self._make_row = (lambda value: cls((value,))) if single_values else cls
        self._rows = rows
        self._index = 0
        self._closed = False

    def _take_raw_tuples(self) -> list[Any]:
        """The remaining rows as tuples (not yet :class:`Row`), consuming them."""
        rows = self._take_raw()
        return [(value,) for value in rows] if self._single_values else rows

    @property
    def returns_rows(self) -> bool:
        return True

    def raw_tuples(self) -> list[tuple[Any, ...]]:
        """Every remaining row as a plain tuple (values already converted by their types),
        without making :class:`Row` objects: for callers that build their own objects from the
        rows, like the ORM's loader."""
        return self._take_raw_tuples()

    def keys(self) -> list[str]:
        """The column keys, in order."""
        return list(self._keys)

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        row = self.first()
        return None if row is None else row[0]

    def scalar_one(self) -> Any:
        """The first column of exactly one row."""
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        """The first column of one row, or None."""
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self, index: int = 0) -> "ScalarResult":
        """The values of one column (the first by default): ``session.scalars(select(User))``."""
        if self._single_values and index in (0, -1):
            result = ScalarResult(list(self._take_raw()))
        else:
            result = ScalarResult([row[index] for row in self._take_raw_tuples()])
        return self._carry_over(result)

    def mappings(self) -> "MappingResult":
        """Rows as dictionaries of column key to value."""
        keys = self._keys
        result = MappingResult([RowMapping(zip(keys, row)) for row in self._take_raw_tuples()])
        return self._carry_over(result)

    def tuples(self) -> "Result":
        """The rows as they are (a Row already is a tuple); kept for SQLAlchemy's spelling."""
        return self

    @property
    def t(self) -> "Result":
        """The same as :meth:`tuples`."""
        return self

    def columns(self, *columns: Any) -> "Result":
        """A result of only some columns, in the order given: by key (``"name"``), by position
        (``0``), or by the column expression selected (``user_table.c.name``)."""
        positions = [self._column_position(column) for column in columns]
        rows = [tuple([row[i] for i in positions]) for row in self._take_raw_tuples()]
        result = Result([self._keys[i] for i in positions], rows)
        return self._carry_over(result)

    def _column_position(self, column: Any) -> int:
        if isinstance(column, int):
            if -len(self._keys) <= column < len(self._keys):
                return column % len(self._keys)
        else:
            key = column if isinstance(column, str) else getattr(column, "key", None)
            if key in self._keys:
                return self._keys.index(key)
        raise NoSuchColumnError(
            f"Could not locate column in row for column {column!r}; the result's columns are "
            f"{', '.join(self._keys) or '(none)'}"
        )

    def unique(self) -> "Result":
        """Drop duplicate rows (by identity of ORM objects, by value otherwise)."""
        self._keep_unique((lambda value: (value,)) if self._single_values else (lambda row: row))
        return self

    def close(self) -> None:
        self._index = len(self._rows)
        self._closed = True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} keys={self._keys} rows={len(self._rows) - self._index}>"


class CursorResult(Result):
    """A :class:`Result` from the database cursor, with ``rowcount``, ``lastrowid`` and, after
    a single-row INSERT, ``inserted_primary_key``."""

    def __init__(
        self,
        keys: Sequence[str],
        rows: list[tuple[Any, ...]],
        rowcount: int = -1,
        lastrowid: int | None = None,
        inserted_primary_key: tuple[Any, ...] | None = None,
        returns_rows: bool = True,
        processors: Sequence[Callable[[Any], Any] | None] | None = None,
        inserted_primary_key_rows: list[tuple[Any, ...]] | None = None,
    ) -> None:
        if processors and any(p is not None for p in processors):
            rows = [
                tuple(p(v) if p is not None else v for p, v in zip(processors, row)) for row in rows
            ]
        super().__init__(keys, rows)
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self._inserted_primary_key = inserted_primary_key
        self._inserted_primary_key_rows = inserted_primary_key_rows
        self._returns_rows = returns_rows

    @property
    def returns_rows(self) -> bool:
        return self._returns_rows

    @property
    def inserted_primary_key(self) -> Any:
        """The primary key of the row a single-row INSERT created, as a tuple-like Row ``(1,)``."""
        if self._inserted_primary_key is None:
            from minialchemy.exc import InvalidRequestError

            raise InvalidRequestError(
                "inserted_primary_key is only available after a single-row insert() "
                "(for several rows use insert().returning(table.c.id))"
            )
        return self._inserted_primary_key

    @property
    def inserted_primary_key_rows(self) -> list[Any]:
        """The primary key of every row an INSERT created, in parameter order."""
        if self._inserted_primary_key_rows is not None:
            return self._inserted_primary_key_rows
        return [self.inserted_primary_key]

    def _check_rows(self) -> None:
        if not self._returns_rows:
            raise ResourceClosedError(
                "This result object does not return rows. It has been closed automatically."
            )

    def all(self) -> list[Any]:
        self._check_rows()
        return super().all()

    def first(self) -> Any:
        self._check_rows()
        return super().first()

    def one(self) -> Any:
        self._check_rows()
        return super().one()


class ScalarResult(_Consumable):
    """Single values (the first column of each row): ``result.scalars().all()``."""

    def __init__(self, values: list[Any]) -> None:
        self._rows = values
        self._index = 0

    def unique(self) -> "ScalarResult":
        """Drop duplicate values (ORM objects by identity)."""
        self._keep_unique(lambda value: (value,))
        return self

    def __repr__(self) -> str:
        return f"<ScalarResult rows={len(self._rows) - self._index}>"


class MappingResult(_Consumable):
    """Rows as dictionaries: ``result.mappings().all()``."""

    def __init__(self, rows: list[RowMapping]) -> None:
        self._rows = rows
        self._index = 0

    def unique(self) -> "MappingResult":
        """Drop duplicate rows (compared by their values)."""
        self._keep_unique(lambda mapping: tuple(mapping.values()))
        return self

    def columns(self, *keys: str) -> "MappingResult":
        """Mappings holding only the given keys."""
        rows = self._take_all()
        for key in keys:
            if rows and key not in rows[0]:
                raise NoSuchColumnError(f"Could not locate column in row for column {key!r}")
        return MappingResult([RowMapping((key, row[key]) for key in keys) for row in rows])
