"""Weak maps: registries that do not keep what they hold alive.

The ORM keeps three kinds of bookkeeping beside objects it does not own: the live sessions by
id (:mod:`minialchemy.orm.session_registry`), and caches keyed by a mapper, a relationship or an
object's state (:mod:`minialchemy.orm.strategies`).  An entry must leave when its session or its
key is garbage-collected, which is what :class:`weakref.WeakValueDictionary` and
:class:`weakref.WeakKeyDictionary` do.  These two classes do the same for the few operations the
ORM uses, on ``_weakref.ref`` -- the built-in module behind ``weakref.ref``, loaded when the
interpreter starts -- so that neither ``import minialchemy.orm`` nor a first query pays for
importing ``weakref.py`` (issue 12's import time; ``tests/test_imports.py`` holds it).

Keys of a :class:`WeakKeyMap` are compared by identity (a mapper, a relationship, a state: none
defines ``==``).  Each entry holds a weak reference whose callback removes the entry, unless the
entry has been replaced since (the callback of a dead key whose ``id()`` a new key reuses must not
remove the new entry).
"""

from __future__ import annotations

from _weakref import ref

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only (issue 12)
    from typing import Any

__all__ = ["WeakValueMap", "WeakKeyMap"]


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

        def forget(dead: ref, ident: int = ident) -> None:
            entry = entries.get(ident)
            if entry is not None and entry[0] is dead:
                del entries[ident]

        entries[ident] = (ref(key, forget), value)

    def get(self, key: Any, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` if there is none."""
        entry = self._entries.get(id(key))
        if entry is not None and entry[0]() is key:
            return entry[1]
        return default

    def __len__(self) -> int:
        return sum(1 for key_ref, _ in list(self._entries.values()) if key_ref() is not None)
