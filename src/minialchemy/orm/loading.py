"""Loading: rows from the database become objects, through the identity map.

For each row of ``select(User)`` the loader computes the identity key ``(User, (pk,), None)``;
if the identity map has that object, it is returned as it is (only its *expired* attributes are
filled from the row, so unflushed changes survive); otherwise a new object is made without
calling ``__init__``, its ``__dict__`` filled in one step and its state attached
(``instrumentation.load_instance``, the Cython fast path when compiled).

Where it sits: called by ``Session.execute`` / ``get`` / lazy loads / expired-attribute reloads.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

from minialchemy import _accel
from minialchemy.engine.result import Result
from minialchemy.sql.compiler import compile_element
from minialchemy.sql.elements import BinaryExpression, BindParameter, and_
from minialchemy.sql.selectable import select

__all__ = ["execute_select", "get_by_identity", "load_row_by_identity", "load_relationship"]


def _layout(statement: Any) -> list[tuple[str, Any, int]]:
    """For each selected item: (result key, mapper or None, number of columns it spans)."""
    layout = []
    for item in statement._raw_columns:
        mapper = item.__dict__.get("__mapper__") if isinstance(item, type) else None
        if mapper is not None:
            layout.append((item.__name__, mapper, len(mapper._column_attr_keys)))
        elif hasattr(item, "columns") and not hasattr(item, "type"):
            for column in item.columns:  # a Table: its columns, plainly
                layout.append((column.key, None, 1))
        else:
            layout.append((None, None, 1))
    return layout


def execute_select(session: Any, statement: Any, params: Any, cause: str | None) -> Result:
    """Run a SELECT for the session; ORM entities in it come back as objects."""
    connection = session._connection_for_bind()
    compiled = compile_element(statement, dialect="sqlite")
    result = connection.execute_compiled(
        compiled, compiled.construct_params(params), execution_options={"cause": cause} if cause else None
    )
    rows = result.raw_tuples()
    layout = _layout(statement)
    if not any(mapper is not None for _, mapper, _ in layout):
        return Result([key for key, _, _ in compiled.result_columns], rows)
    keys: list[str] = []
    position = 0
    for name, mapper, width in layout:
        keys.append(name if name is not None else compiled.result_columns[position][0])
        position += width
    if len(layout) == 1:
        # the common case, select(User): one entity spanning the whole row, loaded in one call
        # (a compiled loop when the Cython twin is active).  The Result keeps the objects
        # themselves; a 1-tuple Row is made only for a row taken as a row, never by scalars().
        objects = _accel.instrumentation.load_instances(layout[0][1], session.identity_map, session.hash_key, rows)
        return Result(keys, objects, single_values=True)
    return Result(keys, _instances(session, layout, rows))


def _instances(session: Any, layout: list[tuple[str, Any, int]], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows selecting several things (``select(User, Address)``, ``select(User, User.id)``):
    a tuple per row, each entity's columns made an object through the identity map."""
    load_instance = _accel.instrumentation.load_instance
    identity_map = session.identity_map
    session_id = session.hash_key
    out = []
    for row in rows:
        values: list[Any] = []
        position = 0
        for _, mapper, width in layout:
            if mapper is None:
                values.append(row[position])
            else:
                chunk = row[position : position + width]
                pk = tuple([chunk[i] for i in mapper._pk_positions])
                if None in pk:
                    values.append(None)
                else:
                    key = (mapper.class_, pk, None)
                    values.append(load_instance(mapper, identity_map, session_id, key, mapper._column_attr_keys, chunk))
            position += width
        out.append(tuple(values))
    return out


def _pk_criteria(mapper: Any, pk: Sequence[Any]) -> Any:
    return and_(*[column == value for column, value in zip(mapper.primary_key, pk)])


def get_by_identity(session: Any, mapper: Any, pk: tuple[Any, ...], cause: str | None) -> Any:
    """``Session.get`` on an identity-map miss: SELECT the row by primary key."""
    if None in pk:
        return None
    statement = select(mapper.class_).where(_pk_criteria(mapper, pk))
    return execute_select(session, statement, None, cause=cause).scalars().first()


def load_row_by_identity(session: Any, mapper: Any, pk: tuple[Any, ...], keys: list[str], cause: str) -> tuple[Any, ...] | None:
    """The values of attributes ``keys`` for the row with primary key ``pk`` (None if gone)."""
    columns = [mapper._props[k].column for k in keys]
    statement = select(*columns).where(_pk_criteria(mapper, pk))
    rows = execute_select(session, statement, None, cause=cause).all()
    return tuple(rows[0]) if rows else None


def load_relationship(session: Any, state: Any, prop: Any, cause: str) -> Any:
    """The lazy load: a many-to-one from the identity map when possible (no SQL), otherwise
    a SELECT; a one-to-many collection by SELECT on the foreign key."""
    from minialchemy.orm.relationships import MANYTOONE

    prop._resolve()
    obj = state.obj()
    target = prop.mapper
    if prop.direction == MANYTOONE:
        values = {one: getattr(obj, many) for one, many in prop.fk_attr_keys()}
        if any(v is None for v in values.values()):
            return None
        if set(values) == set(target._pk_attr_keys):
            pk = tuple(values[k] for k in target._pk_attr_keys)
            hit = session.identity_map.get((target.class_, pk, None))
            if hit is not None:
                return hit
        criteria = [target._props[one].column == value for one, value in values.items()]
        statement = select(target.class_).where(*criteria)
        return execute_select(session, statement, None, cause=cause).scalars().first()
    criteria = []
    for one, many in prop.fk_attr_keys():
        column = target._props[many].column
        # the parent's key on the left, as SQLAlchemy's lazy loader writes it: ? = address.user_id
        value = BindParameter("param", getattr(obj, one), type_=column.type, unique=True)
        criteria.append(BinaryExpression(value, column, operator.eq))
    statement = select(target.class_).where(*criteria)
    if prop.order_by is not None:
        order = prop.order_by if isinstance(prop.order_by, (list, tuple)) else [prop.order_by]
        statement = statement.order_by(*order)
    return execute_select(session, statement, None, cause=cause).scalars().all()
