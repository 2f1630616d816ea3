"""Identity Map and IdentitySet: one object per database row, sets keyed by identity.

Pattern: Fowler's *Identity Map* -- "ensures that each object gets loaded only once by
keeping every loaded object in a map; looks up objects using the map when referring to
them".  The Session owns one :class:`IdentityMap`; ``session.get(User, 4)`` looks there
before it emits a SELECT, the loader puts every row it turns into an object there, and
the flush keys newly inserted objects into it.  :class:`IdentitySet` is the collection
behind ``session.new``, ``session.dirty`` and ``session.deleted``: ORM objects may define
``__eq__`` or be unhashable, so membership is decided by ``id()``, never by ``__hash__``.

This is the pure-Python twin; ``ext/identity.pyx`` is the compiled twin with the same
classes and methods in the same order.  ``minialchemy._accel`` chooses which one runs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from weakref import KeyedRef, ref

__all__ = ["IdentitySet", "IdentityMap"]


class IdentitySet:
    """A set of objects compared by identity (``id()``), in insertion order.

    Two objects that compare equal, or that cannot be hashed at all, are still two
    distinct members.  The set holds strong references to its members, so an ``id()``
    used as a key can never be reused by another object while its member is inside.
    """

    __slots__ = ("_members",)
    __hash__ = None  # type: ignore[assignment]  # mutable, like set

    def __init__(self, iterable: Iterable[object] = ()) -> None:
        self._members: dict[int, object] = {}
        self.update(iterable)

    def add(self, obj: object) -> None:
        """Add *obj*; adding a member again keeps its original position."""
        self._members[id(obj)] = obj

    def update(self, iterable: Iterable[object]) -> None:
        """Add every object of *iterable*."""
        if isinstance(iterable, IdentitySet):
            self._members.update(iterable._members)  # fast path: already keyed by id
            return
        for obj in iterable:
            self._members[id(obj)] = obj

    def discard(self, obj: object) -> None:
        """Remove *obj* if it is a member; do nothing otherwise."""
        self._members.pop(id(obj), None)

    def remove(self, obj: object) -> None:
        """Remove *obj*; raise ``KeyError`` if it is not a member."""
        try:
            del self._members[id(obj)]
        except KeyError:
            raise KeyError(obj) from None

    def pop(self) -> object:
        """Remove and return the most recently added member."""
        try:
            return self._members.popitem()[1]
        except KeyError:
            raise KeyError("pop from an empty IdentitySet") from None

    def clear(self) -> None:
        """Remove every member."""
        self._members.clear()

    def __contains__(self, obj: object) -> bool:
        return id(obj) in self._members

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[object]:
        return iter(self._members.values())

    def __bool__(self) -> bool:
        return bool(self._members)

    def copy(self) -> IdentitySet:
        """Return a shallow copy: a new set holding the same objects."""
        result = type(self)()
        result._members = self._members.copy()
        return result

    def union(self, iterable: Iterable[object]) -> IdentitySet:
        """Return a new set with the members of both, this set's members first."""
        result = self.copy()
        result.update(iterable)
        return result

    def __or__(self, other: object) -> IdentitySet:
        if not isinstance(other, IdentitySet):
            return NotImplemented
        return self.union(other)

    def difference(self, iterable: Iterable[object]) -> IdentitySet:
        """Return a new set with the members that are not in *iterable*."""
        other = _as_identity_set(iterable)
        result = type(self)()
        result._members = {
            key: obj for key, obj in self._members.items() if key not in other._members
        }
        return result

    def __sub__(self, other: object) -> IdentitySet:
        if not isinstance(other, IdentitySet):
            return NotImplemented
        return self.difference(other)

    def intersection(self, iterable: Iterable[object]) -> IdentitySet:
        """Return a new set with the members that are also in *iterable*, in this set's order."""
        other = _as_identity_set(iterable)
        result = type(self)()
        result._members = {
            key: obj for key, obj in self._members.items() if key in other._members
        }
        return result

    def __and__(self, other: object) -> IdentitySet:
        if not isinstance(other, IdentitySet):
            return NotImplemented
        return self.intersection(other)

    def issubset(self, iterable: Iterable[object]) -> bool:
        """Return True if every member is also in *iterable*."""
        other = _as_identity_set(iterable)
        if len(self._members) > len(other._members):
            return False
        return all(key in other._members for key in self._members)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdentitySet):
            return NotImplemented
        # Key views compare like sets: same members by identity, order ignored.
        return self._members.keys() == other._members.keys()

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, IdentitySet):
            return NotImplemented
        return self._members.keys() != other._members.keys()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._members.values())!r})"


def _as_identity_set(iterable: Iterable[object]) -> IdentitySet:
    """*iterable* itself if it is an IdentitySet, else a new IdentitySet of its objects."""
    if isinstance(iterable, IdentitySet):
        return iterable
    return IdentitySet(iterable)


class _KeyedRef(KeyedRef):
    """A weak reference to an object of the identity map that remembers the object's map key
    (see :class:`IdentityMap`), so the callback run when the object is collected knows which
    entry to remove."""

    __slots__ = ()


def split_key(key: Hashable) -> tuple[Hashable, Hashable] | None:
    """An identity key split the way the map stores it: ``(User, (4,), None)`` -> ``(User, 4)``,
    ``(Line, (1, 2), None)`` -> ``(Line, (1, 2))``: the class, and the *map key*, which is the
    primary key value itself for a one-column primary key, else the tuple of values.  None for
    anything that is not an identity key (minialchemy has no identity tokens: the third item
    is always None)."""
    if type(key) is not tuple or len(key) != 3:
        return None
    cls, pk, token = key
    if type(pk) is not tuple or token is not None:
        return None
    return cls, (pk[0] if len(pk) == 1 else pk)


def join_key(cls: Hashable, map_key: Hashable) -> tuple[Hashable, tuple[Hashable, ...], None]:
    """The identity key of class ``cls`` and map key ``map_key``: the inverse of
    :func:`split_key`, ``(User, 4)`` -> ``(User, (4,), None)``.  (A map key that is a tuple is
    a composite primary key: no column of a one-column primary key holds a tuple.)"""
    return (cls, map_key if type(map_key) is tuple else (map_key,), None)


class MapEntry:
    """The base of the ORM's ``InstanceState``: an object's state can be its identity-map entry.

    A state already refers weakly to its object (``_obj_ref``) and knows its primary key
    (``_map_key``: the map key of :func:`split_key`, None before the row exists; the state
    builds its identity key from it and its class when asked).  When the map stores an object
    whose state has that map key, it gives the state its own :class:`_KeyedRef` as that weak
    reference (so the map hears when the object is collected) and stores the state as the
    entry: one weak reference per loaded object rather than two, the state's and the map's.
    Calling an entry returns its object, or None once it was collected, as calling a weak
    reference does, so the map treats both kinds alike.

    The compiled twin (``ext/identity.pyx``) goes one step further: there the state of an
    ``InstrumentedObject`` points at its object with a C pointer and is told by the object's
    deallocation, so such an object has no weak reference at all.
    """

    __slots__ = ("_obj_ref", "_map_key")

    def __call__(self) -> object:
        return self._obj_ref()


#: the ``__dict__`` key of an object's state (``instrumentation.STATE_KEY``, which imports the ORM)
_STATE_KEY = "_sa_instance_state"


class IdentityMap:
    """Identity key -> the one object loaded for that row.

    An identity key is a hashable tuple ``(cls, pk_tuple, None)``.  Every object is held
    *weakly*: when the user drops the last reference to a clean persistent object, its entry
    disappears, and a later ``session.get()`` loads the row again.  Objects with changes
    still to flush are kept alive by the session's own sets (``session.new``,
    ``session.dirty``, ``session.deleted``), not by this map.

    Inside, the keys are not stored as they are given: ``_refs`` holds one dict per class,
    keyed by the map key of :func:`split_key` (``4`` for ``(User, (4,), None)``).  A key tuple
    stored per object would cost two tuples per loaded object (112 bytes, a fifth of what a
    loaded object costs), while the primary key value is already there: the object holds it.
    So the keys are built again when asked for (:meth:`keys`, :meth:`items`), and the objects
    come class by class, each class's in the order they were stored.

    Every entry is a :class:`_KeyedRef` whose ``key`` is the map key, or the object's state
    holding one (:class:`MapEntry`).
    """

    __slots__ = ("_refs", "_callbacks", "__weakref__")

    def __init__(self) -> None:
        self._refs: dict[Hashable, dict[Hashable, _KeyedRef | MapEntry]] = {}
        self._callbacks: dict[Hashable, Callable[[_KeyedRef], None]] = {}

    def _class_entries(self, cls: Hashable) -> dict[Hashable, _KeyedRef | MapEntry]:
        """The entries of class ``cls`` by map key; created empty on first need, together with
        the callback that the weak references to the class's objects call."""
        entries = self._refs.get(cls)
        if entries is None:
            entries = self._refs[cls] = {}
            # The callback must not keep the map alive (that would make every map part of a
            # reference cycle), so it reaches the map through a weak reference, as
            # weakref.WeakValueDictionary does.
            map_ref = ref(self)

            def remove_dead_entry(dead_ref: _KeyedRef) -> None:
                identity_map = map_ref()
                if identity_map is not None:
                    identity_map._remove_dead_entry(cls, dead_ref)

            self._callbacks[cls] = remove_dead_entry
        return entries

    def _new_entry(self, cls: Hashable, map_key: Hashable, obj: object) -> _KeyedRef | MapEntry:
        """A weak reference to *obj* that calls back with *map_key* when *obj* is collected; or
        *obj*'s state, if its map key is *map_key*, holding that weak reference
        (:class:`MapEntry`)."""
        entry = _KeyedRef(obj, self._callbacks[cls], map_key)
        state = getattr(obj, "__dict__", {}).get(_STATE_KEY)
        if isinstance(state, MapEntry) and state._map_key == map_key and state() is obj:
            state._obj_ref = entry  # the state's weak reference to its object is now the map's
            return state
        return entry

    def _remove_dead_entry(self, cls: Hashable, dead_ref: _KeyedRef) -> None:
        """Weakref callback: the object of class ``cls`` stored under ``dead_ref.key`` was
        collected."""
        # Garbage-collection race: the callback runs some time after the object died
        # (after every weakref to it was cleared; later still when the garbage
        # collector breaks a cycle).  In between, add() or replace() may already have
        # stored a NEW object under the same key, with a new _KeyedRef.  Remove the
        # entry only if it still holds the dead object's ref, never the newcomer.
        # (An entry that is a state holds the dead ref.)
        entries = self._refs.get(cls)
        entry = None if entries is None else entries.get(dead_ref.key)
        if entry is dead_ref or (isinstance(entry, MapEntry) and entry._obj_ref is dead_ref):
            del entries[dead_ref.key]

    def _entry(self, key: Hashable) -> _KeyedRef | MapEntry | None:
        """The entry stored under identity key *key*, or None."""
        split = split_key(key)
        if split is None:
            return None
        entries = self._refs.get(split[0])
        return None if entries is None else entries.get(split[1])

    def _add_absent(self, key: Hashable, obj: object) -> None:
        """``add()`` for the loader, which has just seen ``get(key)`` return None: no live
        object is stored under *key*, so store without looking again."""
        self._store(key, obj)

    def _store(self, key: Hashable, obj: object) -> None:
        """Store *obj* under *key*, whatever is there."""
        split = split_key(key)
        if split is None:
            raise ValueError(
                f"Can't store {_describe(obj)} in the identity map under {key!r}: an identity "
                f"key is (class, (primary key value, ...), None)"
            )
        cls, map_key = split
        entries = self._class_entries(cls)
        entries[map_key] = self._new_entry(cls, map_key, obj)

    def get(self, key: Hashable, default: object = None) -> object:
        """Return the live object stored under *key*, or *default*."""
        entry = self._entry(key)
        if entry is None:
            return default
        obj = entry()
        if obj is None:  # collected; its callback has not run yet
            return default
        return obj

    def __getitem__(self, key: Hashable) -> object:
        entry = self._entry(key)
        obj = None if entry is None else entry()
        if obj is None:
            raise KeyError(key)
        return obj

    def __contains__(self, key: object) -> bool:
        entry = self._entry(key)
        return entry is not None and entry() is not None

    def __len__(self) -> int:
        # Count live entries only: an object may be dead while its callback has not
        # removed the entry yet.  list() takes a snapshot, because a callback that
        # runs during the loop would change the dict's size.
        return sum(1 for entries in list(self._refs.values()) for entry in list(entries.values())
                   if entry() is not None)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self.keys())

    def keys(self) -> list[Hashable]:
        """Return a list of the keys whose objects are alive."""
        return [key for key, obj in self.items()]

    def values(self) -> list[object]:
        """Return a list of the live objects (in the order of :meth:`items`, without building
        their identity keys: the commit's expiry asks for every object)."""
        live = []
        for entries in list(self._refs.values()):
            for entry in list(entries.values()):
                obj = entry()
                if obj is not None:
                    live.append(obj)
        return live

    def items(self) -> list[tuple[Hashable, object]]:
        """Return a list of ``(key, object)`` pairs for the live objects."""
        live = []
        for cls, entries in list(self._refs.items()):
            for map_key, entry in list(entries.items()):
                obj = entry()
                if obj is not None:
                    live.append((join_key(cls, map_key), obj))
        return live

    def all_states(self) -> list[object]:
        """Return the ORM state of every live object that has one (``inspect(obj)``: what
        ``obj.__dict__["_sa_instance_state"]`` holds), in the map's order."""
        from minialchemy.orm.instrumentation import STATE_KEY  # (here: that module imports the ORM)

        states = []
        for obj in self.values():
            state = getattr(obj, "__dict__", {}).get(STATE_KEY)
            if state is not None:
                states.append(state)
        return states

    def add(self, key: Hashable, obj: object) -> None:
        """Store *obj* under *key*, held weakly.

        Adding the object already stored there does nothing.  Raise ``ValueError`` if a
        different live object is stored under *key*: one row must never be two objects.
        """
        entry = self._entry(key)
        if entry is not None:
            existing = entry()
            if existing is obj:
                return
            if existing is not None:
                raise ValueError(
                    f"Can't add {_describe(obj)} to the identity map under key {key!r}: "
                    f"{_describe(existing)} is already stored there "
                    f"(discard() the old object first, or use replace())"
                )
            # The entry's object is dead and its callback has not run yet: overwrite
            # it; _remove_dead_entry will see a different ref and leave ours alone.
        self._store(key, obj)

    def replace(self, key: Hashable, obj: object) -> object:
        """Store *obj* under *key*, held weakly; return the live object it displaces, or None.

        Replacing an object with itself changes nothing and returns it.  The key is split once,
        for the look-up and the store (a flush replaces every new object it INSERTs).
        """
        split = split_key(key)
        if split is None:
            self._store(key, obj)  # raises the ValueError that says what an identity key is
        cls, map_key = split
        entries = self._class_entries(cls)
        entry = entries.get(map_key)
        previous = None if entry is None else entry()
        if previous is not obj:
            entries[map_key] = self._new_entry(cls, map_key, obj)
        return previous

    def discard(self, key: Hashable, obj: object = None) -> None:
        """Remove the entry for *key*; if *obj* is given, only when *obj* is the one stored."""
        entry = self._entry(key)
        if entry is None:
            return
        if obj is not None and entry() is not obj:
            return
        # A ref that no longer exists never calls back, even if the object dies right after.
        cls, map_key = split_key(key)
        del self._refs[cls][map_key]

    def clear(self) -> None:
        """Remove every entry."""
        self._refs.clear()
        self._callbacks.clear()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} with {len(self)} live entries>"


def _describe(obj: object) -> str:
    """Name an object without calling its ``__repr__`` (which might load attributes)."""
    return f"<{type(obj).__name__} at {id(obj):#x}>"
