"""``insert()``, ``update()``, ``delete()``: the statements that change rows.

Like ``select()`` they are generative.  The target may be a ``Table`` or a mapped class: the
ORM recognises ``update(User)`` and runs it as an "ORM-enabled UPDATE" that also synchronizes
the objects in the session (see :mod:`minialchemy.orm.bulk`).

Where it sits: built by users and by the ORM's flush (:mod:`minialchemy.orm.persistence`);
rendered by :mod:`minialchemy.sql.compiler`.
"""

from __future__ import annotations

from minialchemy.exc import ArgumentError
from minialchemy.sql.elements import ColumnElement, and_, coerce_expression
from minialchemy.sql.schema import Column, Table
from minialchemy.sql.selectable import Executable, entity_table, table_of

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any

__all__ = ["Insert", "Update", "Delete", "insert", "update", "delete"]


class _DMLBase(Executable):
    def __init__(self, target: Any) -> None:
        self.entity = target
        self.table: Table = table_of(target)
        self._values: dict[str, Any] = {}
        self._multi_values: list[dict[str, Any]] = []
        self._returning: list[Any] = []
        self._execution_options = {}

    def _column_for_key(self, key: Any) -> Column:
        """A values() key: a column key, a Column, or an ORM attribute."""
        if isinstance(key, Column):
            return key
        if hasattr(key, "__clause_element__"):
            return key.__clause_element__()
        column = self.table.c.get(key)
        if self.entity is not self.table and isinstance(key, str):
            # update(Order).values(choice=...): an attribute name of a mapped class, whose
            # column may be named differently (mapped_column("select")); the class attribute
            # knows its column (__clause_element__), the SQL layer need not know the mapper
            attribute = getattr(self.entity, key, None)
            clause = getattr(attribute, "__clause_element__", None)
            if clause is not None:
                candidate = clause()
                if isinstance(candidate, Column) and candidate.table is self.table:
                    column = candidate
        if column is None:
            for candidate in self.table.columns:  # the database name also works
                if candidate.name == key:
                    return candidate
            raise ArgumentError(
                f"Unconsumed column names: {key} (table {self.table.name!r} has "
                f"{', '.join(self.table.c.keys())})"
            )
        return column

    def values(self, *args: Any, **kwargs: Any) -> Any:
        """Column values: ``values(name="x")``, ``values({"name": "x"})`` or, for INSERT, a list
        of dicts rendered as one multi-row ``VALUES``."""
        new = self._generate()
        if args and isinstance(args[0], (list, tuple)) and args[0] and isinstance(args[0][0], dict):
            new._multi_values = [
                {self._column_for_key(k).key: v for k, v in row.items()} for row in args[0]
            ]
            return new
        for arg in args:
            if not isinstance(arg, dict):
                raise ArgumentError(f"values() takes keyword arguments or a dict, not {arg!r}")
            for key, value in arg.items():
                new._values[self._column_for_key(key).key] = value
        for key, value in kwargs.items():
            new._values[self._column_for_key(key).key] = value
        return new

    def returning(self, *columns: Any) -> Any:
        """``RETURNING columns`` (SQLite >= 3.35); the result then has rows."""
        new = self._generate()
        for column in columns:
            if isinstance(column, Table) or entity_table(column) is not None:
                new._returning.extend(table_of(column).columns)
            else:
                new._returning.append(coerce_expression(column))
        return new


class Insert(_DMLBase):
    """``INSERT INTO table (columns) VALUES (...)``."""

    __visit_name__ = "insert"


class _WhereMixin:
    _where: list[ColumnElement]

    def where(self, *criteria: Any) -> Any:
        """Add WHERE criteria, joined with AND."""
        new = self._generate()  # type: ignore[attr-defined]
        new._where.extend(coerce_expression(c) for c in criteria)
        return new

    filter = where

    def filter_by(self, **kwargs: Any) -> Any:
        """Equality criteria by column key."""
        return self.where(*[self._column_for_key(k) == v for k, v in kwargs.items()])  # type: ignore[attr-defined]

    @property
    def whereclause(self) -> ColumnElement | None:
        if not self._where:
            return None
        return self._where[0] if len(self._where) == 1 else and_(*self._where)


class Update(_WhereMixin, _DMLBase):
    """``UPDATE table SET col=? ... WHERE ...``."""

    __visit_name__ = "update"

    def __init__(self, target: Any) -> None:
        super().__init__(target)
        self._where = []


class Delete(_WhereMixin, _DMLBase):
    """``DELETE FROM table WHERE ...``."""

    __visit_name__ = "delete"

    def __init__(self, target: Any) -> None:
        super().__init__(target)
        self._where = []


def insert(table: Any) -> Insert:
    """An INSERT into ``table`` (a Table or a mapped class)."""
    return Insert(table)


def update(table: Any) -> Update:
    """An UPDATE of ``table`` (a Table or a mapped class)."""
    return Update(table)


def delete(table: Any) -> Delete:
    """A DELETE from ``table`` (a Table or a mapped class)."""
    return Delete(table)
