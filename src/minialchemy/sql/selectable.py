"""``select()``: the SELECT statement, built step by step.

Statements are *generative*: ``stmt.where(...)`` returns a new statement and leaves ``stmt`` as
it was, so a base query can be shared and refined.  ``select(User)`` keeps ``User`` itself in
``_raw_columns``; the compiler expands it to the table's columns, and the ORM reads the same list
to know that rows must become ``User`` objects.

Where it sits: built by users and by the ORM (lazy loads, ``Session.get``); rendered by
:mod:`minialchemy.sql.compiler`.
"""

from __future__ import annotations

from typing import Any

from minialchemy.exc import ArgumentError, InvalidRequestError
from minialchemy.inspection import inspect
from minialchemy.sql.elements import (
    ClauseElement,
    ColumnElement,
    and_,
    coerce_expression,
)
from minialchemy.sql.schema import Table

__all__ = ["Select", "select", "Executable", "table_of", "entity_table"]


class Executable(ClauseElement):
    """A statement that can be executed; carries execution options (e.g. ``synchronize_session``)."""

    _execution_options: dict[str, Any] = {}

    def _generate(self) -> Any:
        new = self.__class__.__new__(self.__class__)
        new.__dict__ = {
            key: (list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value)
            for key, value in self.__dict__.items()
        }
        return new

    def execution_options(self, **options: Any) -> Any:
        """A copy of this statement with extra options, e.g.
        ``update(User).execution_options(synchronize_session="fetch")``."""
        new = self._generate()
        new._execution_options = {**self._execution_options, **options}
        return new

    def get_execution_options(self) -> dict[str, Any]:
        return dict(self._execution_options)


def table_of(obj: Any) -> Table:
    """The table a FROM/DML target stands for: a Table, or a mapped class (see
    :func:`entity_table`)."""
    if isinstance(obj, Table):
        return obj
    table = entity_table(obj)
    if table is not None:
        return table
    raise ArgumentError(f"{obj!r} is not a Table or a mapped class")


def entity_table(obj: Any) -> Table | None:
    """The table of an entity such as a mapped class, or None.

    The SQL layer knows nothing of mappers: it inspects ``obj`` (:func:`minialchemy.inspection.inspect`,
    where the ORM registered mapped classes) and asks the answer for its clause element."""
    if not isinstance(obj, type):
        return None
    found = inspect(obj, raiseerr=False)
    clause = getattr(found, "__clause_element__", None)
    if clause is None:
        return None
    table = clause()
    return table if isinstance(table, Table) else None


def _is_entity(obj: Any) -> bool:
    return isinstance(obj, Table) or entity_table(obj) is not None


class Select(Executable):
    """``SELECT columns FROM tables WHERE ... ORDER BY ... LIMIT ... OFFSET ...``."""

    __visit_name__ = "select"

    def __init__(self, *entities: Any) -> None:
        if len(entities) == 1 and isinstance(entities[0], (list, tuple)):
            entities = tuple(entities[0])  # select([a, b]) (1.x style) is accepted too
        self._raw_columns: list[Any] = [e if _is_entity(e) else coerce_expression(e) for e in entities]
        self._where: list[ColumnElement] = []
        self._order_by: list[ColumnElement] = []
        self._group_by: list[ColumnElement] = []
        self._having: list[ColumnElement] = []
        self._from: list[Table] = []
        self._limit: int | None = None
        self._offset: int | None = None
        self._distinct = False
        self._execution_options = {}

    # -- the generative methods -------------------------------------------------------------

    def where(self, *criteria: Any) -> "Select":
        """Add WHERE criteria; several calls are joined with AND."""
        new = self._generate()
        new._where.extend(coerce_expression(c) for c in criteria)
        return new

    filter = where

    def filter_by(self, **kwargs: Any) -> "Select":
        """``filter_by(name="sandy")``: equality on columns of the last entity selected from."""
        entity = self._filter_by_entity()
        table = table_of(entity)
        criteria = []
        for key, value in kwargs.items():
            column = _attribute_or_column(entity, table, key)
            criteria.append(column == value)
        return self.where(*criteria)

    def _filter_by_entity(self) -> Any:
        for item in reversed(self._from + self._raw_columns):
            if _is_entity(item):
                return item
            table = getattr(item, "table", None)
            if isinstance(table, Table):
                return table
        raise InvalidRequestError("filter_by() needs a table or mapped class to select from")

    def order_by(self, *clauses: Any) -> "Select":
        """Add ORDER BY terms (``col``, ``col.desc()``, ``desc(col)``); ``order_by(None)`` clears."""
        new = self._generate()
        if len(clauses) == 1 and clauses[0] is None:
            new._order_by = []
        else:
            new._order_by.extend(coerce_expression(c) for c in clauses)
        return new

    def group_by(self, *clauses: Any) -> "Select":
        """Add GROUP BY terms."""
        new = self._generate()
        new._group_by.extend(coerce_expression(c) for c in clauses)
        return new

    def having(self, *criteria: Any) -> "Select":
        """Add HAVING criteria."""
        new = self._generate()
        new._having.extend(coerce_expression(c) for c in criteria)
        return new

    def limit(self, limit: int | None) -> "Select":
        """``LIMIT n`` (a bound parameter)."""
        new = self._generate()
        new._limit = None if limit is None else int(limit)
        return new

    def offset(self, offset: int | None) -> "Select":
        """``OFFSET n`` (a bound parameter)."""
        new = self._generate()
        new._offset = None if offset is None else int(offset)
        return new

    def distinct(self) -> "Select":
        """``SELECT DISTINCT``."""
        new = self._generate()
        new._distinct = True
        return new

    def select_from(self, *froms: Any) -> "Select":
        """Name FROM tables explicitly (``select(func.count()).select_from(user_table)``)."""
        new = self._generate()
        new._from.extend(table_of(f) for f in froms)
        return new

    def add_columns(self, *columns: Any) -> "Select":
        """Select more columns or entities."""
        new = self._generate()
        new._raw_columns.extend(c if _is_entity(c) else coerce_expression(c) for c in columns)
        return new

    @property
    def whereclause(self) -> ColumnElement | None:
        """All WHERE criteria joined by AND, or None."""
        if not self._where:
            return None
        if len(self._where) == 1:
            return self._where[0]
        return and_(*self._where)

    @property
    def column_descriptions(self) -> list[dict[str, Any]]:
        """What each selected item is: ``[{"name": "User", "entity": User, ...}]``."""
        out = []
        for item in self._raw_columns:
            if _is_entity(item):
                name = item.name if isinstance(item, Table) else item.__name__
                out.append({"name": name, "entity": item, "type": item})
            else:
                out.append({"name": getattr(item, "key", None), "entity": None, "type": item.type})
        return out


def _attribute_or_column(entity: Any, table: Table, key: str) -> Any:
    if not isinstance(entity, Table):
        attr = getattr(entity, key, None)
        if attr is not None and hasattr(attr, "__clause_element__"):
            return attr
    column = table.c.get(key)
    if column is None:
        raise InvalidRequestError(f"filter_by(): {table.name!r} has no column or attribute {key!r}")
    return column


def select(*entities: Any) -> Select:
    """``select(user_table)``, ``select(User)``, ``select(User.name, Address)``, ``select(func.count())``."""
    return Select(*entities)
