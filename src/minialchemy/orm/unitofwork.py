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

from dataclasses import dataclass, field
from typing import Any

from minialchemy import _accel
from minialchemy.exc import StatementError
from minialchemy.orm import persistence
from minialchemy.orm.relationships import MANYTOONE, ONETOMANY, InstrumentedList

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
    """Phase 1: children of deleted parents, children removed from collections."""
    instrumentation = _accel.instrumentation
    for obj in list(session._deleted):
        mapper = type(obj).__mapper__
        for key in mapper._relationship_keys:
            prop = mapper._props[key]
            prop._resolve()
            if prop.direction != ONETOMANY or prop.viewonly or prop.passive_deletes:
                continue
            children = getattr(obj, key)  # loads the collection if needed (no autoflush: flushing)
            for child in list(children):
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
            collection = d.get(key)
            if not isinstance(collection, InstrumentedList) or not collection._removed:
                continue
            prop = mapper._props[key]
            for child in collection._removed:
                if any(item is child for item in collection):
                    continue
                child_state = instrumentation.instance_state(child)
                if "delete-orphan" in prop.cascade:
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
                for one, many in prop.fk_attr_keys():
                    _set_if_different(obj, many, None if parent is None else parent.__dict__.get(one))
    # one-to-many: a parent's collection lists the object (user.addresses.append(address))
    for parent_mapper, parents in saved.items():
        one_to_many = [p for p in _relationships(parent_mapper, ONETOMANY) if p.mapper is mapper]
        for parent in parents if one_to_many else ():
            pd = parent.__dict__
            for prop in one_to_many:
                collection = pd.get(prop.key)
                if not collection:
                    continue
                for child in collection:
                    if child in session._deleted or not _may_sync(session, child, parent, prop, direct_writes):
                        continue
                    for one, many in prop.fk_attr_keys():
                        _set_if_different(child, many, pd.get(one))


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
    saved = _saved_objects_by_mapper(session)
    steps = plan_flush(session, saved)
    instrumentation = _accel.instrumentation
    modified_count = len(session._modified)
    inserted: list[tuple[Any, list[Any]]] = []  # (mapper, its new objects), in INSERT order
    updated: list[Any] = []
    filled: list[Any] = []  # one persistence.FilledKeys per INSERT step: (object, key) pairs
    try:
        for step in steps:
            mapper = step.mapper
            if step.kind == "save":
                _sync_foreign_keys(session, mapper, saved, direct_writes)
                # Until the post-flush step, the only change to what a flush saves is a clean
                # object joining session._modified (a foreign key set by the sync above): an
                # unchanged size means ``saved`` is still exact.
                if len(session._modified) != modified_count:
                    saved = _saved_objects_by_mapper(session)
                    modified_count = len(session._modified)
                new = []
                changes = []
                for obj in saved.get(mapper, ()):
                    state = _state(obj)
                    if state.key is None:
                        new.append(obj)
                        continue
                    changed = instrumentation.update_params(state, obj.__dict__)
                    if changed:
                        changes.append((obj, changed))
                    updated.append(obj)
                if new:
                    _apply_python_defaults(mapper, new)
                    # client-assigned keys, batched RETURNING or per-row: persistence.emit_insert picks
                    filled.append(persistence.emit_insert(connection, mapper, new, cause))
                    inserted.append((mapper, new))
                if changes:
                    persistence.emit_update(connection, mapper, changes, cause)
            elif step.objects:
                persistence.emit_delete(connection, mapper, step.objects, cause)
    except BaseException:
        for keys_filled in filled:  # undo: these objects are pending again, without an id
            keys_filled.undo()
        raise
    _post_flush(session, inserted, updated)


def _post_flush(session: Any, inserted: list[tuple[Any, list[Any]]], updated: list[Any]) -> None:
    """Phase 3: the state transitions of a successful flush."""
    identity_map = session.identity_map
    mark_inserted = _accel.instrumentation.mark_inserted
    for mapper, objects in inserted:
        # pending -> persistent: identity key from the new primary key, into the identity map
        mark_inserted(mapper, identity_map, objects)
        session._txn_inserted.update(objects)
        if mapper._relationship_keys:
            for obj in objects:
                _clear_removed(obj)
    for obj in updated:
        _state(obj)._commit_all()
        _clear_removed(obj)
    for obj in session._deleted:
        session._mark_deleted(obj, _state(obj))
    session._new.clear()
    session._modified.clear()
    session._deleted.clear()


def _clear_removed(obj: Any) -> None:
    for key in type(obj).__mapper__._relationship_keys:
        collection = obj.__dict__.get(key)
        if isinstance(collection, InstrumentedList):
            collection._removed.clear()
