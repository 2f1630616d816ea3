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

import decimal
import operator
from typing import Any, Iterable, Sequence

from minialchemy.exc import ArgumentError
from minialchemy.sql import types as sqltypes

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
    like_op: "LIKE",
    not_like_op: "NOT LIKE",
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
    in_op: not_in_op,
    not_in_op: in_op,
    is_op: is_not_op,
    is_not_op: is_op,
}

COMPARISONS = frozenset(NEGATIONS)


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

    def like(self, pattern: Any) -> Any:
        """``column LIKE pattern``."""
        return self._operate(like_op, pattern)

    def not_like(self, pattern: Any) -> Any:
        """``column NOT LIKE pattern``."""
        return self._operate(not_like_op, pattern)

    notlike = not_like

    def startswith(self, prefix: str) -> Any:
        """``column LIKE 'prefix%'`` (the prefix is a bound parameter)."""
        return self._operate(like_op, f"{prefix}%")

    def in_(self, values: Iterable[Any]) -> Any:
        """``column IN (?, ?, ...)``; an empty list is never true."""
        return self._operate(in_op, list(values))

    def not_in(self, values: Iterable[Any]) -> Any:
        """``column NOT IN (?, ?, ...)``; an empty list is always true."""
        return self._operate(not_in_op, list(values))

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
            right: Any = ExpandingList(
                [_bind_for(self, value) for value in other], key=self.key
            )
            return BinaryExpression(self, right, op)
        return BinaryExpression(self, _bind_for(self, other), op)

    def _bind_name_hint(self) -> str:
        return self.key or "param"

    __hash__ = ClauseElement.__hash__


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
        elif isinstance(value, decimal.Decimal) and type_.bind_processor() is None:
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
    """A SQL function call such as ``count(*)`` or ``lower(user_account.name)``."""

    __visit_name__ = "function"

    def __init__(self, name: str, *args: Any, type_: sqltypes.TypeEngine | None = None) -> None:
        self.name = name
        self.key = name
        self.args = [coerce_expression(a, allow_literal=True) for a in args]
        if type_ is None:
            type_ = _FUNCTION_TYPES.get(name.lower())
            if type_ is None:
                type_ = self.args[0].type if self.args else sqltypes.NULLTYPE
        self.type = type_

    def get_children(self) -> Iterable[ClauseElement]:
        return self.args


_FUNCTION_TYPES = {
    "count": sqltypes.Integer(),
    "length": sqltypes.Integer(),
    "lower": sqltypes.String(),
    "upper": sqltypes.String(),
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
    return UnaryExpression(clause, operator_="NOT")


def asc(column: Any) -> UnaryExpression:
    """``column ASC``."""
    return UnaryExpression(coerce_expression(column), modifier="ASC")


def desc(column: Any) -> UnaryExpression:
    """``column DESC``."""
    return UnaryExpression(coerce_expression(column), modifier="DESC")


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
