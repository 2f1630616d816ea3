"""``Session.merge()``: copy the state of an object from outside the session onto the session's
own object with the same identity, and return that one.

The given object is never added; what comes back is the session's object for the same primary
key (Identity Map: one object per row in a session):

- already in the identity map: that object, with the given object's loaded attributes copied
  onto it (as attribute sets: it shows in ``session.dirty`` where a value differs);
- not there: loaded with ``Session.get`` (one SELECT), then the values copied; if there is no
  such row (or no primary key at all), a new pending object with the values, added to the
  session (``session.new``);
- ``load=False``: no SQL at all; the object is put in the identity map as persistent with the
  given values as its *committed* state (no history). For objects known to match the database,
  such as ones from a cache; a transient or modified object is refused.

Relationships with the ``merge`` cascade (the default ``"save-update, merge"``) that are loaded
on the given object are merged too, object by object, and the session's objects set on the
result.

Where it sits: called by ``Session.merge``; uses ``Session.get``, ``Session.add`` and the
identity map.
"""

from __future__ import annotations

from minialchemy import _accel
from minialchemy.exc import InvalidRequestError
from minialchemy.orm.mapper import _instance_str, object_mapper

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Sequence

__all__ = ["merge"]


def merge(session: Any, instance: Any, *, load: bool = True, options: Sequence[Any] | None = None) -> Any:
    """The session's object for ``instance``'s identity, carrying ``instance``'s state."""
    return _merge(session, instance, load, options, {})


def _merge(session: Any, instance: Any, load: bool, options: Sequence[Any] | None, merged_so_far: dict[int, Any]) -> Any:
    already = merged_so_far.get(id(instance))
    if already is not None:
        return already
    mapper = object_mapper(instance)
    instrumentation = _accel.instrumentation
    state = instrumentation.instance_state(instance)
    if state.session_id == session.hash_key:
        merged_so_far[id(instance)] = instance
        return instance  # already the session's own object
    if not load:
        _check_mergeable_without_load(instance, state)
    key = state.key
    if key is None:
        pk = mapper.primary_key_from_instance(instance)
        if None not in pk:
            key = mapper.identity_key_from_primary_key(pk)
    merged = session.identity_map.get(key) if key is not None else None
    if merged is None and key is not None:
        if load:
            merged = session.get(mapper.class_, key[1], options=options)
        else:
            merged = _persistent_copy(session, mapper, key, instance)
    if merged is None:
        # no such row: a new pending object (its INSERT will use the given primary key, if any)
        merged = mapper.class_.__new__(mapper.class_)
        instrumentation.new_state(merged, mapper)
        session.add(merged)
    merged_so_far[id(instance)] = merged
    _copy_columns(mapper, instance, merged, load)
    _merge_relationships(session, mapper, instance, merged, load, options, merged_so_far)
    return merged


def _check_mergeable_without_load(instance: Any, state: Any) -> None:
    if state.key is None:
        raise InvalidRequestError(
            f"merge() with load=False cannot take transient (never flushed) objects such as "
            f"{_instance_str(instance)}: without a SELECT nothing says its row exists "
            f"(flush it first, or merge with load=True)"
        )
    if state.modified or state.committed_state:
        raise InvalidRequestError(
            f"merge() with load=False cannot take objects with unflushed changes, such as "
            f"{_instance_str(instance)}: they would become the committed state unseen "
            f"(flush the changes first, or merge with load=True)"
        )


def _persistent_copy(session: Any, mapper: Any, key: tuple[Any, ...], instance: Any) -> Any:
    """``load=False``: a persistent object for ``key`` from ``instance``'s values, no SQL;
    attributes ``instance`` did not have loaded stay unloaded (expired) on the copy."""
    d = instance.__dict__
    keys = mapper._column_attr_keys
    merged = _accel.instrumentation.load_instance(
        mapper, session.identity_map, session.hash_key, key, keys, tuple(d.get(k) for k in keys)
    )
    missing = [k for k in keys if k not in d]
    if missing:
        _accel.instrumentation.instance_state(merged).expire(missing)
    return merged


def _copy_columns(mapper: Any, instance: Any, merged: Any, load: bool) -> None:
    source = instance.__dict__
    target = merged.__dict__
    for key in mapper._column_attr_keys:
        if key not in source:
            continue
        value = source[key]
        if not load:
            if key not in target:
                target[key] = value
        elif key not in target or target[key] != value:
            setattr(merged, key, value)


def _merge_relationships(
    session: Any, mapper: Any, instance: Any, merged: Any, load: bool, options: Any, merged_so_far: dict[int, Any]
) -> None:
    from minialchemy.orm.strategies import set_loaded

    source = instance.__dict__
    for key in mapper._relationship_keys:
        prop = mapper._props[key]
        if "merge" not in prop.cascade or key not in source:
            continue
        value = source[key]
        if prop.uselist:
            items = [_merge(session, item, load, options, merged_so_far) for item in value]
            if not load:
                set_loaded(merged, prop, items)
                continue
            current = getattr(merged, key)
            if len(current) != len(items) or any(a is not b for a, b in zip(current, items)):
                setattr(merged, key, items)
        else:
            item = None if value is None else _merge(session, value, load, options, merged_so_far)
            if not load:
                merged.__dict__[key] = item
            elif getattr(merged, key) is not item:
                setattr(merged, key, item)
