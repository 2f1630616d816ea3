"""Database schema as Python objects: ``MetaData``, ``Table``, ``Column``, ``ForeignKey``.

A :class:`Table` is a named list of :class:`Column` objects; a :class:`MetaData` is the
collection of tables that ``create_all`` creates (parents before children, following foreign
keys) and ``drop_all`` drops (children first).  Columns are also expressions: ``table.c.name ==
"x"`` builds a comparison (see :mod:`minialchemy.sql.elements`).

Where it sits: the ORM's mapper reads these objects to know what a class maps to; the compiler
writes ``CREATE TABLE`` and DML from them.
"""

from __future__ import annotations

from minialchemy.exc import ArgumentError, NoReferencedTableError
from minialchemy.sql import types as sqltypes
from minialchemy.sql.elements import ColumnElement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Iterable, Iterator

__all__ = ["MetaData", "Table", "Column", "ForeignKey", "ColumnCollection", "PrimaryKeyConstraint"]


class ColumnCollection:
    """``table.c``: columns by key, as attributes (``table.c.name``) or items (``table.c["name"]``),
    iterated in table order."""

    __slots__ = ("_columns",)

    def __init__(self, columns: Iterable["Column"] = ()) -> None:
        object.__setattr__(self, "_columns", {})
        for column in columns:
            self._columns[column.key] = column

    def _add(self, column: "Column") -> None:
        self._columns[column.key] = column

    def __getattr__(self, key: str) -> "Column":
        try:
            return self._columns[key]
        except KeyError:
            raise AttributeError(
                f"no column {key!r}; columns are {', '.join(self._columns) or '(none)'}"
            ) from None

    def __getitem__(self, key: str | int) -> "Column":
        if isinstance(key, int):
            return list(self._columns.values())[key]
        return self._columns[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._columns.get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, Column):
            return any(c is key for c in self._columns.values())
        return key in self._columns

    def __iter__(self) -> Iterator["Column"]:
        return iter(list(self._columns.values()))

    def __len__(self) -> int:
        return len(self._columns)

    def keys(self) -> list[str]:
        return list(self._columns)

    def values(self) -> list["Column"]:
        return list(self._columns.values())

    def items(self) -> list[tuple[str, "Column"]]:
        return list(self._columns.items())

    def __repr__(self) -> str:
        return f"ColumnCollection({', '.join(str(c) for c in self._columns.values())})"


class ForeignKey:
    """``ForeignKey("user_account.id")``: this column refers to that table's column.

    ``ondelete`` / ``onupdate`` are written into the DDL as ``ON DELETE CASCADE`` and so on;
    they must be SQL keywords (``"CASCADE"``, ``"SET NULL"``): ``CREATE TABLE`` refuses
    anything else with :class:`~minialchemy.exc.CompileError`.
    """

    def __init__(
        self, target: "str | Column", ondelete: str | None = None, onupdate: str | None = None
    ) -> None:
        self._target = target
        self.ondelete = ondelete
        self.onupdate = onupdate
        self.parent: Column | None = None

    def copy(self) -> "ForeignKey":
        """An unattached copy with the same target and options."""
        return ForeignKey(self._target, ondelete=self.ondelete, onupdate=self.onupdate)

    @property
    def target_fullname(self) -> str:
        if isinstance(self._target, Column):
            return f"{self._target.table.name}.{self._target.name}"
        return self._target

    @property
    def column(self) -> "Column":
        """The referenced column, looked up in the parent table's MetaData on first use."""
        if isinstance(self._target, Column):
            return self._target
        table_name, _, column_name = self._target.rpartition(".")
        table = self.parent.table if self.parent is not None else None
        metadata = table.metadata if table is not None else None
        if metadata is None or table_name not in metadata.tables:
            raise NoReferencedTableError(
                f"Foreign key {self._target!r} on column {self.parent} refers to table "
                f"{table_name!r}, which this MetaData does not hold (define that table first, or "
                f"check the spelling)"
            )
        target_table = metadata.tables[table_name]
        for column in target_table.columns:
            if column.name == column_name:
                return column
        raise NoReferencedTableError(
            f"Foreign key {self._target!r}: table {table_name!r} has no column {column_name!r}"
        )

    def references(self, table: "Table") -> bool:
        """True if this key points at ``table``."""
        return self.target_fullname.rpartition(".")[0] == table.name

    def __repr__(self) -> str:
        return f"ForeignKey({self.target_fullname!r})"


def _takes_an_argument(function: Any) -> bool:
    """True when ``function`` needs one positional argument (a default written as
    ``lambda context: ...``); decided from its signature, never by calling it."""
    import inspect

    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: call it with nothing
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in parameters
    )


class Column(ColumnElement):
    """A table column; also a SQL expression (``column == value``).

    ``Column(name, type, ForeignKey(...), primary_key=, nullable=, unique=, default=, key=)``.
    ``nullable`` defaults to the opposite of ``primary_key``.  ``default`` is a Python value or
    a zero-argument callable used when an INSERT gives no value.  ``key`` is the name used in
    ``table.c`` and in parameter dictionaries (the ORM sets it to the attribute name).
    """

    __visit_name__ = "column"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        args_list = list(args)
        name = args_list.pop(0) if args_list and isinstance(args_list[0], str) else None
        type_: Any = None
        foreign_keys: list[ForeignKey] = []
        for arg in args_list:
            if isinstance(arg, ForeignKey):
                foreign_keys.append(arg)
            elif isinstance(arg, sqltypes.TypeEngine) or (
                isinstance(arg, type) and issubclass(arg, sqltypes.TypeEngine)
            ):
                type_ = arg
            else:
                raise ArgumentError(f"Column() got an unexpected positional argument {arg!r}")
        self.name: str | None = name
        self.key = kwargs.pop("key", None) or name
        self.primary_key: bool = kwargs.pop("primary_key", False)
        nullable = kwargs.pop("nullable", None)
        self.nullable: bool = (not self.primary_key) if nullable is None else nullable
        self.unique: bool = kwargs.pop("unique", False) or False
        self.index: bool = kwargs.pop("index", False) or False
        self.default: Any = kwargs.pop("default", None)
        self.server_default: Any = kwargs.pop("server_default", None)
        self.autoincrement: Any = kwargs.pop("autoincrement", "auto")
        self.comment = kwargs.pop("comment", None)
        if kwargs:
            raise ArgumentError(f"Column() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        self._type = sqltypes.to_instance(type_) if type_ is not None else None
        self.foreign_keys: list[ForeignKey] = []
        for fk in foreign_keys:
            fk.parent = self
            self.foreign_keys.append(fk)
        self.table: Table | None = None

    @property
    def type(self) -> sqltypes.TypeEngine:  # type: ignore[override]
        """The column's type; a column given only a ForeignKey takes the referenced column's type."""
        if self._type is None:
            if self.foreign_keys:
                try:
                    return self.foreign_keys[0].column.type
                except NoReferencedTableError:
                    return sqltypes.NULLTYPE
            return sqltypes.NULLTYPE
        return self._type

    @type.setter
    def type(self, value: Any) -> None:
        self._type = sqltypes.to_instance(value)

    @property
    def has_default(self) -> bool:
        return self.default is not None

    def default_value(self) -> Any:
        """The Python-side default for an INSERT that gives no value (callables are called:
        with no argument, or with ``None`` in place of SQLAlchemy's execution context when
        they take one).  What a callable raises propagates; the statement wraps it in
        :class:`~minialchemy.exc.StatementError`."""
        default = self.default
        if callable(default):
            if _takes_an_argument(default):
                return default(None)
            return default()
        return default

    @property
    def is_autoincrement_pk(self) -> bool:
        """True for the single ``INTEGER`` primary key of a table: SQLite's rowid alias, whose
        value the database assigns when an INSERT gives NULL."""
        table = self.table
        if table is None or not self.primary_key or self.autoincrement is False:
            return False
        pk = table.primary_key.columns
        return len(pk) == 1 and isinstance(self.type, sqltypes.Integer) and self.default is None

    def _bind_name_hint(self) -> str:
        return self.key or "param"

    def _set_parent(self, table: "Table") -> None:
        if self.table is not None and self.table is not table:
            raise ArgumentError(f"Column {self.name!r} already belongs to table {self.table.name!r}")
        if self.name is None:
            raise ArgumentError(f"A Column added to table {table.name!r} needs a name")
        self.table = table

    def copy(self) -> "Column":
        """An unattached copy (used when one declaration serves several tables)."""
        return Column(
            self.name,
            *([self._type] if self._type is not None else []),
            *[fk.copy() for fk in self.foreign_keys],
            key=self.key,
            primary_key=self.primary_key,
            nullable=self.nullable,
            unique=self.unique,
            index=self.index,
            default=self.default,
            server_default=self.server_default,
            autoincrement=self.autoincrement,
        )

    def __repr__(self) -> str:
        parts = [repr(self.name), repr(self.type)]
        if self.table is not None:
            parts.append(f"table=<{self.table.name}>")
        if self.primary_key:
            parts.append("primary_key=True")
        if not self.nullable:
            parts.append("nullable=False")
        return f"Column({', '.join(parts)})"

    def __str__(self) -> str:
        if self.table is not None:
            return f"{self.table.name}.{self.name}"
        return str(self.name)

    __hash__ = ColumnElement.__hash__


class PrimaryKeyConstraint:
    """The table's primary key; iterates over its columns."""

    def __init__(self, columns: Iterable[Column] = ()) -> None:
        self.columns = ColumnCollection(columns)

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __contains__(self, column: object) -> bool:
        return column in self.columns

    def __repr__(self) -> str:
        return f"PrimaryKeyConstraint({', '.join(repr(c.name) for c in self.columns)})"


class UniqueConstraint:
    """``UNIQUE (a, b)`` over several columns, given by name."""

    def __init__(self, *column_names: str, name: str | None = None) -> None:
        self.column_names = list(column_names)
        self.name = name


class Table:
    """A named table: ``Table("user_account", metadata, Column(...), ...)``."""

    __visit_name__ = "table"

    def __init__(self, name: str, metadata: "MetaData", *items: Any, **kwargs: Any) -> None:
        if not isinstance(metadata, MetaData):
            raise ArgumentError(f"Table({name!r}, ...) needs a MetaData as its second argument")
        self.name = name
        self.fullname = name
        self.metadata = metadata
        self.comment = kwargs.pop("comment", None)
        if kwargs:
            raise ArgumentError(f"Table() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        self.columns = ColumnCollection()
        self.c = self.columns
        self.constraints: list[Any] = []
        self.primary_key = PrimaryKeyConstraint()
        for item in items:
            self.append_item(item)
        metadata._add_table(self)

    def append_item(self, item: Any) -> None:
        """Add a Column or a constraint."""
        if isinstance(item, Column):
            self.append_column(item)
        elif isinstance(item, (UniqueConstraint, PrimaryKeyConstraint)):
            if isinstance(item, PrimaryKeyConstraint):
                self.primary_key = item
            else:
                self.constraints.append(item)
        else:
            raise ArgumentError(f"Table {self.name!r} cannot hold {item!r}")

    def append_column(self, column: Column) -> None:
        """Attach a column at the end of the table."""
        column._set_parent(self)
        self.columns._add(column)
        if column.primary_key:
            self.primary_key.columns._add(column)

    @property
    def foreign_keys(self) -> list[ForeignKey]:
        return [fk for column in self.columns for fk in column.foreign_keys]

    def referenced_tables(self) -> list["Table"]:
        """Tables this one refers to by foreign key (itself excluded)."""
        found: list[Table] = []
        for fk in self.foreign_keys:
            target = fk.column.table
            if target is not None and target is not self and target not in found:
                found.append(target)
        return found

    def insert(self) -> Any:
        from minialchemy.sql.dml import insert

        return insert(self)

    def update(self) -> Any:
        from minialchemy.sql.dml import update

        return update(self)

    def delete(self) -> Any:
        from minialchemy.sql.dml import delete

        return delete(self)

    def select(self) -> Any:
        from minialchemy.sql.selectable import select

        return select(self)

    def alias(self, name: str | None = None) -> Any:
        """This table under another name (``AS name``), to read it twice in one SELECT."""
        from minialchemy.sql.selectable import Alias

        return Alias(self, name)

    def join(self, right: Any, onclause: Any = None, isouter: bool = False, full: bool = False) -> Any:
        """``self JOIN right ON onclause`` (from the foreign key when omitted)."""
        from minialchemy.sql.selectable import Join

        return Join(self, right, onclause, isouter=isouter, full=full)

    def outerjoin(self, right: Any, onclause: Any = None, full: bool = False) -> Any:
        """``self LEFT OUTER JOIN right ON onclause``."""
        from minialchemy.sql.selectable import Join

        return Join(self, right, onclause, isouter=True, full=full)

    def corresponding_column(self, column: Any) -> Any:
        """This table's column standing for ``column`` (itself, or the column an alias proxies)."""
        from minialchemy.sql.selectable import corresponding_column

        return corresponding_column(self, column)

    def __repr__(self) -> str:
        cols = ", ".join(repr(c) for c in self.columns)
        return f"Table({self.name!r}, MetaData(), {cols})"

    def __str__(self) -> str:
        return self.name


class MetaData:
    """A collection of tables that are created and dropped together."""

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}

    def _add_table(self, table: Table) -> None:
        if table.name in self.tables:
            raise ArgumentError(
                f"Table {table.name!r} is already defined for this MetaData instance"
            )
        self.tables[table.name] = table

    @property
    def sorted_tables(self) -> list[Table]:
        """Tables with every referenced table before the tables that refer to it."""
        ordered: list[Table] = []
        visiting: set[str] = set()

        def visit(table: Table) -> None:
            if table in ordered or table.name in visiting:
                return  # a cycle is left in definition order
            visiting.add(table.name)
            for parent in table.referenced_tables():
                visit(parent)
            visiting.discard(table.name)
            ordered.append(table)

        for table in self.tables.values():
            visit(table)
        return ordered

    def create_all(self, bind: Any, checkfirst: bool = True) -> None:
        """Emit ``CREATE TABLE`` for each table that does not exist yet, parents first."""
        from minialchemy.sql.compiler import ddl_create_table

        with bind.begin() as conn:
            for table in self.sorted_tables:
                if checkfirst and conn.dialect.has_table(conn, table.name):
                    continue
                conn.exec_driver_sql(ddl_create_table(table), execution_options={"cause": "create_all"})

    def drop_all(self, bind: Any, checkfirst: bool = True) -> None:
        """Emit ``DROP TABLE`` for each existing table, children first."""
        from minialchemy.sql.compiler import ddl_drop_table

        with bind.begin() as conn:
            for table in reversed(self.sorted_tables):
                if checkfirst and not conn.dialect.has_table(conn, table.name):
                    continue
                conn.exec_driver_sql(ddl_drop_table(table), execution_options={"cause": "drop_all"})

    def clear(self) -> None:
        self.tables.clear()

    def __repr__(self) -> str:
        return "MetaData()"

