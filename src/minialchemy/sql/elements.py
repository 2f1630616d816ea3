"""SQL expressions as Python objects (the Interpreter pattern's tree).

``user_table.c.name == "sandy"`` does not compare anything: Python calls ``__eq__``, and the
column answers with a :class:`BinaryExpression` (column, ``=``, a :class:`BindParameter` holding
``"sandy"``).  The compiler later walks such trees to write SQL; the value never enters the SQL
text, it always travels as a bound parameter.

Where it sits: built by user code and by the ORM (``User.name == "sandy"`` goes through the
mapped attribute's ``__clause_element__``); read by :mod:`minialchemy.sql.compiler` and by the
ORM's in-Python evaluator (``synchronize_session="evaluate"``).
"""

from __future__ import annotations

import operator

from minialchemy.exc import ArgumentError
from minialchemy.sql import types as sqltypes

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Iterable, Sequence

__all__ = [
    "ClauseElement",
    "ColumnElement",
    "BindParameter",
    "BinaryExpression",
    "BooleanClauseList",
    "UnaryExpression",
    "Label",
    "Function",
    "TextClause",
    "Null",
    "and_",
    "or_",
    "not_",
    "asc",
    "desc",
    "bindparam",
    "literal",
    "null",
    "true",
    "false",
    "text",
    "func",
    "Between",
    "Case",
    "Cast",
    "LiteralColumn",
    "LabelReference",
    "case",
    "cast",
    "literal_column",
    "distinct",
    "coerce_order_by",
]


# -- operators ----------------------------------------------------------------------------
# Every comparison is represented by a Python callable, so the same tree can be rendered as SQL
# (by the compiler, through OPERATOR_SQL) and evaluated in Python (by the ORM's evaluator).


def like_op(a: Any, b: Any) -> Any:
    """``a LIKE b`` evaluated as SQLite does: ``%`` any run, ``_`` one character, ASCII letters
    case-insensitive; NULL on either side gives NULL (None)."""
    if a is None or b is None:
        return None
    return _like_regex(str(b)).fullmatch(str(a)) is not None


def not_like_op(a: Any, b: Any) -> Any:
    """``a NOT LIKE b``."""
    result = like_op(a, b)
    return None if result is None else not result


def _like_regex(pattern: str) -> "re.Pattern[str]":
    import re

    parts = []
    for char in pattern:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        elif char.isascii() and char.isalpha():
            parts.append(f"[{char.lower()}{char.upper()}]")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def concat_op(a: Any, b: Any) -> Any:
    """``a || b``: string concatenation, what ``+`` means between strings (the compiler picks
    it by the left operand's type).  SQLite writes a number into the text as its digits."""
    return _as_sql_text(a) + _as_sql_text(b)


def _as_sql_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return str(int(value)) if isinstance(value, int) else str(value)


def ilike_op(a: Any, b: Any) -> Any:
    """``a ILIKE b``: LIKE ignoring case (SQLite has no ILIKE: rendered ``lower(a) LIKE lower(b)``)."""
    if a is None or b is None:
        return None
    return like_op(str(a).lower(), str(b).lower())


def not_ilike_op(a: Any, b: Any) -> Any:
    """``a NOT ILIKE b``."""
    result = ilike_op(a, b)
    return None if result is None else not result


def in_op(a: Any, b: Any) -> bool:
    """``a IN (b...)``."""
    return a in b


def not_in_op(a: Any, b: Any) -> bool:
    """``a NOT IN (b...)``."""
    return a not in b


def is_op(a: Any, b: Any) -> bool:
    """``a IS b``."""
    return a is b


def is_not_op(a: Any, b: Any) -> bool:
    """``a IS NOT b``."""
    return a is not b


OPERATOR_SQL = {
    operator.eq: "=",
    operator.ne: "!=",
    operator.lt: "<",
    operator.le: "<=",
    operator.gt: ">",
    operator.ge: ">=",
    operator.add: "+",
    operator.sub: "-",
    operator.mul: "*",
    operator.truediv: "/",
    operator.mod: "%",
    concat_op: "||",
    like_op: "LIKE",
    not_like_op: "NOT LIKE",
    ilike_op: "LIKE",
    not_ilike_op: "NOT LIKE",
    in_op: "IN",
    not_in_op: "NOT IN",
    is_op: "IS",
    is_not_op: "IS NOT",
}

# the operator a NOT turns each comparison into (not_(a == b) renders a != b)
NEGATIONS = {
    operator.eq: operator.ne,
    operator.ne: operator.eq,
    operator.lt: operator.ge,
    operator.ge: operator.lt,
    operator.gt: operator.le,
    operator.le: operator.gt,
    like_op: not_like_op,
    not_like_op: like_op,
    ilike_op: not_ilike_op,
    not_ilike_op: ilike_op,
    in_op: not_in_op,
    not_in_op: in_op,
    is_op: is_not_op,
    is_not_op: is_op,
}

COMPARISONS = frozenset(NEGATIONS)

#: the case-insensitive operators: the compiler wraps both sides in ``lower()``
CASE_INSENSITIVE = frozenset((ilike_op, not_ilike_op))


class ClauseElement:
    """Base of every piece of a SQL statement."""

    __visit_name__ = "clause"
    __hash__ = object.__hash__

    def compile(self, dialect: str = "default") -> Any:
        """Render this element; ``str(element)`` is ``str(element.compile())``."""
        from minialchemy.sql.compiler import compile_element

        return compile_element(self, dialect=dialect)

    def __str__(self) -> str:
        return self.compile().string

    def get_children(self) -> Iterable["ClauseElement"]:
        """Sub-elements, for walkers that collect tables or binds."""
        return ()


class ColumnOperators:
    """The Python operators that build SQL expressions; mixed into columns and ORM attributes.

    Subclasses provide ``_operate(op, other)`` and ``_reverse_operate``.
    """

    __slots__ = ()

    def _operate(self, op: Any, other: Any) -> "ColumnElement":  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} does not support SQL operators")

    def _reverse_operate(self, op: Any, other: Any) -> "ColumnElement":  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} does not support SQL operators")

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return self._operate(operator.eq, other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self._operate(operator.ne, other)

    def __lt__(self, other: Any) -> Any:
        return self._operate(operator.lt, other)

    def __le__(self, other: Any) -> Any:
        return self._operate(operator.le, other)

    def __gt__(self, other: Any) -> Any:
        return self._operate(operator.gt, other)

    def __ge__(self, other: Any) -> Any:
        return self._operate(operator.ge, other)

    def __add__(self, other: Any) -> Any:
        return self._operate(operator.add, other)

    def __sub__(self, other: Any) -> Any:
        return self._operate(operator.sub, other)

    def __mul__(self, other: Any) -> Any:
        return self._operate(operator.mul, other)

    def __truediv__(self, other: Any) -> Any:
        return self._operate(operator.truediv, other)

    def __mod__(self, other: Any) -> Any:
        return self._operate(operator.mod, other)

    # ``"Mr. " + User.name``, ``10 - User.age``: the Python value is on the left
    def __radd__(self, other: Any) -> Any:
        return self._reverse_operate(operator.add, other)

    def __rsub__(self, other: Any) -> Any:
        return self._reverse_operate(operator.sub, other)

    def __rmul__(self, other: Any) -> Any:
        return self._reverse_operate(operator.mul, other)

    def __rtruediv__(self, other: Any) -> Any:
        return self._reverse_operate(operator.truediv, other)

    def __rmod__(self, other: Any) -> Any:
        return self._reverse_operate(operator.mod, other)

    def like(self, pattern: Any) -> Any:
        """``column LIKE pattern``."""
        return self._operate(like_op, pattern)

    def not_like(self, pattern: Any) -> Any:
        """``column NOT LIKE pattern``."""
        return self._operate(not_like_op, pattern)

    notlike = not_like

    def ilike(self, pattern: Any) -> Any:
        """``lower(column) LIKE lower(pattern)``: LIKE ignoring case."""
        return self._operate(ilike_op, pattern)

    def not_ilike(self, pattern: Any) -> Any:
        """``lower(column) NOT LIKE lower(pattern)``."""
        return self._operate(not_ilike_op, pattern)

    notilike = not_ilike

    def between(self, lower: Any, upper: Any, symmetric: bool = False) -> "Between":
        """``column BETWEEN lower AND upper`` (both ends included, both bound parameters)."""
        element = coerce_expression(self)
        return Between(element, _bind_for(element, lower), _bind_for(element, upper), symmetric=symmetric)

    def distinct(self) -> "UnaryExpression":
        """``DISTINCT column``, inside an aggregate: ``func.count(User.name.distinct())``."""
        return UnaryExpression(coerce_expression(self), operator_="DISTINCT")

    def startswith(self, prefix: str) -> Any:
        """``column LIKE 'prefix%'`` (the prefix is a bound parameter)."""
        return self._operate(like_op, f"{prefix}%")

    def in_(self, values: Any) -> Any:
        """``column IN (?, ?, ...)``, an empty list is never true; or ``column IN (SELECT ...)``
        given a ``select()`` of one column."""
        return self._operate(in_op, _in_operand(values))

    def not_in(self, values: Any) -> Any:
        """``column NOT IN (?, ?, ...)``, an empty list is always true; or ``NOT IN (SELECT ...)``."""
        return self._operate(not_in_op, _in_operand(values))

    notin_ = not_in

    def is_(self, other: Any) -> Any:
        """``column IS other`` (``is_(None)`` is ``IS NULL``)."""
        return self._operate(is_op, other)

    def is_not(self, other: Any) -> Any:
        """``column IS NOT other``."""
        return self._operate(is_not_op, other)

    isnot = is_not

    def asc(self) -> "UnaryExpression":
        """``column ASC`` for ``order_by``."""
        return UnaryExpression(coerce_expression(self), modifier="ASC")

    def desc(self) -> "UnaryExpression":
        """``column DESC`` for ``order_by``."""
        return UnaryExpression(coerce_expression(self), modifier="DESC")

    def label(self, name: str) -> "Label":
        """``expression AS name``."""
        return Label(name, coerce_expression(self))


class ColumnElement(ColumnOperators, ClauseElement):
    """An expression that has a value and a type: a column, a bound value, a comparison."""

    __visit_name__ = "column_element"
    type: sqltypes.TypeEngine = sqltypes.NULLTYPE
    key: str | None = None

    def _operate(self, op: Any, other: Any) -> "ColumnElement":
        if op in (operator.eq, operator.ne) and other is None:
            op = is_op if op is operator.eq else is_not_op
        if op in (in_op, not_in_op):
            if isinstance(other, ClauseElement):  # IN (SELECT ...)
                return BinaryExpression(self, other, op)
            right: Any = ExpandingList(
                [_bind_for(self, value) for value in other], key=self.key
            )
            return BinaryExpression(self, right, op)
        if op is operator.add and _concatenates(self, other):
            op = concat_op
        return BinaryExpression(self, _bind_for(self, other), op)

    def _reverse_operate(self, op: Any, other: Any) -> "ColumnElement":
        if op is operator.add and _concatenates(self, other):
            op = concat_op
        return BinaryExpression(_bind_for(self, other), self, op)

    def _bind_name_hint(self) -> str:
        return self.key or "param"

    def __invert__(self) -> "ColumnElement":
        return not_(self)

    __hash__ = ClauseElement.__hash__


def _is_text(type_: sqltypes.TypeEngine) -> bool:
    return isinstance(type_, (sqltypes.String, sqltypes.NullType))


def _concatenates(expr: ColumnElement, other: Any) -> bool:
    """True when ``expr + other`` is string concatenation (``||``): ``expr`` is a string column
    or expression and ``other`` a string (or NULL, or an expression of string or unknown type),
    as SQLAlchemy decides it.  ``User.name + 5`` stays the number operator ``+``."""
    if not isinstance(expr.type, sqltypes.String):
        return False
    if hasattr(other, "__clause_element__"):
        other = other.__clause_element__()
    if isinstance(other, ColumnElement):
        return _is_text(other.type)
    return _is_text(sqltypes.type_for_python_value(other))


def _in_operand(values: Any) -> Any:
    """What ``in_()`` compares with: a SELECT becomes a scalar subquery (rendered in
    parentheses); anything else is iterated into a list of values."""
    if getattr(values, "__visit_name__", None) == "subquery":
        values = values.element  # IN (subquery): the SELECT inside it
    if hasattr(values, "scalar_subquery"):
        return values.scalar_subquery()
    if isinstance(values, ClauseElement):
        return values
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise ArgumentError(f"in_() takes a list of values or a select(), not {values!r}")
    return list(values)


def _bind_for(expr: ColumnElement, value: Any) -> ColumnElement:
    """Turn the right-hand side of a comparison into an element: a column stays a column, a
    Python value becomes a bound parameter typed like the column it is compared with."""
    if value is None:
        return Null()
    if hasattr(value, "__clause_element__"):
        return value.__clause_element__()
    if isinstance(value, ClauseElement):
        return value  # type: ignore[return-value]
    return BindParameter(expr._bind_name_hint(), value, type_=expr.type, unique=True)


class BindParameter(ColumnElement):
    """A value sent separately from the SQL text (``?`` for sqlite3, ``:name_1`` in ``str()``).

    ``unique=True`` marks an anonymous bind whose name the compiler makes unique (``name_1``);
    ``bindparam("x")`` is a named one, filled from the execution parameters.
    """

    __visit_name__ = "bindparam"

    def __init__(
        self,
        key: str,
        value: Any = None,
        type_: sqltypes.TypeEngine | None = None,
        unique: bool = False,
        required: bool = False,
        callable_: Any = None,
    ) -> None:
        self.key = key
        self.value = value
        self.callable = callable_
        self.unique = unique
        self.required = required
        if type_ is None or isinstance(type_, sqltypes.NullType):
            type_ = sqltypes.type_for_python_value(value)
        elif sqltypes.is_decimal(value) and type_.bind_processor() is None:
            # sqlite3 cannot bind a Decimal: ``Account.id == Decimal(2)`` compares its float
            type_ = sqltypes.type_for_python_value(value)
        self.type = type_

    def effective_value(self) -> Any:
        """The value to send: the result of ``callable_`` when there is one."""
        return self.callable() if self.callable is not None else self.value

    def __repr__(self) -> str:
        return f"BindParameter({self.key!r}, {self.value!r})"


class ExpandingList(ClauseElement):
    """The parenthesised value list of ``IN``: one bound parameter per value."""

    __visit_name__ = "expanding_list"

    def __init__(self, binds: Sequence[ColumnElement], key: str | None = None) -> None:
        self.binds = list(binds)
        self.key = key

    def get_children(self) -> Iterable[ClauseElement]:
        return self.binds


class Null(ColumnElement):
    """SQL ``NULL``."""

    __visit_name__ = "null"


class True_(ColumnElement):
    """SQL true (rendered ``1`` on SQLite)."""

    __visit_name__ = "true"
    type = sqltypes.Boolean()


class False_(ColumnElement):
    """SQL false (rendered ``0`` on SQLite)."""

    __visit_name__ = "false"
    type = sqltypes.Boolean()


def null() -> Null:
    """The SQL ``NULL`` constant."""
    return Null()


def true() -> True_:
    """The SQL true constant."""
    return True_()


def false() -> False_:
    """The SQL false constant."""
    return False_()


class BinaryExpression(ColumnElement):
    """``left <operator> right``: a comparison or arithmetic between two elements."""

    __visit_name__ = "binary"

    def __init__(self, left: Any, right: Any, operator_: Any) -> None:
        self.left = left
        self.right = right
        self.operator = operator_
        self.type = sqltypes.Boolean() if operator_ in COMPARISONS else getattr(left, "type", sqltypes.NULLTYPE)

    def get_children(self) -> Iterable[ClauseElement]:
        return (self.left, self.right)

    def __bool__(self) -> bool:
        # ``col_a == col_b`` used in a Python ``if`` (or ``x in list``) compares identity, as
        # SQLAlchemy does; any other truth test of a SQL expression is a mistake worth naming.
        if self.operator is operator.eq:
            return self.left is self.right
        if self.operator is operator.ne:
            return self.left is not self.right
        raise TypeError("Boolean value of this clause is not defined")

    def __invert__(self) -> ColumnElement:
        return not_(self)

    def __and__(self, other: Any) -> "BooleanClauseList":
        return and_(self, other)

    def __or__(self, other: Any) -> "BooleanClauseList":
        return or_(self, other)

    __hash__ = ClauseElement.__hash__


class BooleanClauseList(ColumnElement):
    """``a AND b AND c`` or ``a OR b``."""

    __visit_name__ = "boolean_clauselist"
    type = sqltypes.Boolean()

    def __init__(self, operator_: str, clauses: Sequence[Any]) -> None:
        self.operator = operator_
        self.clauses = [coerce_expression(c) for c in clauses]

    def get_children(self) -> Iterable[ClauseElement]:
        return self.clauses

    def __invert__(self) -> ColumnElement:
        return not_(self)

    def __and__(self, other: Any) -> "BooleanClauseList":
        return and_(self, other)

    def __or__(self, other: Any) -> "BooleanClauseList":
        return or_(self, other)

    def __bool__(self) -> bool:
        raise TypeError("Boolean value of this clause is not defined")

    __hash__ = ClauseElement.__hash__


class UnaryExpression(ColumnElement):
    """``NOT x`` (operator) or ``x DESC`` (modifier)."""

    __visit_name__ = "unary"

    def __init__(self, element: Any, operator_: str | None = None, modifier: str | None = None) -> None:
        self.element = element
        self.operator = operator_
        self.modifier = modifier
        self.type = sqltypes.Boolean() if operator_ == "NOT" else getattr(element, "type", sqltypes.NULLTYPE)

    def get_children(self) -> Iterable[ClauseElement]:
        return (self.element,)


class Label(ColumnElement):
    """``expression AS name``: names a column of the result."""

    __visit_name__ = "label"

    def __init__(self, name: str, element: ColumnElement) -> None:
        self.name = name
        self.key = name
        self.element = element
        self.type = element.type

    def get_children(self) -> Iterable[ClauseElement]:
        return (self.element,)


class Function(ColumnElement):
    """A SQL function call such as ``count(*)`` or ``lower(user_account.name)``.

    Its type follows SQLAlchemy's generic functions: ``count`` is an Integer, ``max`` / ``min`` /
    ``sum`` / ``coalesce`` have the type of their first argument, ``now()`` is a DateTime, and
    any other name has no type (the value comes back as sqlite3 returns it).
    """

    __visit_name__ = "function"

    def __init__(self, name: str, *args: Any, type_: sqltypes.TypeEngine | None = None) -> None:
        self.name = name
        self.key = name
        self.args = [coerce_expression(a, allow_literal=True) for a in args]
        if type_ is None:
            lowered = name.lower()
            type_ = _FUNCTION_TYPES.get(lowered)
            if type_ is None:
                if lowered in _TYPE_FROM_ARGUMENTS and self.args:
                    type_ = self.args[0].type
                else:
                    type_ = sqltypes.NULLTYPE
        self.type = sqltypes.to_instance(type_)

    def get_children(self) -> Iterable[ClauseElement]:
        return self.args


_FUNCTION_TYPES = {
    "count": sqltypes.Integer(),
    "char_length": sqltypes.Integer(),
    "length": sqltypes.Integer(),
    "lower": sqltypes.String(),
    "upper": sqltypes.String(),
    "concat": sqltypes.String(),
    "now": sqltypes.DateTime(),
    "current_timestamp": sqltypes.DateTime(),
    "current_date": sqltypes.Date(),
}

#: functions whose result has the type of their first argument (``max(price)`` is a price)
_TYPE_FROM_ARGUMENTS = frozenset({"max", "min", "sum", "coalesce", "nullif", "ifnull"})

#: SQL-standard functions written without parentheses (``func.now()`` is ``CURRENT_TIMESTAMP``
#: on SQLite, as SQLAlchemy's SQLite dialect writes it)
ANSI_FUNCTIONS = {
    "now": "CURRENT_TIMESTAMP",
    "current_timestamp": "CURRENT_TIMESTAMP",
    "current_date": "CURRENT_DATE",
    "current_time": "CURRENT_TIME",
    "localtime": "LOCALTIME",
    "localtimestamp": "LOCALTIMESTAMP",
}


class _FunctionGenerator:
    """``func.count()``, ``func.lower(x)``: any attribute name becomes a SQL function."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def make(*args: Any, type_: sqltypes.TypeEngine | None = None) -> Function:
            return Function(name, *args, type_=type_)

        make.__name__ = name
        return make


func = _FunctionGenerator()


class TextClause(ClauseElement):
    """Literal SQL text with ``:name`` binds: ``text("SELECT * FROM t WHERE id = :id")``."""

    __visit_name__ = "textclause"

    def __init__(self, text_: str) -> None:
        self.text = text_
        self._bindparams: dict[str, BindParameter] = {}
        self._execution_options: dict[str, Any] = {}

    def bindparams(self, **values: Any) -> "TextClause":
        """Give values to some of the ``:name`` binds ahead of execution."""
        new = TextClause(self.text)
        new._bindparams = dict(self._bindparams)
        for key, value in values.items():
            new._bindparams[key] = BindParameter(key, value)
        return new

    def execution_options(self, **options: Any) -> "TextClause":
        """Options read by whoever executes the statement."""
        new = self.bindparams()
        new._execution_options = {**self._execution_options, **options}
        return new


def text(text_: str) -> TextClause:
    """Literal SQL with ``:name`` bound parameters."""
    return TextClause(text_)


def and_(*clauses: Any) -> BooleanClauseList:
    """``a AND b AND ...``."""
    return BooleanClauseList("AND", _flatten("AND", clauses))


def or_(*clauses: Any) -> BooleanClauseList:
    """``a OR b OR ...``."""
    return BooleanClauseList("OR", _flatten("OR", clauses))


def _flatten(op: str, clauses: Sequence[Any]) -> list[Any]:
    flat: list[Any] = []
    for clause in clauses:
        clause = coerce_expression(clause)
        if isinstance(clause, BooleanClauseList) and clause.operator == op:
            flat.extend(clause.clauses)
        else:
            flat.append(clause)
    return flat


def not_(clause: Any) -> ColumnElement:
    """``NOT clause``; a negated comparison is rendered with the opposite operator."""
    clause = coerce_expression(clause)
    if isinstance(clause, BinaryExpression) and clause.operator in NEGATIONS:
        return BinaryExpression(clause.left, clause.right, NEGATIONS[clause.operator])
    if isinstance(clause, Between):
        return Between(clause.element, clause.lower, clause.upper, clause.symmetric, negated=not clause.negated)
    if isinstance(clause, UnaryExpression) and clause.operator == "NOT":
        return clause.element
    return UnaryExpression(clause, operator_="NOT")


def asc(column: Any) -> UnaryExpression:
    """``column ASC``; a string names a label of the columns clause (``asc("n")``)."""
    return UnaryExpression(coerce_order_by(column), modifier="ASC")


def desc(column: Any) -> UnaryExpression:
    """``column DESC``; a string names a label of the columns clause (``desc("n")``)."""
    return UnaryExpression(coerce_order_by(column), modifier="DESC")


def bindparam(key: str, value: Any = None, type_: Any = None) -> BindParameter:
    """A named bound parameter, filled from the execution parameters by ``key``."""
    return BindParameter(key, value, type_=sqltypes.to_instance(type_) if type_ else None, required=value is None)


def literal(value: Any, type_: Any = None) -> BindParameter:
    """A Python value as a bound parameter."""
    return BindParameter("param", value, type_=sqltypes.to_instance(type_) if type_ else None, unique=True)


def coerce_expression(obj: Any, allow_literal: bool = False) -> Any:
    """Accept what users write where an expression is expected: an element, an ORM attribute
    (anything with ``__clause_element__``) or, where allowed, a plain Python value."""
    if isinstance(obj, ClauseElement):
        return obj
    clause = getattr(obj, "__clause_element__", None)
    if clause is not None:
        return clause()
    if allow_literal or obj is None:
        return literal(obj) if obj is not None else Null()
    if isinstance(obj, str):
        raise ArgumentError(f"Textual SQL expression {obj!r} should be declared as text({obj!r})")
    raise ArgumentError(f"{obj!r} is not a SQL expression (expected a column or a comparison)")


def coerce_order_by(obj: Any) -> Any:
    """What ``order_by()`` / ``group_by()`` accept: an expression, or a string naming a label
    (or column) of the columns clause, resolved when the statement is compiled."""
    if isinstance(obj, str):
        return LabelReference(obj)
    return coerce_expression(obj)


class LabelReference(ColumnElement):
    """``order_by("n")``: a reference by name to a labelled column of the same SELECT.

    The compiler looks the name up among the SELECT's labels and column names; an unknown name
    is a :class:`~minialchemy.exc.CompileError` (a string is never pasted into the SQL)."""

    __visit_name__ = "label_reference"

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = name


class Between(ColumnElement):
    """``expr BETWEEN lower AND upper`` (``NOT BETWEEN`` when negated)."""

    __visit_name__ = "between"
    type = sqltypes.Boolean()

    def __init__(self, element: Any, lower: Any, upper: Any, symmetric: bool = False, negated: bool = False) -> None:
        self.element = element
        self.lower = lower
        self.upper = upper
        self.symmetric = symmetric
        self.negated = negated

    def get_children(self) -> Iterable[ClauseElement]:
        return (self.element, self.lower, self.upper)


class Case(ColumnElement):
    """``CASE WHEN cond THEN value ... ELSE value END`` (or ``CASE expr WHEN v THEN ...``)."""

    __visit_name__ = "case"

    def __init__(self, whens: Sequence[tuple[Any, Any]], value: Any = None, else_: Any = None) -> None:
        self.value = coerce_expression(value) if value is not None else None
        self.whens = [
            (
                coerce_expression(condition, allow_literal=True) if value is not None else coerce_expression(condition),
                coerce_expression(result, allow_literal=True),
            )
            for condition, result in whens
        ]
        self.else_ = coerce_expression(else_, allow_literal=True) if else_ is not None else None
        results = [result for _, result in self.whens] + ([self.else_] if self.else_ is not None else [])
        self.type = next((r.type for r in results if not isinstance(r.type, sqltypes.NullType)), sqltypes.NULLTYPE)

    def get_children(self) -> Iterable[ClauseElement]:
        children: list[ClauseElement] = [] if self.value is None else [self.value]
        for condition, result in self.whens:
            children.extend((condition, result))
        if self.else_ is not None:
            children.append(self.else_)
        return children


def case(*whens: Any, value: Any = None, else_: Any = None) -> Case:
    """``case((User.id == 1, "one"), (User.id == 2, "two"), else_="many")``; with ``value=``,
    ``case({1: "one", 2: "two"}, value=User.id)`` compares ``value`` with each key."""
    if len(whens) == 1 and isinstance(whens[0], dict):
        pairs = list(whens[0].items())
    else:
        pairs = list(whens)
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ArgumentError(f"case() takes (condition, result) tuples, or a dict with value=; got {pair!r}")
    if not pairs:
        raise ArgumentError("case() needs at least one (condition, result) pair")
    return Case(pairs, value=value, else_=else_)


class Cast(ColumnElement):
    """``CAST(expr AS type)``; the result is converted as that type (``cast(x, Numeric)`` gives Decimal)."""

    __visit_name__ = "cast"

    def __init__(self, element: Any, type_: Any) -> None:
        self.element = coerce_expression(element, allow_literal=True)
        self.type = sqltypes.to_instance(type_)
        self.key = getattr(self.element, "key", None) if isinstance(self.element, ColumnElement) else None

    def get_children(self) -> Iterable[ClauseElement]:
        return (self.element,)


def cast(expression: Any, type_: Any) -> Cast:
    """``CAST(expression AS type)``."""
    return Cast(expression, type_)


class LiteralColumn(ColumnElement):
    """``literal_column("42")``: SQL text used as a column, written into the statement as is.

    Like :func:`text`, the text is trusted SQL: never build it from user input (use
    :func:`literal` for values, which become bound parameters)."""

    __visit_name__ = "literal_column"

    def __init__(self, text_: str, type_: Any = None) -> None:
        if not isinstance(text_, str):
            raise ArgumentError(f"literal_column() takes SQL text (a str), not {text_!r}")
        self.text = text_
        self.name = text_
        self.key = text_
        self.type = sqltypes.to_instance(type_) if type_ is not None else sqltypes.NULLTYPE


def literal_column(text_: str, type_: Any = None) -> LiteralColumn:
    """A column written as literal SQL text (``literal_column("count(*)")``); trusted text only."""
    return LiteralColumn(text_, type_)


def distinct(expression: Any) -> UnaryExpression:
    """``DISTINCT expr``, for aggregates: ``func.count(distinct(User.name))``."""
    return UnaryExpression(coerce_expression(expression), operator_="DISTINCT")
