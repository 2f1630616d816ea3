"""ORM-enabled UPDATE and DELETE: one statement for many rows, then the session catches up.

``session.execute(update(User).where(User.name == "sandy").values(fullname="x"))`` sends one
UPDATE to the database.  Objects already in the session may hold the rows it changed, so the
``synchronize_session`` execution option says how to bring them up to date:

- ``"evaluate"``: evaluate the WHERE criteria in Python against each object of that class in
  the identity map; matching objects get the new values (UPDATE) or are marked deleted
  (DELETE).  No extra SQL.  Criteria it cannot evaluate (``LIKE``, functions, subqueries)
  raise :class:`~minialchemy.orm.exc.UnevaluatableError` *before* anything is sent.
- ``"fetch"``: add ``RETURNING <primary key>`` to the statement and synchronize the objects
  whose keys come back.
- ``"auto"`` (the default): ``"evaluate"`` when it can, else ``"fetch"``.
- ``False``: synchronize nothing; objects stay stale until expired.

**Bulk UPDATE by primary key**: ``session.execute(update(User), [{"id": 2, "name": "x"}, ...])``
(no ``values()``, a list of parameter dicts) updates each row named by its primary key:
``UPDATE user_account SET name=? WHERE user_account.id = ?``, one executemany per set of
column names (dicts may name different columns).  A dict without the primary key is refused
before anything is written; a key matching no row raises StaleDataError.  Objects of those rows
in the identity map get the new values (unless ``synchronize_session=False``; "fetch" is refused).

New values are written as *committed* values: a synchronized object is not dirty afterwards.
A deleted object leaves the identity map but is remembered by the session's transaction, so
``rollback()`` brings it back.

Where it sits: called by ``Session.execute`` for ``update(Mapped)`` / ``delete(Mapped)``;
uses the engine for SQL and the session's identity map.
"""

from __future__ import annotations

import operator

from minialchemy import _accel
from minialchemy.exc import ArgumentError, InvalidRequestError
from minialchemy.orm.exc import StaleDataError, UnevaluatableError
from minialchemy.sql import elements
from minialchemy.sql.schema import Column

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Callable

__all__ = ["execute_dml", "evaluator_for"]

SYNCHRONIZE_CHOICES = ("auto", "evaluate", "fetch", False)

#: operators the in-Python evaluator understands (SQLAlchemy's evaluator handles the same set:
#: comparisons, IN, IS, arithmetic; not LIKE, whose collation rules belong to the database)
_EVALUABLE = {
    operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge,
    operator.add, operator.sub, operator.mul, operator.truediv, operator.mod, elements.concat_op,
    elements.in_op, elements.not_in_op, elements.is_op, elements.is_not_op,
}
_NULL_PROPAGATING = _EVALUABLE - {elements.is_op, elements.is_not_op}

#: an object whose attribute needed by the criteria is not loaded (expired)
_UNLOADED = object()

if TYPE_CHECKING:  # a type alias, for annotations only (it needs typing)
    Evaluator = Callable[[dict[str, Any]], Any]


def evaluator_for(mapper: Any, clause: Any) -> Evaluator:
    """A Python function ``f(obj.__dict__)`` computing ``clause`` as SQL would (NULL is None,
    a comparison with NULL is None).  Raises UnevaluatableError for what it cannot compute."""
    if clause is None:
        return lambda d: True
    if isinstance(clause, Column):
        key = mapper._col_to_attr.get(clause)
        if key is None:
            raise UnevaluatableError(f"Cannot evaluate column {clause} of another table in Python")
        return lambda d: d.get(key, _UNLOADED)
    if isinstance(clause, elements.BindParameter):
        value = clause.effective_value()
        return lambda d: value
    if isinstance(clause, elements.ExpandingList):
        parts = [evaluator_for(mapper, b) for b in clause.get_children()]
        return lambda d: [p(d) for p in parts]
    if isinstance(clause, elements.Null):
        return lambda d: None
    if isinstance(clause, elements.True_):
        return lambda d: True
    if isinstance(clause, elements.False_):
        return lambda d: False
    if isinstance(clause, elements.BinaryExpression) and clause.operator in _EVALUABLE:
        return _binary(mapper, clause)
    if isinstance(clause, elements.BooleanClauseList):
        return _boolean_list(mapper, clause)
    if isinstance(clause, elements.UnaryExpression) and clause.operator == "NOT" and clause.modifier is None:
        inner = evaluator_for(mapper, clause.element)

        def negate(d: dict[str, Any]) -> Any:
            value = inner(d)
            return value if value is None or value is _UNLOADED else not value

        return negate
    raise UnevaluatableError(
        f"Cannot evaluate {type(clause).__name__} ({clause}) in Python for "
        f"synchronize_session='evaluate'; use synchronize_session='fetch' (or 'auto')"
    )


def _binary(mapper: Any, clause: Any) -> Evaluator:
    left = evaluator_for(mapper, clause.left)
    right = evaluator_for(mapper, clause.right)
    op = clause.operator
    propagates_null = op in _NULL_PROPAGATING

    def evaluate(d: dict[str, Any]) -> Any:
        a, b = left(d), right(d)
        if a is _UNLOADED or b is _UNLOADED:
            return _UNLOADED
        if propagates_null and (a is None or b is None):
            return None
        return op(a, b)

    return evaluate


def _boolean_list(mapper: Any, clause: Any) -> Evaluator:
    parts = [evaluator_for(mapper, c) for c in clause.clauses]
    is_and = clause.operator.strip().upper() == "AND"

    def evaluate(d: dict[str, Any]) -> Any:
        # SQL's three-valued logic: AND is false if any part is false, else NULL if any is NULL
        saw_null = False
        for part in parts:
            value = part(d)
            if value is _UNLOADED:
                return _UNLOADED
            if value is None:
                saw_null = True
            elif bool(value) is not is_and:
                return not is_and
        return None if saw_null else is_and

    return evaluate


def _resolve_strategy(options: dict[str, Any]) -> Any:
    strategy = options.get("synchronize_session", "auto")
    if strategy not in SYNCHRONIZE_CHOICES:
        raise ArgumentError(
            f"Valid strategies for synchronize_session are 'auto', 'evaluate', 'fetch' or False; "
            f"got {strategy!r}"
        )
    return strategy


def execute_dml(session: Any, statement: Any, params: Any, options: dict[str, Any]) -> Any:
    """Run an ORM-enabled UPDATE or DELETE and synchronize the session's objects with it."""
    mapper = statement.entity.__mapper__
    is_update = statement.__visit_name__ == "update"
    strategy = _resolve_strategy(options)
    if is_update and _is_parameter_list(params):
        return _bulk_update_by_primary_key(session, mapper, statement, params, strategy)
    matcher: Evaluator | None = None
    value_setters: dict[str, Evaluator] = {}
    if strategy in ("auto", "evaluate"):
        try:
            matcher = evaluator_for(mapper, statement.whereclause)
            if is_update:
                value_setters = _value_evaluators(mapper, statement)
            strategy = "evaluate"
        except UnevaluatableError as error:
            if strategy == "evaluate":
                raise UnevaluatableError(
                    f"Could not evaluate current criteria in Python for "
                    f"synchronize_session='evaluate': {error}. Use synchronize_session='fetch' "
                    f"or 'auto', or False to skip synchronizing the session"
                ) from None
            strategy = "fetch"
    connection = session._connection_for_bind()
    cause = f"ORM-enabled {statement.__visit_name__.upper()} of {mapper.class_.__name__}"
    if strategy == "fetch":
        returning = statement.returning(*mapper.primary_key)
        result = connection.execute(returning, params, execution_options={"cause": cause})
        keys = [tuple(row) for row in result.all()]
        result.rowcount = len(keys)
        matched = [obj for obj in (session.identity_map.get((mapper.class_, key, None)) for key in keys) if obj is not None]
        if is_update:
            value_setters = _value_evaluators(mapper, statement, fallback_expire=True)
    else:
        result = connection.execute(statement, params, execution_options={"cause": cause})
        matched = _evaluate_matches(session, mapper, matcher) if matcher is not None else []
    if is_update:
        _synchronize_update(session, matched, value_setters)
    else:
        _synchronize_delete(session, matched)
    return result


def _is_parameter_list(params: Any) -> bool:
    return isinstance(params, (list, tuple)) and bool(params) and all(isinstance(p, dict) for p in params)


def _bulk_update_by_primary_key(
    session: Any, mapper: Any, statement: Any, params: list[dict[str, Any]], strategy: Any
) -> Any:
    """``update(User)`` with a list of dicts: UPDATE each row named by its primary key."""
    from minialchemy.engine.result import CursorResult
    from minialchemy.sql.dml import update as core_update

    if strategy == "fetch":
        raise InvalidRequestError(
            "The 'fetch' synchronization strategy is not available for ORM bulk UPDATE by "
            "primary key (a list of parameter dicts); use 'auto', 'evaluate' or False"
        )
    if statement.whereclause is not None and strategy is not False:
        raise InvalidRequestError(
            "ORM bulk UPDATE by primary key with additional WHERE criteria cannot synchronize "
            "the session's objects; pass execution_options={'synchronize_session': False}"
        )
    table = mapper.local_table
    pk_columns = list(mapper.primary_key)
    # every dict is checked and translated before anything is written
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    by_key: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for index, given in enumerate(params):
        row = {statement._column_for_key(key).key: value for key, value in given.items()}
        missing = [c for c in pk_columns if c.key not in row]
        if missing:
            raise InvalidRequestError(
                f"No primary key value supplied for column(s) "
                f"{', '.join(f'{table.name}.{c.name}' for c in missing)} in parameter dict "
                f"#{index} {given!r}; ORM bulk UPDATE by primary key needs every dict to name the "
                f"primary key of the row to update"
            )
        pk = tuple(row[c.key] for c in pk_columns)
        values = {key: value for key, value in row.items() if key not in {c.key for c in pk_columns}}
        by_key.append((pk, values))
        if values:
            bound = dict(values)
            bound.update({f"_pk_{c.key}": row[c.key] for c in pk_columns})
            groups.setdefault(tuple(values), []).append(bound)
    connection = session._connection_for_bind()
    cause = f"ORM bulk UPDATE by primary key of {mapper.class_.__name__}"
    criteria = [c == elements.bindparam(f"_pk_{c.key}", type_=c.type) for c in pk_columns]
    if statement.whereclause is not None:
        criteria.append(statement.whereclause)
    matched_rows = 0
    for rows in groups.values():
        result = connection.execute(core_update(table).where(*criteria), rows, execution_options={"cause": cause})
        if result.rowcount != len(rows):
            raise StaleDataError(
                f"UPDATE statement on table {table.name!r} expected to update {len(rows)} row(s); "
                f"{result.rowcount} were matched (a primary key in the parameter dicts names no row)"
            )
        matched_rows += result.rowcount
    if strategy is not False:
        col_to_attr = mapper._col_to_attr
        for pk, values in by_key:
            obj = session.identity_map.get((mapper.class_, pk, None))
            if obj is not None and values:
                setters = {col_to_attr[table.c[key]]: (lambda d, v=value: v) for key, value in values.items()}
                _synchronize_update(session, [obj], setters)
    return CursorResult([], [], rowcount=matched_rows, returns_rows=False)


def _value_evaluators(mapper: Any, statement: Any, fallback_expire: bool = False) -> dict[str, Evaluator]:
    """``values(fullname="x", age=User.age + 1)`` -> attribute key -> evaluator of the new value.
    With ``fallback_expire``, a value that cannot be evaluated maps to None: the attribute is
    expired on matched objects instead (it reloads from the row on next access)."""
    setters: dict[str, Evaluator] = {}
    table = mapper.local_table
    for column_key, value in statement._values.items():
        attr_key = mapper._col_to_attr[table.c[column_key]]
        try:
            setters[attr_key] = evaluator_for(mapper, elements.coerce_expression(value, allow_literal=True))
        except UnevaluatableError:
            if not fallback_expire:
                raise
            setters[attr_key] = None  # type: ignore[assignment]
    return setters


def _evaluate_matches(session: Any, mapper: Any, matcher: Evaluator) -> list[Any]:
    """Objects of ``mapper``'s class in the identity map whose loaded values satisfy the WHERE.
    An object whose needed attributes are expired is not matched (its values will reload)."""
    matched = []
    cls = mapper.class_
    for key, obj in session.identity_map.items():
        if key[0] is not cls:
            continue
        if matcher(obj.__dict__) is True:
            matched.append(obj)
    return matched


def _synchronize_update(session: Any, matched: list[Any], setters: dict[str, Evaluator]) -> None:
    """Write the new values into matched objects as committed values (they are not dirty)."""
    state_key = _accel.instrumentation.STATE_KEY
    for obj in matched:
        d = obj.__dict__
        state = d[state_key]
        new_values = {}
        to_expire = []
        for key, evaluate in setters.items():
            value = _UNLOADED if evaluate is None else evaluate(d)
            if value is _UNLOADED:
                to_expire.append(key)
            else:
                new_values[key] = value
        for key, value in new_values.items():
            d[key] = value
            state.committed_state.pop(key, None)
            state.expired_attributes.discard(key)
        if to_expire:
            state.expire(to_expire)
            session._note_expired(obj, "an ORM-enabled UPDATE")
        if state.modified and not state.committed_state:
            state.modified = False
            session._modified.discard(obj)


def _synchronize_delete(session: Any, matched: list[Any]) -> None:
    """Matched objects become deleted: out of the identity map, back again on rollback."""
    state_key = _accel.instrumentation.STATE_KEY
    for obj in matched:
        state = obj.__dict__[state_key]
        if state.deleted_flag:
            continue
        session._deleted.discard(obj)  # its row is gone already: nothing left for a flush
        session._modified.discard(obj)
        session._mark_deleted(obj, state)
