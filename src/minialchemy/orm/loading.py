"""Loading: rows from the database become objects, through the identity map.

For each row of ``select(User)`` the loader looks the row's identity key ``(User, (pk,), None)``
up in the identity map (the compiled twin looks up the primary key value itself, as the map
keys its entries: ``IdentityMap`` in ``orm/identity.py``); if the map has that object, it is returned as it is (only its *expired* attributes are
filled from the row, so unflushed changes survive); otherwise a new object is made without
calling ``__init__``, its ``__dict__`` filled in one step and its state attached
(``instrumentation.load_instance``, the Cython fast path when compiled).

Where it sits: called by ``Session.execute`` / ``get`` / lazy loads / expired-attribute reloads.
"""

from __future__ import annotations

import gc
import operator

from minialchemy import _accel
from minialchemy.engine.result import Result
from minialchemy.orm import strategies
from minialchemy.sql.compiler import compile_element
from minialchemy.sql.elements import BinaryExpression, BindParameter, and_
from minialchemy.sql.selectable import from_clause_of, select

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Callable, Sequence

__all__ = [
    "execute_select",
    "fetch_rows",
    "get_by_identity",
    "fetch_compiled",
    "load_compiled_rows",
    "load_relationship",
    "load_row_by_identity",
    "relationship_criteria",
]


def _layout(statement: Any) -> list[tuple[str, Any, int]]:
    """For each selected item: (result key, mapper or None, number of columns it spans)."""
    layout = []
    for item in statement._raw_columns:
        if isinstance(item, type):
            mapper = item.__dict__.get("__mapper__")
        else:
            mapper = getattr(item, "_aliased_mapper", None)  # aliased(User)
        if mapper is not None:
            layout.append((item.__name__, mapper, len(mapper._column_attr_keys)))
        elif hasattr(item, "columns") and not hasattr(item, "type"):
            for column in item.columns:  # a Table: its columns, plainly
                layout.append((column.key, None, 1))
        else:
            layout.append((None, None, 1))
    return layout


#: a SELECT returning at least this many rows loads them with the garbage collector paused
COLLECTOR_PAUSE_ROWS = 1000


class collector_paused:  # noqa: N801 (named as a function: it is used like contextlib's)
    """Pause Python's cyclic garbage collector while many rows become objects.

    Loading makes objects and no garbage, but every few hundred new objects start a collection,
    and the full collections those cascade into walk every object alive: for 100 000 rows that
    was half the time of the load (``benchmarks/results/micro.md``).  Nothing is lost by waiting:
    the collector is switched back on at the end (if it was on), and runs as usual from there.
    A class rather than a ``@contextmanager`` generator: entering and leaving cost a tenth as
    much, and every ORM query enters it once.
    """

    __slots__ = ("_was_enabled",)

    def __enter__(self) -> None:
        self._was_enabled = gc.isenabled()
        if self._was_enabled:
            gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self._was_enabled:
            gc.enable()


def fetch_rows(session: Any, statement: Any, params: Any, cause: str | None) -> tuple[Any, list[tuple[Any, ...]]]:
    """Compile and run a SELECT in the session's transaction: the compiled statement and its
    rows, each value through its type's result processor."""
    compiled = compile_element(statement, dialect="sqlite")
    return compiled, fetch_compiled(session, compiled, compiled.construct_params(params), cause)


def fetch_compiled(session: Any, compiled: Any, parameters: tuple[Any, ...], cause: str | None) -> list[tuple[Any, ...]]:
    """Run an already compiled SELECT with its positional parameters in the session's
    transaction; its rows as plain tuples, each value converted by its type."""
    connection = session._connection_for_bind()
    result = connection.execute_compiled(compiled, parameters, execution_options={"cause": cause} if cause else None)
    return result.raw_tuples()


def execute_select(
    session: Any,
    statement: Any,
    params: Any,
    cause: str | None,
    execution_options: dict[str, Any] | None = None,
) -> Result:
    """Run a SELECT for the session; ORM entities in it come back as objects, their
    relationships loaded as the statement's options (or their ``lazy=``) say."""
    layout = _layout(statement)
    if not any(mapper is not None for _, mapper, _ in layout):
        compiled, rows = fetch_rows(session, statement, params, cause)
        return Result([key for key, _, _ in compiled.result_columns], rows)
    tree = strategies.build_load_tree(statement._with_options) if statement._with_options else None
    # joinedload / contains_eager / lazy="joined": more columns (and joins) in this statement
    entities = [(mapper, from_clause_of(item)) for item, (_, mapper, _) in zip(statement._raw_columns, layout) if mapper is not None]
    width = sum(w for _, _, w in layout)
    to_run, joined = strategies.plan_joined(statement, entities, tree, width)
    # The collector waits while the rows are fetched (they are garbage once loaded: walking
    # them would be wasted) and, for many rows, while they become objects.
    with collector_paused():
        compiled, rows = fetch_rows(session, to_run, params, cause)
        if len(rows) >= COLLECTOR_PAUSE_ROWS:
            result = _load_rows(session, statement, layout, tree, joined, compiled, rows, execution_options)
            # The rows go before the collector comes back: its first collection then walks
            # only the new objects, not 100 000 row tuples about to be freed anyway.
            del rows
            return result
    return _load_rows(session, statement, layout, tree, joined, compiled, rows, execution_options)


def _load_rows(
    session: Any,
    statement: Any,
    layout: list[tuple[str, Any, int]],
    tree: Any,
    joined: list[Any],
    compiled: Any,
    rows: list[tuple[Any, ...]],
    execution_options: dict[str, Any] | None,
) -> Result:
    """The rows of an ORM SELECT made objects, and their relationships loaded as planned."""
    populate_existing = bool(execution_options and execution_options.get("populate_existing"))
    if populate_existing:
        _expire_loaded(session, layout, rows)
    keys: list[str] = []
    position = 0
    for name, mapper, width in layout:
        keys.append(name if name is not None else compiled.result_columns[position][0])
        position += width
    if len(layout) == 1:
        # the common case, select(User): one entity spanning the whole row, loaded in one call
        # (a compiled loop when the Cython twin is active).  The Result keeps the objects
        # themselves; a 1-tuple Row is made only for a row taken as a row, never by scalars().
        mapper = layout[0][1]
        objects = _accel.instrumentation.load_instances(mapper, session.identity_map, session.hash_key, rows)
        if joined:
            strategies.populate_joined(session, joined, [(o,) for o in objects], rows, populate_existing)
        strategies.load_related(session, mapper, objects, tree, populate_existing)
        result = Result(keys, objects, single_values=True)
    else:
        tuples = _instances(session, layout, rows)
        entity_columns = [index for index, (_, mapper, _) in enumerate(layout) if mapper is not None]
        if joined:
            parents = [[row[i] for i in entity_columns] for row in tuples]
            strategies.populate_joined(session, joined, parents, rows, populate_existing)
        for index in entity_columns:
            strategies.load_related(session, layout[index][1], [row[index] for row in tuples], tree, populate_existing)
        result = Result(keys, tuples)
    # a parent repeated once per joined child row: SQLAlchemy insists on unique(), and so do we
    result._unique_required = any(loader.prop.uselist for loader in joined)
    return result


def _unique(result: Result) -> Result:
    """Loads made by the ORM itself take each object once (a joined eager collection repeats it)."""
    return result.unique() if result._unique_required else result


def load_compiled_rows(
    session: Any, compiled: Any, parameters: tuple[Any, ...], mapper: Any, cause: str, populate_existing: bool = False
) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """Run a compiled ``select(Entity, *more_columns)``: the entity's objects (through the
    identity map, their own relationships loaded by default) and the raw rows, whose extra
    columns come after the entity's.  Used by the eager loaders."""
    rows = fetch_compiled(session, compiled, parameters, cause)
    if populate_existing:
        _expire_loaded(session, [(None, mapper, len(mapper._column_attr_keys))], rows)
    objects = _accel.instrumentation.load_instances(mapper, session.identity_map, session.hash_key, rows)
    strategies.load_related(session, mapper, objects, None, populate_existing)
    return objects, rows


def _expire_loaded(session: Any, layout: list[tuple[str, Any, int]], rows: list[tuple[Any, ...]]) -> None:
    """``populate_existing``: objects already in the identity map that these rows load are
    expired first, so the rows' values replace theirs (unflushed changes included)."""
    identity_map = session.identity_map
    position = 0
    for _, mapper, width in layout:
        if mapper is not None:
            positions = [position + i for i in mapper._pk_positions]
            for row in rows:
                obj = identity_map.get((mapper.class_, tuple([row[i] for i in positions]), None))
                if obj is not None:
                    _accel.instrumentation.instance_state(obj).expire(None)
                    session._modified.discard(obj)
        position += width


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


def get_by_identity(
    session: Any,
    mapper: Any,
    pk: tuple[Any, ...],
    cause: str | None,
    options: Sequence[Any] = (),
    populate_existing: bool = False,
) -> Any:
    """``Session.get`` on an identity-map miss (or with ``populate_existing``): SELECT the row
    by primary key, with the loader options given."""
    if None in pk:
        return None
    statement = select(mapper.class_).where(_pk_criteria(mapper, pk))
    if options:
        statement = statement.options(*options)
    execution_options = {"populate_existing": True} if populate_existing else None
    result = execute_select(session, statement, None, cause=cause, execution_options=execution_options)
    return _unique(result).scalars().first()


def load_row_by_identity(session: Any, mapper: Any, pk: tuple[Any, ...], keys: list[str], cause: str) -> tuple[Any, ...] | None:
    """The values of attributes ``keys`` for the row with primary key ``pk`` (None if gone)."""
    columns = [mapper._props[k].column for k in keys]
    statement = select(*columns).where(_pk_criteria(mapper, pk))
    rows = execute_select(session, statement, None, cause=cause).all()
    return tuple(rows[0]) if rows else None


def relationship_criteria(prop: Any, obj: Any) -> list[Any] | None:
    """The WHERE criteria that select the objects related to ``obj`` through ``prop`` (the
    lazy load's, and ``with_parent()``'s): ``? = address.user_id`` for ``User.addresses``,
    ``user_account.id = ?`` for ``Address.user``, ``? = post_tag.post_id AND tag.id =
    post_tag.tag_id`` for the many-to-many ``Post.tags`` (the association table joins the
    FROM list); None when a foreign key is NULL."""
    from minialchemy.orm.relationships import MANYTOMANY, MANYTOONE

    prop._resolve()
    target = prop.mapper
    criteria = []
    if prop.direction == MANYTOONE:
        for one, many in prop.fk_attr_keys():
            value = getattr(obj, many)
            if value is None:
                return None
            criteria.append(target._props[one].column == value)
        return criteria
    if prop.direction == MANYTOMANY:
        parent = prop.parent
        for parent_column, association_column in prop.secondary_pairs:
            value = getattr(obj, parent._col_to_attr[parent_column])
            criteria.append(_parent_value_equals(value, association_column))
        criteria.extend(target_column == association_column for target_column, association_column in prop.secondary_target_pairs)
        return criteria
    for one, many in prop.fk_attr_keys():
        criteria.append(_parent_value_equals(getattr(obj, one), target._props[many].column))
    return criteria


def _parent_value_equals(value: Any, column: Any) -> Any:
    """The parent's key on the left, as SQLAlchemy's lazy loader writes it: ``? = address.user_id``."""
    return BinaryExpression(BindParameter("param", value, type_=column.type, unique=True), column, operator.eq)


def load_relationship(session: Any, state: Any, prop: Any, before_sql: Callable[[], str]) -> Any:
    """The lazy load: a many-to-one from the identity map when possible (no SQL), otherwise
    a SELECT; a one-to-many collection by SELECT on the foreign key; a many-to-many by SELECT
    of the target joined to the association table.  ``before_sql`` is called only when a
    SELECT is needed; it returns the cause the echo log shows (or raises, for
    ``raiseload(..., sql_only=True)``)."""
    from minialchemy.orm.relationships import MANYTOONE

    prop._resolve()
    obj = state.obj()
    target = prop.mapper
    criteria = relationship_criteria(prop, obj)
    if criteria is None:
        return None
    if prop.direction == MANYTOONE:
        values = {one: obj.__dict__.get(many) for one, many in prop.fk_attr_keys()}
        if set(values) == set(target._pk_attr_keys):
            pk = tuple(values[k] for k in target._pk_attr_keys)
            hit = session.identity_map.get((target.class_, pk, None))
            if hit is not None:
                if session._load_cause is None and _accel.instrumentation.instance_state(hit).expired_attributes:
                    # an expired target is checked as Session.get checks it (SQLAlchemy's lazy
                    # load takes it from the identity map the same way): a wholly expired one
                    # is loaded (autoflush, SELECT), and its row being gone gives None
                    # (differential seed 31).  The flush's own loads take it as it is.
                    return session.get(target.class_, pk)
                return hit
        statement = select(target.class_).where(*criteria)
        return _unique(execute_select(session, statement, None, cause=before_sql())).scalars().first()
    statement = select(target.class_).where(*criteria)
    if prop.order_by_clauses:
        statement = statement.order_by(*prop.order_by_clauses)
    return _unique(execute_select(session, statement, None, cause=before_sql())).scalars().all()
