"""Attribute history: what changed in one attribute since it was loaded or last flushed.

``inspect(user).attrs.name.history`` (or ``get_history(user, "name")``) answers the unit of work's
question for one attribute, as a :class:`History` named tuple of three sequences:

- ``added``: the value (or the collection members) the next flush will write;
- ``unchanged``: the value the database has and the object still holds;
- ``deleted``: the value the database has that the object no longer holds.

The values follow SQLAlchemy 2.1 in every state (the tests record its answers):

============================== ============================================
state of the attribute         History
============================== ============================================
never set, or expired          ``((), (), ())``
transient / pending, set       ``(['bob'], (), ())``: all of it is new
persistent, loaded, unchanged  ``((), ['sandy'], ())``
persistent, changed            ``(['sandra'], (), ['sandy'])``
persistent, set back           ``((), ['sandy'], ())``: no net change
collection, appended to        ``([new], [the others], [])``
collection, removed from       ``([], [the others], [removed])``
============================== ============================================

Where the "before" value comes from: the first change of a column attribute (or of a many-to-one
reference) of a persistent object records the loaded value in ``InstanceState.committed_state``
(:mod:`minialchemy.orm.instrumentation`, :mod:`minialchemy.orm.relationships`); the first change
of a collection records a copy of its members there.  A flush, commit, rollback or expire
empties it: after those, there is nothing to compare with and the history is "unchanged".

Where it sits: read-only introspection over the instrumentation's state; nothing here changes an
object or emits SQL.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from minialchemy import _accel

__all__ = ["History", "get_history"]


class History(NamedTuple):
    """``History(added, unchanged, deleted)``: see the module docstring for the values."""

    added: Sequence[Any]
    unchanged: Sequence[Any]
    deleted: Sequence[Any]

    def has_changes(self) -> bool:
        """True if the next flush would write something for this attribute."""
        return bool(self.added or self.deleted)

    def empty(self) -> bool:
        """True when nothing is known: the attribute is unloaded (never set, or expired)."""
        return not (self.added or self.deleted or self.unchanged)

    def non_empty(self) -> bool:
        return not self.empty()

    def sum(self) -> list[Any]:
        """``added + unchanged + deleted`` as one list."""
        return [*self.added, *self.unchanged, *self.deleted]

    def non_added(self) -> list[Any]:
        """``unchanged + deleted``: what the database holds now."""
        return [*self.unchanged, *self.deleted]

    def non_deleted(self) -> list[Any]:
        """``added + unchanged``: what the object holds now."""
        return [*self.added, *self.unchanged]


#: the history of an attribute with no value loaded
EMPTY_HISTORY = History((), (), ())


def get_history(obj: Any, key: str) -> History:
    """``get_history(user, "name")``: the :class:`History` of one mapped attribute of ``obj``."""
    from minialchemy.orm.mapper import object_mapper

    mapper = object_mapper(obj)
    if key not in mapper._props:
        raise AttributeError(f"{type(obj).__name__} has no mapped attribute {key!r}")
    return attribute_history(_accel.instrumentation.instance_state(obj), key)


def attribute_history(state: Any, key: str) -> History:
    """The history of attribute ``key`` of the object behind ``state`` (a column, a many-to-one
    reference or a collection)."""
    d = state.dict
    if key not in d:
        return EMPTY_HISTORY
    current = d[key]
    prop = state.mapper._props[key]
    if getattr(prop, "uselist", False):
        return _collection_history(state, key, current)
    return _scalar_history(state, key, current)


def _scalar_history(state: Any, key: str, current: Any) -> History:
    """A column value or a many-to-one reference."""
    if state.key is None:  # transient or pending: nothing of it is in the database yet
        return History([current], (), ())
    committed = state.committed_state
    if key not in committed:
        return History((), [current], ())
    old = committed[key]
    if old is _accel.instrumentation.NO_VALUE:  # set while unloaded: the old value is unknown
        return History([current], (), ())
    if state.mapper._props[key].is_relationship:  # a reference: compared by identity
        if old is current:
            return History((), [current], ())
        return History([current], (), () if old is None else [old])
    if _same_value(old, current):
        return History((), [current], ())
    return History([current], (), [old])


def _same_value(old: Any, new: Any) -> bool:
    """Column values compare as the flush compares them (an UPDATE only for a real change)."""
    try:
        return bool(old == new) and type(old) is type(new)
    except Exception:  # a value type whose == raises: treat as changed
        return False


def _collection_history(state: Any, key: str, current: Sequence[Any]) -> History:
    """A one-to-many collection: members compared by identity, never ``==``."""
    committed = state.committed_state.get(key, _NOT_RECORDED)
    if committed is _NOT_RECORDED:  # not changed since it was loaded (or created empty)
        return History((), list(current), ())
    before = {id(member) for member in committed}
    now = {id(member) for member in current}
    return History(
        [member for member in current if id(member) not in before],
        [member for member in current if id(member) in before],
        [member for member in committed if id(member) not in now],
    )


_NOT_RECORDED = object()
