"""``select()`` and what a SELECT reads FROM: tables, aliases, joins, subqueries, CTEs.

Statements are *generative*: ``stmt.where(...)`` returns a new statement and leaves ``stmt`` as
it was, so a base query can be shared and refined.  ``select(User)`` keeps ``User`` itself in
``_raw_columns``; the compiler expands it to the table's columns, and the ORM reads the same list
to know that rows must become ``User`` objects.

The FROM side is a small tree (the Composite pattern): a :class:`~minialchemy.sql.schema.Table`,
an :class:`Alias` of it (``user_table.alias()``, for self-joins), a :class:`Join` of two FROMs with
an ON clause, a :class:`Subquery` or :class:`CTE` wrapping another SELECT.  Each has ``.c``, the
columns it offers; an alias's or subquery's columns are *proxies* that remember the column they
stand for (``_proxied``), which is how a join between a table and a subquery finds its foreign key.

A SELECT nested as a value (:class:`ScalarSelect`, :class:`Exists`, ``IN (SELECT ...)``) is
*correlated*: a table that the enclosing SELECT already reads FROM is left out of the inner FROM
list, so ``WHERE address.user_id = user_account.id`` inside it refers to the outer row.

Where it sits: built by users and by the ORM (lazy loads, ``Session.get``, relationship joins);
rendered by :mod:`minialchemy.sql.compiler`.  This module knows nothing of mappers: an ORM entity
stands for a FROM through :func:`from_clause_of` (a mapped class through ``inspect()``, where
the ORM registered it; any other object offers a FROM through ``__clause_element__()``), and a relationship joins through
the ``_join_target_and_onclause()`` hook described at :meth:`Select.join`.
"""

from __future__ import annotations

from minialchemy.exc import (
    AmbiguousForeignKeysError,
    ArgumentError,
    CompileError,
    InvalidRequestError,
    NoForeignKeysError,
)
from minialchemy.sql import types as sqltypes
from minialchemy.inspection import inspect
from minialchemy.sql.elements import (
    ClauseElement,
    ColumnElement,
    Function,
    Label,
    and_,
    coerce_expression,
    coerce_order_by,
)
from minialchemy.sql.schema import Column, ColumnCollection, PrimaryKeyConstraint, Table

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Iterable, Sequence

__all__ = [
    "Select",
    "select",
    "Executable",
    "table_of",
    "from_clause_of",
    "entity_table",
    "FromClause",
    "Alias",
    "Subquery",
    "CTE",
    "Join",
    "ScalarSelect",
    "Exists",
    "CompoundSelect",
    "exists",
    "union",
    "union_all",
    "intersect",
    "except_",
    "join",
    "outerjoin",
    "alias",
    "join_condition",
    "corresponding_column",
    "adapt_to_alias",
    "replacement_traverse",
]


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


# -- what stands for a FROM -------------------------------------------------------------------


def table_of(obj: Any) -> Table:
    """The table a DML target stands for: a Table, or a mapped class (see :func:`entity_table`)."""
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


def from_clause_of(obj: Any) -> "Table | FromClause | None":
    """The FROM that ``obj`` stands for, or None when it is not one.

    A Table or FromClause is itself; a mapped class stands for its table (:func:`entity_table`);
    any other object may offer one through ``__clause_element__()`` (an ORM alias of a class
    does).  This is the one place the SQL layer recognises entities, so it never needs to import
    the ORM.
    """
    if isinstance(obj, (Table, FromClause)):
        return obj
    if isinstance(obj, type):
        return entity_table(obj)
    clause_element = getattr(obj, "__clause_element__", None)
    if clause_element is not None:
        clause = clause_element()
        if isinstance(clause, (Table, FromClause)):
            return clause
    return None


def _require_from(obj: Any, role: str) -> "Table | FromClause":
    found = from_clause_of(obj)
    if found is None:
        if hasattr(obj, "scalar_subquery"):
            raise ArgumentError(
                f"{role} takes a table, an entity or a subquery, not a SELECT statement "
                f"(call .subquery() on it first)"
            )
        raise ArgumentError(f"{role} takes a table, a mapped class, an alias or a subquery, not {obj!r}")
    return found


def _is_entity(obj: Any) -> bool:
    return from_clause_of(obj) is not None


def _columns_of(from_: Any) -> Sequence[Any]:
    return list(from_.columns)


def _description(from_: Any) -> str:
    """How an error message names a FROM: ``'user_account'``, ``'user_account AS boss'``."""
    if isinstance(from_, Join):
        return f"{_description(from_.left)} JOIN {_description(from_.right)}"
    if isinstance(from_, Alias) and not isinstance(from_, Subquery):
        base = _description(from_.element)
        return f"{base} AS {from_.name}" if not from_._anonymous else f"an alias of {base}"
    if isinstance(from_, Subquery):
        return f"subquery {from_.name!r}" if not from_._anonymous else "an anonymous subquery"
    return repr(getattr(from_, "name", from_))


def _description_of_target(target: Any, from_: Any) -> str:
    """A join target as the user wrote it: ``Address (table 'address')`` for a mapped class."""
    if isinstance(target, type):
        return f"{target.__name__} (table {_description(from_)})"
    return _description(from_)


def _lineage(column: Any) -> Iterable[Any]:
    """The column and every column it stands for (an alias's column, then the table's)."""
    while column is not None:
        yield column
        column = getattr(column, "_proxied", None)


def corresponding_column(from_: Any, column: Any) -> Any:
    """The column of ``from_`` that stands for ``column`` (the same column, or a proxy of it), or None."""
    if isinstance(from_, Join):
        found = corresponding_column(from_.left, column)
        return found if found is not None else corresponding_column(from_.right, column)
    for candidate in from_.columns:
        if candidate is column or any(ancestor is column for ancestor in _lineage(candidate)):
            return candidate
    return None


def _covered_froms(from_: Any) -> list[Any]:
    """``from_`` and every FROM inside it (a Join hides the tables it joins from the FROM list)."""
    if isinstance(from_, Join):
        return [from_, *_covered_froms(from_.left), *_covered_froms(from_.right)]
    return [from_]


def _froms_in(element: Any, found: list[Any]) -> None:
    """Collect the FROMs an expression reads (the tables of its columns), in order of appearance.

    A nested SELECT (scalar subquery, EXISTS, IN (SELECT)) is a boundary: its tables are its own."""
    if isinstance(element, Column):
        table = element.table
        if table is not None and table not in found:
            found.append(table)
        return
    from_ = from_clause_of(element) if not isinstance(element, ColumnElement) else None
    if from_ is not None:
        if from_ not in found:
            found.append(from_)
        return
    if getattr(element, "_is_select_boundary", False):
        return
    for child in element.get_children():
        _froms_in(child, found)


# -- FROM clauses ---------------------------------------------------------------------------------


class FromClause(ClauseElement):
    """Something a SELECT reads FROM, offering columns as ``.c``: an alias, a join, a subquery.

    (A :class:`~minialchemy.sql.schema.Table` offers the same ``.c``, ``alias()``, ``join()``.)"""

    __visit_name__ = "fromclause"
    name: str = ""
    columns: ColumnCollection

    @property
    def c(self) -> ColumnCollection:
        """The columns, by key: ``subq.c.user_id``."""
        return self.columns

    @property
    def foreign_keys(self) -> list[Any]:
        return [fk for column in self.columns for fk in column.foreign_keys]

    def alias(self, name: str | None = None) -> "Alias":
        """A renamed copy to read FROM (``AS name``; anonymous names are numbered when compiled)."""
        return Alias(self, name)

    def join(self, right: Any, onclause: Any = None, isouter: bool = False, full: bool = False) -> "Join":
        """``self JOIN right ON onclause`` (the ON clause found from the foreign key when omitted)."""
        return Join(self, right, onclause, isouter=isouter, full=full)

    def outerjoin(self, right: Any, onclause: Any = None, full: bool = False) -> "Join":
        """``self LEFT OUTER JOIN right ON ...``."""
        return Join(self, right, onclause, isouter=True, full=full)

    def select(self) -> "Select":
        """``SELECT`` every column of this FROM."""
        return Select(self)

    def corresponding_column(self, column: Any) -> Any:
        """This FROM's column standing for ``column``, or None."""
        return corresponding_column(self, column)


def _make_proxy(parent: "FromClause", element: Any, name: str, key: str) -> Column:
    """A column of ``parent`` standing for ``element`` (a column of the aliased table, or an
    expression of the subquery's SELECT): same type, same foreign keys, its own table."""
    proxy = Column(name, key=key)
    proxy.type = element.type
    proxy.primary_key = bool(getattr(element, "primary_key", False))
    proxy.nullable = getattr(element, "nullable", True)
    proxy.foreign_keys = list(getattr(element, "foreign_keys", ()))
    proxy.table = parent  # type: ignore[assignment]
    proxy._proxied = element  # type: ignore[attr-defined]
    return proxy


class Alias(FromClause):
    """``user_account AS boss``: the same table read a second time under another name.

    ``user_table.alias("boss")`` or ``user_table.alias()`` (anonymous: ``user_account_1`` when
    compiled).  Its columns (``boss.c.name``) render as ``boss.name``."""

    __visit_name__ = "alias"

    def __init__(self, element: Any, name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise ArgumentError(f"An alias name must be a string, not {name!r}")
        self.element = element
        self._anonymous = name is None
        self.name = name if name is not None else getattr(element, "name", None) or "anon"
        self.columns = ColumnCollection()
        self.primary_key = PrimaryKeyConstraint()
        for column in element.columns:
            self._add_proxy(_make_proxy(self, column, column.name, column.key))

    def _add_proxy(self, proxy: Column) -> None:
        self.columns._add(proxy)
        if proxy.primary_key:
            self.primary_key.columns._add(proxy)

    @property
    def original(self) -> Any:
        """The table this alias finally stands for."""
        element = self.element
        while isinstance(element, Alias) and not isinstance(element, Subquery):
            element = element.element
        return element

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} of {_description(self.element)}>"


class Subquery(Alias):
    """``(SELECT ...) AS anon_1``: a SELECT used as a FROM, from ``stmt.subquery()``.

    Its columns are named after the SELECT's columns (``subq.c.user_id``, a label's name)."""

    __visit_name__ = "subquery"

    def __init__(self, element: Any, name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise ArgumentError(f"A subquery name must be a string, not {name!r}")
        self.element = element
        self._anonymous = name is None
        self.name = name if name is not None else "anon"
        self.columns = ColumnCollection()
        self.primary_key = PrimaryKeyConstraint()
        for expression, key, column_name, _ in element._selected_names():
            self._add_proxy(_make_proxy(self, expression, column_name, key))


class CTE(Subquery):
    """``WITH name AS (SELECT ...)``: a named SELECT placed before the statement that reads it.

    From ``stmt.cte("name")``; read like a table (``cte.c.total``).  ``recursive=True`` with
    ``cte.union_all(select(...))`` builds ``WITH RECURSIVE``."""

    __visit_name__ = "cte"

    def __init__(self, element: Any, name: str | None = None, recursive: bool = False, _same_as: "CTE | None" = None) -> None:
        super().__init__(element, name)
        self.recursive = recursive
        #: what identifies this CTE in a statement: a recursive CTE and its ``union_all`` share it
        self._cte_key: Any = _same_as._cte_key if _same_as is not None else self

    def union(self, *others: Any) -> "CTE":
        """The recursive form: this CTE's SELECT ``UNION`` ``others`` (which may read this CTE)."""
        return self._compound("UNION", others)

    def union_all(self, *others: Any) -> "CTE":
        """The recursive form: this CTE's SELECT ``UNION ALL`` ``others``."""
        return self._compound("UNION ALL", others)

    def _compound(self, keyword: str, others: Sequence[Any]) -> "CTE":
        compound = CompoundSelect(keyword, [self.element, *others])
        return CTE(compound, None if self._anonymous else self.name, recursive=self.recursive, _same_as=self)


class Join(FromClause):
    """``left JOIN right ON onclause`` (``LEFT OUTER JOIN`` with ``isouter``, ``FULL OUTER`` with
    ``full``).  Without an ON clause, the one foreign key between the two sides gives it."""

    __visit_name__ = "join"

    def __init__(self, left: Any, right: Any, onclause: Any = None, isouter: bool = False, full: bool = False) -> None:
        self.left = _require_from(left, "join()")
        self.right = _require_from(right, "join()")
        if onclause is None:
            onclause = join_condition(self.left, self.right)
        self.onclause = coerce_expression(onclause)
        self.isouter = isouter
        self.full = full
        self.columns = ColumnCollection()
        for side in (self.left, self.right):
            for column in side.columns:
                owner = getattr(column, "table", None)
                prefix = getattr(owner, "name", None)
                self.columns._columns[f"{prefix}_{column.key}" if prefix else column.key] = column

    def get_children(self) -> Iterable[ClauseElement]:
        return (self.onclause,)

    def __repr__(self) -> str:
        return f"<Join {_description(self)}>"


def join(left: Any, right: Any, onclause: Any = None, isouter: bool = False, full: bool = False) -> Join:
    """``join(user_table, address_table)``: a JOIN to read FROM (``select(...).select_from(j)``)."""
    return Join(left, right, onclause, isouter=isouter, full=full)


def outerjoin(left: Any, right: Any, onclause: Any = None, full: bool = False) -> Join:
    """``left LEFT OUTER JOIN right``."""
    return Join(left, right, onclause, isouter=True, full=full)


def alias(selectable: Any, name: str | None = None) -> Alias:
    """``alias(user_table, "boss")``: the same as ``user_table.alias("boss")``."""
    return Alias(_require_from(selectable, "alias()"), name)


def _foreign_key_pairs(a: Any, b: Any) -> list[tuple[Any, Any, Any]]:
    """(referenced column, referencing column, foreign key) linking ``a`` and ``b``: first
    ``b``'s foreign keys pointing into ``a``, then ``a``'s pointing into ``b``."""
    pairs: list[tuple[Any, Any, Any]] = []
    for referencing_side, referenced_side in ((b, a), (a, b)):
        for column in _columns_of(referencing_side):
            for fk in column.foreign_keys:
                try:
                    target = fk.column
                except Exception:  # a foreign key to a table not (yet) defined cannot link these two
                    continue
                referenced = corresponding_column(referenced_side, target)
                if referenced is not None and not any(p[0] is referenced and p[1] is column for p in pairs):
                    pairs.append((referenced, column, fk))
    return pairs


def join_condition(left: Any, right: Any) -> ColumnElement:
    """The ON clause of ``left JOIN right`` from their foreign keys.

    With a Join on the left, its most recently joined FROM is tried first.  No foreign key
    raises :class:`NoForeignKeysError`; several different ones raise
    :class:`AmbiguousForeignKeysError` (give the ON clause explicitly).  One foreign key seen
    from both sides (a table joined to its own alias) gives both comparisons, as SQLAlchemy does.
    """
    candidates = [left.right, left] if isinstance(left, Join) else [left]
    for candidate in candidates:
        pairs = _foreign_key_pairs(candidate, right)
        if not pairs:
            continue
        if len({id(fk) for _, _, fk in pairs}) > 1:
            raise AmbiguousForeignKeysError(
                f"Can't determine join between {_description(candidate)} and {_description(right)}; "
                f"tables have more than one foreign key constraint relationship between them. "
                f"Please specify the 'onclause' of this join explicitly."
            )
        comparisons = [referenced == referencing for referenced, referencing, _ in pairs]
        return comparisons[0] if len(comparisons) == 1 else and_(*comparisons)
    raise NoForeignKeysError(
        f"Can't find any foreign key relationships between {_description(left)} and {_description(right)}."
    )


def _can_join(left: Any, right: Any) -> bool:
    for candidate in _covered_froms(left):
        if isinstance(candidate, Join):
            continue
        if _foreign_key_pairs(candidate, right):
            return True
    return False


# -- SELECT ---------------------------------------------------------------------------------------


class _SelectBase(Executable):
    """What a SELECT and a UNION share: being used as a subquery, a CTE, a scalar, in EXISTS."""

    def order_by(self, *clauses: Any) -> Any:
        """Add ORDER BY terms (``col``, ``col.desc()``, ``desc(col)``, a label's name);
        ``order_by(None)`` clears.  On a UNION, columns are named as SQLite requires (``name``)."""
        new = self._generate()
        if len(clauses) == 1 and clauses[0] is None:
            new._order_by = []
        else:
            new._order_by.extend(coerce_order_by(c) for c in clauses)
        return new

    def limit(self, limit: int | None) -> Any:
        """``LIMIT n`` (a bound parameter)."""
        new = self._generate()
        new._limit = None if limit is None else int(limit)
        return new

    def offset(self, offset: int | None) -> Any:
        """``OFFSET n`` (a bound parameter)."""
        new = self._generate()
        new._offset = None if offset is None else int(offset)
        return new

    def subquery(self, name: str | None = None) -> Subquery:
        """This SELECT as a FROM: ``(SELECT ...) AS name``; its columns are ``.c``."""
        return Subquery(self, name)

    def alias(self, name: str | None = None) -> Subquery:
        """The same as :meth:`subquery`."""
        return self.subquery(name)

    def cte(self, name: str | None = None, recursive: bool = False) -> CTE:
        """This SELECT as a common table expression: ``WITH name AS (SELECT ...)``."""
        return CTE(self, name, recursive=recursive)

    def scalar_subquery(self) -> "ScalarSelect":
        """This SELECT as a single value: ``(SELECT max(...) FROM ...)``, usable in a WHERE or a
        columns clause; correlated to the enclosing SELECT."""
        return ScalarSelect(self)

    def label(self, name: str) -> Label:
        """``(SELECT ...) AS name``: the scalar subquery, labelled."""
        return self.scalar_subquery().label(name)

    def exists(self) -> "Exists":
        """``EXISTS (SELECT ...)``."""
        return Exists(self)

    def union(self, *others: Any) -> "CompoundSelect":
        """``this UNION other ...`` (duplicate rows removed)."""
        return CompoundSelect("UNION", [self, *others])

    def union_all(self, *others: Any) -> "CompoundSelect":
        """``this UNION ALL other ...`` (every row kept)."""
        return CompoundSelect("UNION ALL", [self, *others])

    def intersect(self, *others: Any) -> "CompoundSelect":
        return CompoundSelect("INTERSECT", [self, *others])

    def except_(self, *others: Any) -> "CompoundSelect":
        return CompoundSelect("EXCEPT", [self, *others])

    def _selected_names(self) -> list[tuple[Any, str, str, bool]]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def selected_columns(self) -> ColumnCollection:
        """The columns this SELECT returns, by key (what ``.subquery().c`` will offer)."""
        collection = ColumnCollection()
        for expression, key, _, _ in self._selected_names():
            collection._columns[key] = expression
        return collection


class Select(_SelectBase):
    """``SELECT columns FROM ... JOIN ... WHERE ... GROUP BY ... HAVING ... ORDER BY ... LIMIT``."""

    __visit_name__ = "select"

    #: ORM loader options (``selectinload(User.addresses)``); the compiler does not read them
    _with_options: tuple[Any, ...] = ()

    def __init__(self, *entities: Any) -> None:
        if len(entities) == 1 and isinstance(entities[0], (list, tuple)):
            entities = tuple(entities[0])  # select([a, b]) (1.x style) is accepted too
        self._raw_columns: list[Any] = [_coerce_column_or_entity(e) for e in entities]
        self._where: list[ColumnElement] = []
        self._order_by: list[ColumnElement] = []
        self._group_by: list[ColumnElement] = []
        self._having: list[ColumnElement] = []
        #: FROMs named with select_from(), and the joins built on them
        self._from: list[Any] = []
        #: the joins asked for, resolved against the FROM list when compiled (as SQLAlchemy does):
        #: (right, onclause or None, explicit left or None, isouter, full, the target as given)
        self._setup_joins: list[tuple[Any, Any, Any, bool, bool, Any]] = []
        self._limit: int | None = None
        self._offset: int | None = None
        self._distinct = False
        #: correlation of this SELECT when nested: None (automatic), or the FROMs to omit
        self._correlate: tuple[Any, ...] | None = None
        self._correlate_except: tuple[Any, ...] | None = None
        self._execution_options = {}

    # -- the generative methods -------------------------------------------------------------

    def where(self, *criteria: Any) -> "Select":
        """Add WHERE criteria; several calls are joined with AND."""
        new = self._generate()
        new._where.extend(coerce_expression(c) for c in criteria)
        return new

    filter = where

    def filter_by(self, **kwargs: Any) -> "Select":
        """``filter_by(name="sandy")``: equality on columns of the last entity selected or joined."""
        entity = self._filter_by_entity()
        criteria = []
        for key, value in kwargs.items():
            column = _attribute_or_column(entity, key)
            criteria.append(column == value)
        return self.where(*criteria)

    def _filter_by_entity(self) -> Any:
        if self._setup_joins:
            right, target = self._setup_joins[-1][0], self._setup_joins[-1][5]
            return target if from_clause_of(target) is right else right
        for item in reversed(self._from + self._raw_columns):
            if _is_entity(item) and not isinstance(from_clause_of(item), Join):
                return item
            table = getattr(item, "table", None)
            if isinstance(table, (Table, FromClause)):
                return table
        raise InvalidRequestError("filter_by() needs a table or mapped class to select from")

    def group_by(self, *clauses: Any) -> "Select":
        """Add GROUP BY terms (expressions, or a label's name); ``group_by(None)`` clears."""
        new = self._generate()
        if len(clauses) == 1 and clauses[0] is None:
            new._group_by = []
        else:
            new._group_by.extend(coerce_order_by(c) for c in clauses)
        return new

    def having(self, *criteria: Any) -> "Select":
        """Add HAVING criteria (conditions on the groups: ``having(func.count() > 1)``)."""
        new = self._generate()
        new._having.extend(coerce_expression(c) for c in criteria)
        return new

    def distinct(self) -> "Select":
        """``SELECT DISTINCT``."""
        new = self._generate()
        new._distinct = True
        return new

    def select_from(self, *froms: Any) -> "Select":
        """Name FROMs explicitly (``select(func.count()).select_from(user_table)``); also the left
        side for a following :meth:`join`."""
        new = self._generate()
        new._from.extend(_require_from(f, "select_from()") for f in froms)
        return new

    def join(self, target: Any, onclause: Any = None, *, isouter: bool = False, full: bool = False) -> "Select":
        """``JOIN target ON onclause``, from the FROM that can join to ``target``.

        Without ``onclause`` the foreign key between the two gives the ON clause.  The left side
        is the FROM (of ``select_from()``, else of the columns and WHERE) that has a foreign key
        to ``target`` or that the ON clause names; use :meth:`join_from` to say it.

        The ORM joins along a relationship (``join(User.addresses)``) through a hook: an object
        with a ``_join_target_and_onclause()`` method returning ``(target, onclause)`` can be
        given as ``target`` (or as ``onclause``, with the target given first).
        """
        right, onclause = _join_target(target, onclause)
        new = self._generate()
        new._setup_joins.append((right, onclause, None, isouter, full, target))
        return new

    def join_from(self, from_: Any, target: Any, onclause: Any = None, *, isouter: bool = False, full: bool = False) -> "Select":
        """``from_ JOIN target ON ...``, with the left side given explicitly."""
        left = _require_from(from_, "join_from()")
        right, onclause = _join_target(target, onclause)
        new = self._generate()
        new._setup_joins.append((right, onclause, left, isouter, full, target))
        return new

    def outerjoin(self, target: Any, onclause: Any = None, *, full: bool = False) -> "Select":
        """``LEFT OUTER JOIN target ON ...``: rows of the left side are kept without a match."""
        return self.join(target, onclause, isouter=True, full=full)

    def outerjoin_from(self, from_: Any, target: Any, onclause: Any = None, *, full: bool = False) -> "Select":
        """``from_ LEFT OUTER JOIN target ON ...``."""
        return self.join_from(from_, target, onclause, isouter=True, full=full)

    def correlate(self, *froms: Any) -> "Select":
        """When nested, leave out of this SELECT's FROM list exactly these FROMs of the enclosing
        SELECT (``correlate(None)``: none, the inner SELECT keeps every FROM)."""
        new = self._generate()
        if len(froms) == 1 and froms[0] is None:
            new._correlate = ()
        else:
            new._correlate = tuple(_require_from(f, "correlate()") for f in froms)
        return new

    def correlate_except(self, *froms: Any) -> "Select":
        """When nested, correlate every enclosing FROM except these."""
        new = self._generate()
        new._correlate_except = tuple(_require_from(f, "correlate_except()") for f in froms if f is not None)
        return new

    def add_columns(self, *columns: Any) -> "Select":
        """Select more columns or entities."""
        new = self._generate()
        new._raw_columns.extend(_coerce_column_or_entity(c) for c in columns)
        return new

    def options(self, *options: Any) -> "Select":
        """ORM loader options: ``select(User).options(selectinload(User.addresses))``."""
        new = self._generate()
        new._with_options = (*self._with_options, *options)
        return new

    def with_only_columns(self, *columns: Any) -> "Select":
        """The same statement selecting only ``columns``."""
        new = self._generate()
        new._raw_columns = [_coerce_column_or_entity(c) for c in columns]
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
                name = getattr(item, "__name__", None) or getattr(from_clause_of(item), "name", None)
                out.append({"name": name, "entity": item, "type": item})
            else:
                out.append({"name": getattr(item, "key", None), "entity": None, "type": item.type})
        return out

    # -- reading the statement (for the compiler and for subqueries) --------------------------

    def _expanded_columns(self) -> list[Any]:
        """The selected expressions, each entity expanded to the columns of its FROM."""
        columns: list[Any] = []
        for item in self._raw_columns:
            from_ = from_clause_of(item) if not isinstance(item, ColumnElement) else None
            if from_ is not None:
                columns.extend(from_.columns)
            else:
                columns.append(item)
        return columns

    def _selected_names(self) -> list[tuple[Any, str, str, bool]]:
        """For each selected column: (expression, result key, name in SQL, whether the name
        must be given with ``AS`` at the top level).

        A table column keeps its name (the second ``id`` becomes ``id_1``); a label its label;
        a function ``count(...)`` is named ``count_1``; a cast of a column, that column's name;
        anything else ``anon_1``..."""
        out: list[tuple[Any, str, str, bool]] = []
        used: dict[str, int] = {}
        anonymous: dict[str, int] = {}

        def anon(base: str) -> str:
            anonymous[base] = anonymous.get(base, 0) + 1
            return f"{base}_{anonymous[base]}"

        for column in self._expanded_columns():
            if isinstance(column, Column):
                name = column.name or column.key or "column"
                if name in used:
                    used[name] += 1
                    label = f"{name}_{used[name] - 1}"
                    out.append((column, label, label, True))
                    continue
                used[name] = 1
                out.append((column, column.key or name, name, False))
            elif isinstance(column, Label):
                used[column.name] = used.get(column.name, 0) + 1
                out.append((column, column.name, column.name, True))
            elif isinstance(column, Function):
                out.append((column, column.name, anon(column.name), True))
            elif getattr(column, "__visit_name__", None) == "literal_column":
                out.append((column, column.key, column.name, False))
            elif (
                getattr(column, "__visit_name__", None) == "unary"
                and column.operator == "DISTINCT"
                and isinstance(column.element, Column)
            ):
                out.append((column, column.element.key or column.element.name, column.element.name, False))
            elif getattr(column, "__visit_name__", None) == "cast" and isinstance(column.element, Column):
                name = column.element.name
                out.append((column, column.key or name, name, True))
            else:
                name = anon("anon")
                out.append((column, getattr(column, "key", None) or name, name, True))
        return out

    def _implicit_froms(self) -> list[Any]:
        """FROMs read by the columns, then by the WHERE criteria, in order of appearance."""
        found: list[Any] = []
        for item in self._raw_columns:
            _froms_in(item, found)
        for criterion in self._where:
            _froms_in(criterion, found)
        return found

    def _join_froms(self) -> list[Any]:
        """The explicit FROM list with the joins applied (each join replaces its left side)."""
        from_clauses = list(self._from)
        for right, onclause, left, isouter, full, target in self._setup_joins:
            if left is not None:
                index = next(
                    (i for i, f in enumerate(from_clauses) if any(c is left for c in _covered_froms(f))), None
                )
                if index is None:
                    from_clauses.append(Join(left, right, onclause, isouter=isouter, full=full))
                else:
                    from_clauses[index] = Join(from_clauses[index], right, onclause, isouter=isouter, full=full)
                continue
            if from_clauses:
                candidates = from_clauses
            else:
                candidates = [f for f in self._implicit_froms() if f is not right]
            indexes = _find_left_clause_to_join_from(candidates, right, onclause)
            if len(indexes) > 1:
                raise InvalidRequestError(
                    f"Can't determine which FROM clause to join from, there are multiple FROMS which can "
                    f"join to {_description_of_target(target, right)} ({', '.join(self._describe_from(candidates[i]) for i in indexes)}). "
                    f"Please use the .select_from() method to establish an explicit left side, as well as "
                    f"providing an explicit ON clause if not present already to help resolve the ambiguity."
                )
            if not indexes:
                raise InvalidRequestError(
                    f"Don't know how to join to {_description_of_target(target, right)}"
                    + (
                        f" from {', '.join(self._describe_from(c) for c in candidates)}: no foreign key links them"
                        if candidates
                        else ": the statement selects from no table yet"
                    )
                    + ". Please use the .select_from() method to establish an explicit left side, as well "
                    "as providing an explicit ON clause if not present already to help resolve the ambiguity."
                )
            left_clause = candidates[indexes[0]]
            joined = Join(left_clause, right, onclause, isouter=isouter, full=full)
            if from_clauses:
                from_clauses[indexes[0]] = joined
            else:
                from_clauses.append(joined)
        return from_clauses

    def _describe_from(self, from_: Any) -> str:
        """A FROM named as the statement selects it: the mapped class when one stands for it."""
        for item in self._raw_columns:
            if isinstance(item, type) and from_clause_of(item) is from_:
                return _description_of_target(item, from_)
        return _description(from_)

    def _final_froms(self) -> list[Any]:
        """The FROM list as rendered: the implicit FROMs (columns, WHERE) and the explicit ones
        (select_from, joins), without those a join already contains."""
        if not self._from and not self._setup_joins:
            return self._implicit_froms()  # nothing explicit, so nothing hides anything
        explicit = self._join_froms()
        froms: list[Any] = []
        for candidate in [*explicit, *self._implicit_froms()]:
            if candidate not in froms:
                froms.append(candidate)
        hidden = {id(inner) for f in froms if isinstance(f, Join) for inner in _covered_froms(f)[1:]}
        return [f for f in froms if id(f) not in hidden]


def _find_left_clause_to_join_from(candidates: list[Any], right: Any, onclause: Any) -> list[int]:
    """Which of ``candidates`` the join to ``right`` starts from (SQLAlchemy's rule): with an ON
    clause, the FROMs whose columns it names; without, the FROMs with a foreign key to ``right``."""
    indexes: list[int] = []
    right_covered = {id(f) for f in _covered_froms(right)}
    if onclause is not None:
        named: list[Any] = []
        _froms_in(onclause, named)
        named_ids = {id(f) for f in named} - right_covered
        if len(candidates) > 1:
            for i, candidate in enumerate(candidates):
                if any(id(inner) in named_ids for inner in _covered_froms(candidate)):
                    indexes.append(i)
            return indexes or list(range(len(candidates)))
        return list(range(len(candidates)))
    for i, candidate in enumerate(candidates):
        if id(candidate) not in right_covered and _can_join(candidate, right):
            indexes.append(i)
    return indexes


def _join_target(target: Any, onclause: Any) -> tuple[Any, Any]:
    """``join()``'s arguments as (right FROM, ON clause or None), through the ORM's hook."""
    hook = getattr(target, "_join_target_and_onclause", None)
    if hook is not None:
        if onclause is not None:
            raise ArgumentError(f"join({target}) takes no ON clause: the relationship gives it")
        target, onclause = hook()
    elif onclause is not None and hasattr(onclause, "_join_target_and_onclause"):
        relationship_target, relationship_onclause = onclause._join_target_and_onclause()
        right = _require_from(target, "join()")
        if from_clause_of(relationship_target) is not right and isinstance(right, Alias):
            relationship_onclause = adapt_to_alias(relationship_onclause, right)
        return right, relationship_onclause
    right = _require_from(target, "join()")
    return right, (coerce_expression(onclause) if onclause is not None else None)


def adapt_to_alias(expression: Any, alias_: Alias) -> Any:
    """A copy of ``expression`` in which the columns of the aliased table are replaced by the
    alias's columns (``user.id == address.user_id`` -> ``boss.id == address.user_id``)."""
    original = alias_.original

    def replace(element: Any) -> Any:
        if isinstance(element, Column) and element.table is original:
            return alias_.columns.get(element.key)
        return None

    return replacement_traverse(expression, replace)


def replacement_traverse(element: Any, replace: Any) -> Any:
    """Copy an expression tree, substituting ``replace(node)`` wherever it returns something."""
    replaced = replace(element)
    if replaced is not None:
        return replaced
    if not isinstance(element, ClauseElement) or isinstance(element, (Column, _SelectBase)):
        return element
    children = list(element.get_children())
    if not children:
        return element
    copy = element.__class__.__new__(element.__class__)
    copy.__dict__ = dict(element.__dict__)
    for name, value in element.__dict__.items():
        if isinstance(value, ClauseElement):
            setattr(copy, name, replacement_traverse(value, replace))
        elif isinstance(value, list) and value and isinstance(value[0], ClauseElement):
            setattr(copy, name, [replacement_traverse(v, replace) for v in value])
        elif isinstance(value, list) and value and isinstance(value[0], tuple):
            setattr(copy, name, [tuple(replacement_traverse(v, replace) for v in pair) for pair in value])
    return copy


def _coerce_column_or_entity(obj: Any) -> Any:
    if isinstance(obj, ColumnElement):
        return obj
    if _is_entity(obj):
        return obj
    if isinstance(obj, _SelectBase):
        return obj.scalar_subquery()
    return coerce_expression(obj)


def _attribute_or_column(entity: Any, key: str) -> Any:
    if not isinstance(entity, (Table, FromClause)):
        attr = getattr(entity, key, None)
        if attr is not None and hasattr(attr, "__clause_element__"):
            return attr
    from_ = from_clause_of(entity)
    column = from_.columns.get(key) if from_ is not None else None
    if column is None:
        raise InvalidRequestError(f"filter_by(): {_description(from_)} has no column or attribute {key!r}")
    return column


def select(*entities: Any) -> Select:
    """``select(user_table)``, ``select(User)``, ``select(User.name, Address)``, ``select(func.count())``."""
    return Select(*entities)


# -- SELECTs nested as values ---------------------------------------------------------------------


class ScalarSelect(ColumnElement):
    """``(SELECT ...)`` used as one value: from ``stmt.scalar_subquery()``."""

    __visit_name__ = "scalar_select"
    _is_select_boundary = True

    def __init__(self, element: Any) -> None:
        self.element = element
        names = element._selected_names()
        self.type = names[0][0].type if len(names) == 1 else sqltypes.NULLTYPE

    def correlate(self, *froms: Any) -> "ScalarSelect":
        return ScalarSelect(self.element.correlate(*froms))

    def where(self, *criteria: Any) -> "ScalarSelect":
        return ScalarSelect(self.element.where(*criteria))

    def self_group(self) -> "ScalarSelect":
        return self


class Exists(ColumnElement):
    """``EXISTS (SELECT ...)``: true when the inner SELECT finds a row; correlated like a
    scalar subquery.  ``exists().where(...)`` selects ``*``."""

    __visit_name__ = "exists"
    _is_select_boundary = True
    type = sqltypes.Boolean()

    def __init__(self, element: Any) -> None:
        self.element = element

    def where(self, *criteria: Any) -> "Exists":
        """Add WHERE criteria to the inner SELECT."""
        return Exists(self.element.where(*criteria))

    def select_from(self, *froms: Any) -> "Exists":
        return Exists(self.element.select_from(*froms))

    def correlate(self, *froms: Any) -> "Exists":
        return Exists(self.element.correlate(*froms))

    def correlate_except(self, *froms: Any) -> "Exists":
        return Exists(self.element.correlate_except(*froms))

    def select(self) -> Select:
        """``SELECT EXISTS (...)``."""
        return Select(self)


def exists(*what: Any) -> Exists:
    """``exists()`` then ``.where(...)``; ``exists(select(...))``; ``exists(column, ...)``."""
    if len(what) == 1 and isinstance(what[0], Select):
        return Exists(what[0])
    return Exists(Select(*what))


# -- UNION and friends ----------------------------------------------------------------------------


class CompoundSelect(_SelectBase):
    """``SELECT ... UNION SELECT ...`` (also UNION ALL, INTERSECT, EXCEPT), with its own ORDER BY
    and LIMIT; the columns are those of the first SELECT."""

    __visit_name__ = "compound_select"

    def __init__(self, keyword: str, selects: Sequence[Any]) -> None:
        if len(selects) < 2:
            raise ArgumentError(f"{keyword} needs at least two SELECT statements")
        widths = []
        for statement in selects:
            if not isinstance(statement, _SelectBase):
                raise ArgumentError(f"{keyword} combines select() statements, not {statement!r}")
            widths.append(len(statement._selected_names()))
        if len(set(widths)) > 1:
            raise CompileError(
                f"All selectables passed to {keyword} must have identical numbers of columns; "
                + ", ".join(f"select #{i} has {width} columns" for i, width in enumerate(widths, 1))
            )
        self.keyword = keyword
        self.selects = list(selects)
        self._order_by: list[Any] = []
        self._limit: int | None = None
        self._offset: int | None = None
        self._execution_options = {}

    def _selected_names(self) -> list[tuple[Any, str, str, bool]]:
        return self.selects[0]._selected_names()


def union(*selects: Any) -> CompoundSelect:
    """``SELECT ... UNION SELECT ...``: rows of either, duplicates removed."""
    return CompoundSelect("UNION", selects)


def union_all(*selects: Any) -> CompoundSelect:
    """``SELECT ... UNION ALL SELECT ...``: rows of each, duplicates kept."""
    return CompoundSelect("UNION ALL", selects)


def intersect(*selects: Any) -> CompoundSelect:
    """Rows found by every SELECT."""
    return CompoundSelect("INTERSECT", selects)


def except_(*selects: Any) -> CompoundSelect:
    """Rows of the first SELECT not found by the others."""
    return CompoundSelect("EXCEPT", selects)
