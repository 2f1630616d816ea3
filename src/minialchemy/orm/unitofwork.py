"""The Unit of Work: turn the session's pending changes into an ordered plan, then run it.

A flush goes in three phases:

1. **Prepare**: objects deleted by ``session.delete()`` have their one-to-many children handled
   (with ``cascade="delete"`` they were already marked for deletion; otherwise each child's
   foreign key is set to NULL, which loads the collection: the SELECT on ``address`` you see
   before a user is deleted).  Children removed from a collection are deleted
   (``delete-orphan``) or have their foreign key cleared.
2. **Plan** (:func:`plan_flush`): mappers sorted parents-first by foreign keys; for each, a
   "save" step (INSERT new objects, UPDATE changed ones) and, in reverse order, a "delete" step.
   Before a table's save step, foreign keys of its objects are copied from their parents'
   primary keys, which exist by then because parents were saved first.
3. **Post-flush**: new objects get their identity key and enter the identity map (pending ->
   persistent), changes are marked committed, deleted objects leave the identity map
   (persistent -> deleted).  If any statement fails, primary keys filled in by this flush are
   removed again and the session refuses work until ``rollback()``.

Where it sits: called by ``Session._flush``; writes through :mod:`minialchemy.orm.persistence`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from minialchemy import _accel
from minialchemy.exc import CircularDependencyError, SAWarning, StatementError
from minialchemy.orm import persistence
from minialchemy.orm.mapper import _identity_str, _instance_str
from minialchemy.orm.exc import StaleDataError
from minialchemy.orm.relationships import (
    MANYTOMANY,
    MANYTOONE,
    ONETOMANY,
    InstrumentedList,
    _replaced_children,
    replaced_children,
)
from minialchemy.sql.dml import delete as delete_statement
from minialchemy.sql.dml import insert as insert_statement
from minialchemy.sql.elements import bindparam

__all__ = ["flush", "plan_flush", "FlushStep"]


@dataclass
class FlushStep:
    """One step of the plan: ``kind`` is "save" or "delete" for one mapper."""

    kind: str
    mapper: Any
    objects: list[Any] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<FlushStep {self.kind} {self.mapper.class_.__name__} ({len(self.objects)} objects)>"


def _state(obj: Any) -> Any:
    return obj.__dict__[_accel.instrumentation.STATE_KEY]


def _sort_key(mapper: Any) -> tuple[int, int]:
    tables = mapper.local_table.metadata.sorted_tables
    return (id(mapper.local_table.metadata), tables.index(mapper.local_table))


def _saved_objects_by_mapper(session: Any) -> dict[Any, list[Any]]:
    """The new and modified objects not marked for deletion, grouped by mapper, in the order
    they joined the session (one pass, so each step of a flush need not scan them all)."""
    deleted = session._deleted
    groups: dict[Any, list[Any]] = {}
    for obj in [*session._new, *session._modified]:
        if deleted and obj in deleted:
            continue
        mapper = type(obj).__mapper__
        group = groups.get(mapper)
        if group is None:
            groups[mapper] = [obj]
        else:
            group.append(obj)
    return groups


def plan_flush(session: Any, saved: dict[Any, list[Any]] | None = None) -> list[FlushStep]:
    """The steps of the next flush, in execution order (parents saved first, children deleted
    first).  Reading the plan changes nothing.  ``saved``: the objects to save by mapper, if
    the caller has them already."""
    if saved is None:
        saved = _saved_objects_by_mapper(session)
    deleted: dict[Any, list[Any]] = {}
    for obj in session._deleted:
        deleted.setdefault(type(obj).__mapper__, []).append(obj)
    mappers: dict[int, Any] = {}
    for mapper in [*saved, *deleted]:
        mappers[id(mapper)] = mapper
        for key in mapper._relationship_keys:
            prop = mapper._props[key]
            prop._resolve()
            mappers.setdefault(id(prop.mapper), prop.mapper)
    ordered = sorted(mappers.values(), key=_sort_key)
    steps = [FlushStep("save", m, saved.get(m, [])) for m in ordered]
    steps.extend(FlushStep("delete", m, deleted[m]) for m in reversed(ordered) if m in deleted)
    return steps


def _prepare_deletes_and_orphans(session: Any) -> None:
    """Phase 1: children of deleted parents, children removed from collections (or replaced
    in a one-to-one)."""
    instrumentation = _accel.instrumentation
    for obj in list(session._deleted):
        mapper = type(obj).__mapper__
        for key in mapper._relationship_keys:
            prop = mapper._props[key]
            prop._resolve()
            if prop.direction != ONETOMANY or prop.viewonly:
                continue
            if prop.passive_deletes:
                # the database's ON DELETE handles the rows; only children already loaded
                # are seen to (deleted or detached from the parent), none is loaded for it
                children = obj.__dict__.get(key)
            else:
                # loads the collection if needed (no autoflush: flushing); the log says why
                what = "delete them" if "delete" in prop.cascade else (
                    f"set {', '.join(many for _, many in prop.fk_attr_keys())} NULL on them")
                with session.loading_because(
                    f"flush: load {mapper.class_.__name__}.{key} to {what}, the children of deleted "
                    f"{_identity_str(obj)}"
                ):
                    children = getattr(obj, key)
            for child in _as_list(children):
                if child in session._deleted:
                    continue
                if "delete" in prop.cascade:
                    session.delete(child)
                    continue
                for _, many in prop.fk_attr_keys():
                    setattr(child, many, None)
                if prop.back_populates and child.__dict__.get(prop.back_populates) is obj:
                    child.__dict__[prop.back_populates] = None
    for obj in [*session._new, *session._modified]:
        mapper = type(obj).__mapper__
        d = obj.__dict__
        for key in mapper._relationship_keys:
            value = d.get(key)
            if isinstance(value, InstrumentedList):
                if not value._removed or value._committed is not None:  # many-to-many: association rows
                    continue
                removed = value._removed
            else:
                removed = replaced_children(obj, key)
                if not removed:
                    continue
            prop = mapper._props[key]
            for child in removed:
                if child is value or (isinstance(value, InstrumentedList) and any(item is child for item in value)):
                    continue
                child_state = instrumentation.instance_state(child)
                if "delete-orphan" in prop.cascade and not _has_other_parent(prop, child, obj):
                    if child_state.key is not None:
                        session.delete(child)
                    elif child_state.session_id == session.hash_key:
                        session.expunge(child)
                    continue
                if child_state.key is None and child_state.session_id is None:
                    continue
                owner_values = [d.get(one) for one, _ in prop.fk_attr_keys()]
                child_d = child.__dict__
                if all(child_d.get(many) == value for (_, many), value in zip(prop.fk_attr_keys(), owner_values)):
                    for _, many in prop.fk_attr_keys():
                        setattr(child, many, None)


def _as_list(value: Any) -> list[Any]:
    """A relationship's value as a list: a collection, or a one-to-one's object (or nothing)."""
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [value]


def _has_other_parent(prop: Any, child: Any, parent: Any) -> bool:
    """The removed child now belongs to another parent (through ``back_populates``): not an
    orphan."""
    if not prop.back_populates:
        return False
    other = child.__dict__.get(prop.back_populates)
    return other is not None and other is not parent


# -- self-referential tables: rows in dependency order ------------------------------------------


def _self_referential(mapper: Any) -> list[Any]:
    """The relationships of ``mapper`` to itself (an adjacency list), configured."""
    props = [mapper._props[key] for key in mapper._relationship_keys]
    for prop in props:
        prop._resolve()
    return [p for p in props if p.mapper is mapper and p.direction in (MANYTOONE, ONETOMANY) and not p.viewonly]


def _parent_edges(props: list[Any], objects: list[Any], among: list[Any]) -> list[tuple[Any, Any]]:
    """``(parent, child)`` pairs between objects of ``among`` (the new ones), from the
    relationships ``props`` of a self-referential mapper as they are in memory: a child's
    many-to-one, or a parent's one-to-many collection (``objects``: every saved object)."""
    ids = {id(o) for o in among}
    edges = []
    for obj in objects:
        d = obj.__dict__
        for prop in props:
            if prop.key not in d:
                continue
            if prop.direction == MANYTOONE:
                parent = d[prop.key]
                if parent is not None and id(obj) in ids and id(parent) in ids:
                    edges.append((parent, obj))
            elif id(obj) in ids:
                edges.extend((obj, child) for child in _as_list(d[prop.key]) if id(child) in ids)
    return edges


def _levels(objects: list[Any], edges: list[tuple[Any, Any]], what: str) -> list[list[Any]]:
    """Topological sort by levels: level 0 has no parent among ``objects``, level n only
    parents in the levels before it; each level keeps the order of ``objects``.  Rows that
    depend on each other in a circle raise CircularDependencyError."""
    parents_left = {id(o): 0 for o in objects}
    children: dict[int, list[Any]] = {}
    for parent, child in edges:
        if parent is child:
            parents_left[id(child)] += 1
            continue
        parents_left[id(child)] += 1
        children.setdefault(id(parent), []).append(child)
    levels = []
    current = [o for o in objects if parents_left[id(o)] == 0]
    placed = 0
    while current:
        levels.append(current)
        placed += len(current)
        released = set()
        for parent in current:
            for child in children.get(id(parent), ()):
                parents_left[id(child)] -= 1
                if parents_left[id(child)] == 0:
                    released.add(id(child))
        current = [o for o in objects if id(o) in released]
    if placed != len(objects):
        from minialchemy.orm.mapper import _instance_str

        stuck = [o for o in objects if parents_left[id(o)] > 0]
        names = ", ".join(_instance_str(o) for o in stuck[:6]) + (" ..." if len(stuck) > 6 else "")
        raise CircularDependencyError(
            f"Circular dependency detected: {len(stuck)} {what} depend on each other in a circle "
            f"({names}); no order of statements satisfies their foreign keys.  Break the cycle "
            f"(set one of these parents to None) before flushing.",
            cycles=stuck,
            edges=[(p, c) for p, c in edges if id(c) in {id(o) for o in stuck}],
        )
    return levels


def insert_levels(mapper: Any, new: list[Any], saved: list[Any]) -> list[list[Any]]:
    """The new objects of a self-referential ``mapper`` in INSERT order, as levels of the
    tree: parents (level 0) before their children (level 1) before theirs.  Each level can be
    one batch: its parents' primary keys exist when its foreign keys are copied."""
    props = _self_referential(mapper)
    if not props or len(new) < 2:
        return [new]
    # (``saved``: every object the flush saves of this mapper, new or not: a persistent
    # parent's collection may list new children)
    return _levels(new, _parent_edges(props, saved, new), f"new {mapper.class_.__name__} objects")


def delete_levels(session: Any, mapper: Any, deleted: list[Any]) -> list[list[Any]]:
    """The deleted objects of a self-referential ``mapper`` in DELETE order: leaves first,
    then their parents.  Ordered by the foreign-key values the rows hold."""
    props = _self_referential(mapper)
    if not props or len(deleted) < 2:
        return [deleted]
    pairs = props[0].pairs
    one_keys = [mapper._col_to_attr[one] for one, _ in pairs]
    many_keys = [mapper._col_to_attr[many] for _, many in pairs]
    with session.no_autoflush:
        by_key = {tuple(getattr(o, k) for k in one_keys): o for o in deleted}
        edges = []
        for obj in deleted:
            parent = by_key.get(tuple(getattr(obj, k) for k in many_keys))
            if parent is not None:
                edges.append((parent, obj))
    levels = _levels(deleted, edges, f"deleted {mapper.class_.__name__} objects")
    levels.reverse()
    return levels


# -- many-to-many: association rows -------------------------------------------------------------


class AssociationRows:
    """The association-table rows a flush inserts and deletes (many-to-many ``secondary=``),
    each once even when both sides of the relationship show the change."""

    def __init__(self) -> None:
        self.to_insert: dict[Any, dict[tuple[Any, ...], dict[Any, Any]]] = {}
        self.to_delete: dict[Any, dict[tuple[Any, ...], dict[Any, Any]]] = {}

    @staticmethod
    def _row(prop: Any, owner: Any, item: Any) -> dict[Any, Any]:
        row = {}
        for parent_column, column in prop.secondary_pairs:
            row[column] = getattr(owner, prop.parent._col_to_attr[parent_column])
        for target_column, column in prop.secondary_target_pairs:
            row[column] = getattr(item, prop.mapper._col_to_attr[target_column])
        return row

    def _add(self, into: dict[Any, Any], prop: Any, owner: Any, item: Any) -> None:
        row = self._row(prop, owner, item)
        table = prop.secondary_table
        key = tuple(row.get(c) for c in table.columns)
        into.setdefault(table, {})[key] = row

    def insert(self, prop: Any, owner: Any, item: Any) -> None:
        self._add(self.to_insert, prop, owner, item)

    def delete(self, prop: Any, owner: Any, item: Any) -> None:
        self._add(self.to_delete, prop, owner, item)

    def __bool__(self) -> bool:
        return bool(self.to_insert or self.to_delete)


def _many_to_many(mapper: Any) -> list[Any]:
    props = [mapper._props[key] for key in mapper._relationship_keys]
    for prop in props:
        prop._resolve()
    return [p for p in props if p.direction == MANYTOMANY and not p.viewonly]


def association_rows_of_deleted(session: Any) -> list[tuple[Any, Any, Any]]:
    """``(relationship, deleted object, related object)`` for each association row a deleted
    object has: its many-to-many collections are loaded (one SELECT each, as in SQLAlchemy)."""
    links = []
    for obj in list(session._deleted):
        for prop in _many_to_many(type(obj).__mapper__):
            collection = getattr(obj, prop.key)
            committed = collection._committed if isinstance(collection, InstrumentedList) else None
            for item in committed if committed is not None else _as_list(collection):
                links.append((prop, obj, item))
    return links


def association_changes(session: Any, saved: dict[Any, list[Any]], of_deleted: list[tuple[Any, Any, Any]]) -> AssociationRows:
    """The association rows to write, once the objects on both sides have primary keys: for
    each many-to-many collection, a row per member added since it was loaded (or flushed)
    and a row deleted per member removed, and the rows of deleted objects."""
    rows = AssociationRows()
    deleted = session._deleted
    for mapper, objects in saved.items():
        props = _many_to_many(mapper)
        for obj in objects if props else ():
            d = obj.__dict__
            for prop in props:
                collection = d.get(prop.key)
                if not isinstance(collection, InstrumentedList) or collection._committed is None:
                    continue
                committed = collection._committed
                before = {id(item) for item in committed}
                now = {id(item) for item in collection}
                for item in collection:
                    if id(item) not in before and item not in deleted:
                        rows.insert(prop, obj, item)
                for item in committed:
                    if id(item) not in now:
                        rows.delete(prop, obj, item)
    for prop, obj, item in of_deleted:
        rows.delete(prop, obj, item)
    return rows


def emit_association_rows(connection: Any, rows: AssociationRows, cause: str) -> None:
    """DELETE the association rows that went (``DELETE FROM post_tag WHERE post_tag.post_id = ?
    AND post_tag.tag_id = ?``, one executemany per table), then INSERT the new ones."""
    for table, found in rows.to_delete.items():
        params = list(found.values())
        columns = list(params[0])
        statement = delete_statement(table).where(*[c == bindparam(c.key) for c in columns])
        result = connection.execute(
            statement,
            [{c.key: row[c] for c in columns} for row in params],
            execution_options={"cause": f"{cause}: association rows"},
        )
        if result.rowcount != len(params):
            raise StaleDataError(
                f"DELETE statement on table {table.name!r} expected to delete {len(params)} row(s); "
                f"only {result.rowcount} were matched (were the association rows changed by "
                f"someone else?)"
            )
    for table, found in rows.to_insert.items():
        params = [{c.key: v for c, v in row.items()} for row in found.values()]
        connection.execute(insert_statement(table), params, execution_options={"cause": f"{cause}: association rows"})


def _set_if_different(obj: Any, key: str, value: Any) -> None:
    if obj.__dict__.get(key, _MISSING) != value or key not in obj.__dict__:
        setattr(obj, key, value)


_MISSING = object()


def _relationships(mapper: Any, direction: str) -> list[Any]:
    props = [mapper._props[key] for key in mapper._relationship_keys]
    for prop in props:
        prop._resolve()
    return [prop for prop in props if prop.direction == direction]


def _direct_foreign_key_writes(session: Any) -> set[tuple[int, str]]:
    """``(id(object), attribute)`` of foreign-key attributes the user set on persistent objects
    since the last flush (taken before this flush writes any itself)."""
    writes = set()
    for obj in session._modified:
        committed = _state(obj).committed_state
        if committed:
            mapper = type(obj).__mapper__
            for column in mapper.local_table.columns:
                key = mapper._col_to_attr.get(column)
                if column.foreign_keys and key in committed:
                    writes.add((id(obj), key))
    return writes


def _may_sync(session: Any, child: Any, parent: Any, prop: Any, direct_writes: set[tuple[int, str]]) -> bool:
    """Whether the flush copies ``parent``'s key into ``child``'s foreign key (as SQLAlchemy):
    not when the foreign key was set directly since the last flush (``a.user_id = None`` wins
    over a loaded, unchanged ``a.user``), nor from a parent outside this session or deleted."""
    if direct_writes and any((id(child), many) in direct_writes for _, many in prop.fk_attr_keys()):
        return False
    if parent is None:
        return True
    parent_state = _state(parent)
    return parent_state.session_id == session.hash_key and not parent_state.deleted_flag and parent not in session._deleted


def _sync_foreign_keys(
    session: Any, mapper: Any, saved: dict[Any, list[Any]], direct_writes: set[tuple[int, str]] = frozenset()  # type: ignore[assignment]
) -> None:
    """Copy parents' primary keys into the foreign keys of ``mapper``'s objects (``saved``:
    the flush's objects by mapper)."""
    # many-to-one: the object refers to its parent (address.user)
    many_to_one = _relationships(mapper, MANYTOONE)
    if many_to_one:
        for obj in saved.get(mapper, ()):
            d = obj.__dict__
            for prop in many_to_one:
                if prop.key not in d:
                    continue
                parent = d[prop.key]
                if not _may_sync(session, obj, parent, prop, direct_writes):
                    continue
                switched = parent is not None and _primary_key_switched(parent)
                for one, many in prop.fk_attr_keys():
                    value = None if parent is None else parent.__dict__.get(one)
                    _sync_foreign_key(obj, many, value, switched)
    # one-to-many: a parent's collection lists the object (user.addresses.append(address))
    for parent_mapper, parents in saved.items():
        one_to_many = [p for p in _relationships(parent_mapper, ONETOMANY) if p.mapper is mapper]
        for parent in parents if one_to_many else ():
            pd = parent.__dict__
            switched = _primary_key_switched(parent)
            for prop in one_to_many:
                collection = pd.get(prop.key)
                if not collection:
                    continue
                for child in _as_list(collection):
                    if child in session._deleted or not _may_sync(session, child, parent, prop, direct_writes):
                        continue
                    for one, many in prop.fk_attr_keys():
                        _sync_foreign_key(child, many, pd.get(one), switched)


def _primary_key_switched(parent: Any) -> bool:
    """True when this flush changes ``parent``'s primary key (an UPDATE of its key column):
    its identity key still holds the old value until the post-flush step."""
    state = _state(parent)
    if state.key is None:
        return False
    d = parent.__dict__
    return tuple([d.get(key) for key in state.mapper._pk_attr_keys]) != state.key[1]


def _sync_foreign_key(child: Any, key: str, value: Any, parent_key_switched: bool) -> None:
    """Give ``child``'s foreign key attribute ``key`` its parent's key ``value``.

    When the parent's own primary key changed and ``child`` is persistent, do as SQLAlchemy
    does by default (``passive_updates``): the UPDATE of the parent's key is the database's to
    cascade (``ForeignKey(..., onupdate="CASCADE")``), so the loaded child gets the new value
    in memory, as already committed, and no UPDATE of its own; children that are not loaded
    are left to the database too.
    """
    if parent_key_switched and _state(child).key is not None:
        _accel.instrumentation.set_committed_value(child, key, value)
    else:
        _set_if_different(child, key, value)


def _apply_python_defaults(mapper: Any, objects: list[Any]) -> None:
    """``mapped_column(default=7)``: a new object that never set the attribute gets the
    default (called, if it is a callable) at INSERT time, not in ``__init__``."""
    defaulted = [p for p in mapper._column_props if p.column.default is not None]
    for obj in objects:
        d = obj.__dict__
        for prop in defaulted:
            if prop.key not in d:
                try:
                    d[prop.key] = prop.column.default_value()
                except Exception as error:  # as a Core INSERT reports it: StatementError
                    raise StatementError.from_exception(
                        error,
                        persistence.single_row_insert_sql(mapper, d),
                        {k: d.get(k) for k in mapper._column_attr_keys if k in d},
                    ) from error


def flush(session: Any, cause: str) -> None:
    """Run one flush of ``session`` (see the module docstring)."""
    connection = session._connection_for_bind()
    direct_writes = _direct_foreign_key_writes(session)
    _prepare_deletes_and_orphans(session)
    links_of_deleted = association_rows_of_deleted(session)
    saved = _saved_objects_by_mapper(session)
    steps = plan_flush(session, saved)
    instrumentation = _accel.instrumentation
    modified_count = len(session._modified)
    inserted: list[tuple[Any, list[Any]]] = []  # (mapper, its new objects), in INSERT order
    updated: list[Any] = []
    filled: list[Any] = []  # one persistence.FilledKeys per INSERT step: (object, key) pairs
    doing: tuple[str, Any, list[Any]] = ("prepare", None, [])  # (statement kind, mapper, objects)
    try:
        for step in steps:
            if step.kind != "save":
                continue
            mapper = step.mapper
            _sync_foreign_keys(session, mapper, saved, direct_writes)
            # Until the post-flush step, the only change to what a flush saves is a clean
            # object joining session._modified (a foreign key set by the sync above): an
            # unchanged size means ``saved`` is still exact.
            if len(session._modified) != modified_count:
                saved = _saved_objects_by_mapper(session)
                modified_count = len(session._modified)
            new = []
            persistent = []
            for obj in saved.get(mapper, ()):
                (new if _state(obj).key is None else persistent).append(obj)
            if new:
                _apply_python_defaults(mapper, new)
                # a table that refers to itself (a tree): parents' rows before children's
                self_referential = bool(_self_referential(mapper))
                levels = insert_levels(mapper, new, saved.get(mapper, [])) if self_referential else [new]
                for number, level in enumerate(levels):
                    if number:
                        # the parents of this level have their primary keys now
                        _sync_foreign_keys(session, mapper, saved, direct_writes)
                        if len(session._modified) != modified_count:
                            saved = _saved_objects_by_mapper(session)
                            modified_count = len(session._modified)
                    # client-assigned keys, batched RETURNING or per-row: persistence.emit_insert picks
                    _warn_if_identity_taken(session, mapper, level)
                    doing = ("INSERT", mapper, level)
                    filled.append(persistence.emit_insert(connection, mapper, level, cause))
                inserted.append((mapper, new))
                if self_referential:
                    # existing rows moved under a new parent get its key now
                    _sync_foreign_keys(session, mapper, saved, direct_writes)
                    if len(session._modified) != modified_count:
                        saved = _saved_objects_by_mapper(session)
                        modified_count = len(session._modified)
                        # (the objects just inserted get their identity key only after the flush)
                        persistent = [obj for obj in saved.get(mapper, ()) if _state(obj).key is not None]
            changes = []
            for obj in persistent:
                state = _state(obj)
                changed = instrumentation.update_params(state, obj.__dict__)
                if changed:
                    changes.append((obj, changed))
                updated.append(obj)
            if changes:
                doing = ("UPDATE", mapper, [obj for obj, _ in changes])
                persistence.emit_update(connection, mapper, changes, cause)
        links = association_changes(session, saved, links_of_deleted)
        if links:
            doing = ("association rows", None, [])
            emit_association_rows(connection, links, cause)
        for step in steps:
            if step.kind == "delete" and step.objects:
                # a table that refers to itself: children's rows before their parents'
                for level in delete_levels(session, step.mapper, step.objects):
                    doing = ("DELETE", step.mapper, level)
                    persistence.emit_delete(connection, step.mapper, level, cause)
    except BaseException as error:
        for keys_filled in filled:  # undo: these objects are pending again, without an id
            keys_filled.undo()
        if isinstance(error, StatementError):
            for line in _failure_context(session, *doing, error):
                error.add_detail(line)
        raise
    _post_flush(session, inserted, updated)


def _warn_if_identity_taken(session: Any, mapper: Any, objects: list[Any]) -> None:
    """A new object whose primary key the identity map already holds for another (loaded, not
    deleted) object: its INSERT will fail; say so first, naming the identity key, as
    SQLAlchemy does."""
    identity_map = session.identity_map
    cls = mapper.class_
    for obj in objects:
        pk = mapper.primary_key_from_instance(obj)
        if None in pk:
            continue
        held = identity_map.get((cls, pk, None))
        if held is None or held is obj or held in session._deleted or _state(held).expired:
            continue  # (an expired one may have lost its row: SQLAlchemy checks by loading it)
        else:
            warnings.warn(
                f"New instance {_instance_str(obj)} with identity key {(cls, pk, None)!r} conflicts "
                f"with persistent instance {_instance_str(held)}: the identity map already holds "
                f"{_identity_str(held)}, so the database will refuse this INSERT of the same primary "
                f"key. To change that row, change the object you have "
                f"(session.get({cls.__name__}, {pk[0] if len(pk) == 1 else pk!r})) instead of adding "
                f"a new one",
                SAWarning,
                stacklevel=5,
            )


def _failure_context(session: Any, kind: str, mapper: Any, objects: list[Any], error: StatementError) -> list[str]:
    """Lines saying what the flush was doing when a statement failed: the step, the object,
    and for a NOT NULL foreign key of a deleted parent's children, the cascade that fixes it."""
    if mapper is None:
        return [f"flush step: {kind}"]
    name = mapper.class_.__name__
    count = f"{len(objects)} {name} object{'s' if len(objects) != 1 else ''}"
    lines = [f"flush step: {kind} of {count}"]
    culprit = _failed_object(mapper, objects, error)
    if culprit is not None:
        lines.append(f"flush object: {_identity_str(culprit)}")
    message = str(getattr(error, "orig", None) or "")
    if kind == "UPDATE" and "NOT NULL constraint failed" in message:
        column = message.rsplit(".", 1)[-1].strip()
        for parent in session._deleted:
            for key in type(parent).__mapper__._relationship_keys:
                prop = type(parent).__mapper__._props[key]
                if prop.direction != ONETOMANY or prop.mapper is not mapper or "delete" in prop.cascade:
                    continue
                if column in [many for _, many in prop.fk_attr_keys()]:
                    lines.append(
                        f"{name}.{column} is NOT NULL, and {_identity_str(parent)} was deleted: without "
                        f"a delete cascade the flush sets its children's {column} to NULL. To delete "
                        f"them with it: relationship(cascade=\"all, delete-orphan\") on "
                        f"{type(parent).__name__}.{key}"
                    )
                    return lines
    return lines


def _failed_object(mapper: Any, objects: list[Any], error: StatementError) -> Any:
    """The object whose row the failed statement wrote, when it can be told: the only one, or
    for an UPDATE / DELETE the one whose primary key ends the statement's parameters."""
    if len(objects) == 1:
        return objects[0]
    params = error.params
    if not isinstance(params, tuple):
        return None
    width = len(mapper.primary_key)
    for obj in objects:
        state = _state(obj)
        if state.key is not None and tuple(params[-width:]) == tuple(state.key[1]):
            return obj
    return None


def _post_flush(session: Any, inserted: list[tuple[Any, list[Any]]], updated: list[Any]) -> None:
    """Phase 3: the state transitions of a successful flush."""
    for mapper, objects in inserted:
        # pending -> persistent: identity key from the new primary key, into the identity map
        session._mark_flushed_inserts(mapper, objects)
        if mapper._relationship_keys:
            for obj in objects:
                _clear_removed(obj)
    # changes committed; a changed primary key moves the identity key
    session._mark_flushed_updates(updated)
    for obj in updated:
        _clear_removed(obj)
    for obj in session._deleted:
        session._mark_deleted(obj, _state(obj))
    session._new.clear()
    session._modified.clear()
    session._deleted.clear()


def _clear_removed(obj: Any) -> None:
    """After a flush: collections hold what the database holds, no child is pending removal."""
    for key in type(obj).__mapper__._relationship_keys:
        collection = obj.__dict__.get(key)
        if isinstance(collection, InstrumentedList):
            collection._mark_committed()
    _replaced_children.clear(obj)
