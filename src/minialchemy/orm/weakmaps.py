"""Weak maps: registries that do not keep what they hold alive.

The ORM keeps bookkeeping beside objects it does not own: the live sessions by id
(:mod:`minialchemy.orm.session_registry`), caches keyed by a mapper, a relationship or an
object's state (:mod:`minialchemy.orm.strategies`, :mod:`minialchemy.orm.persistence`), the live
registries and the objects a rollback left expired.  An entry must leave when what it holds
weakly is garbage-collected, which is what :class:`weakref.WeakValueDictionary`,
:class:`weakref.WeakKeyDictionary` and :class:`weakref.WeakSet` do.  These classes do the same for
the few operations the ORM uses, on ``_weakref.ref`` -- the built-in module behind
``weakref.ref``, loaded when the interpreter starts -- so that neither ``import minialchemy.orm``
nor a first query pays for importing ``weakref.py`` (issue 12's import time;
``tests/test_imports.py`` holds it).

Keys of a :class:`WeakKeyMap` and members of a :class:`WeakIdentitySet` are compared by identity
(a mapper, a relationship, a state, a registry: none defines ``==``; a mapped object may, and the
ORM tells objects apart by identity, as the identity map does).  Each entry holds a weak
reference whose callback removes the entry, unless the entry has been replaced since (the
callback of a dead object whose ``id()`` a new one reuses must not remove the new entry).
"""

from __future__ import annotations

from _weakref import ref

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only (issue 12)
    from typing import Any

__all__ = ["WeakValueMap", "WeakKeyMap", "WeakIdentitySet"]


class WeakValueMap:
    """``key -> value``, each value held weakly: an entry leaves when its value is collected."""

    __slots__ = ("_refs",)

    def __init__(self) -> None:
        self._refs: dict[Any, ref] = {}

    def __setitem__(self, key: Any, value: Any) -> None:
        refs = self._refs

        def forget(dead: ref, key: Any = key) -> None:
            if refs.get(key) is dead:
                del refs[key]

        refs[key] = ref(value, forget)

    def get(self, key: Any, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` if there is none (or it was collected)."""
        value_ref = self._refs.get(key)
        value = value_ref() if value_ref is not None else None
        return default if value is None else value

    def __len__(self) -> int:
        return sum(1 for value_ref in list(self._refs.values()) if value_ref() is not None)


class WeakKeyMap:
    """``key -> value``, each key held weakly and compared by identity: an entry leaves when its
    key is collected."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        #: ``id(key) -> (weak reference to key, value)``
        self._entries: dict[int, tuple[ref, Any]] = {}

    def __setitem__(self, key: Any, value: Any) -> None:
        entries = self._entries
        ident = id(key)

        def forget(dead: ref) -> None:
            entry = entries.get(ident)
            if entry is not None and entry[0] is dead:  # not a newer key's entry
                del entries[ident]

        entries[ident] = (ref(key, forget), value)

    def get(self, key: Any, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` if there is none."""
        entry = self._entries.get(id(key))
        if entry is not None and entry[0]() is key:
            return entry[1]
        return default

    def keys(self) -> Any:
        """The keys still alive (a snapshot: collecting one meanwhile changes nothing here)."""
        for key_ref, _ in list(self._entries.values()):
            key = key_ref()
            if key is not None:
                yield key

    def __len__(self) -> int:
        return len(self._entries)  # an entry leaves as its key is collected (the callback)


class WeakIdentitySet:
    """A set of objects compared by identity, each held weakly: a member leaves when it is
    collected (a :class:`WeakKeyMap` of members)."""

    __slots__ = ("_members",)

    def __init__(self) -> None:
        self._members = WeakKeyMap()

    def add(self, member: Any) -> None:
        if not self._members.get(member, False):
            self._members[member] = True

    def __iter__(self) -> Any:
        return self._members.keys()

    def __len__(self) -> int:
        return len(self._members)
