# cython: language_level=3, boundscheck=False, wraparound=False
"""Identity Map and IdentitySet, compiled: one object per database row, sets keyed by identity.

Pattern: Fowler's *Identity Map*.  This is the Cython twin of
``src/minialchemy/orm/identity.py``: the same classes and methods in the same order, so the
two files read side by side; the docstrings and comments that explain *why* live there.
Here the classes are ``cdef class`` with typed attributes, and the methods that other
methods of this module call are ``cpdef``, so those calls skip Python's method lookup.
Built as ``minialchemy._ext.identity``; ``minialchemy._accel`` chooses which twin runs.

The entries differ from the Python twin's in one way (see :class:`MapEntry`): an object whose
class derives from the compiled ``InstrumentedObject`` has its state as its entry and no weak
reference at all, its ``__dealloc__`` calling the map back.
"""

import cython
from cpython.long cimport PyLong_FromVoidPtr
from cpython.dict cimport PyDict_GetItem, PyDict_Next
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from minialchemy._ext.capi cimport (
    minialchemy_has_instance_dict,
    minialchemy_instance_dict,
    minialchemy_weakref_target,
)
# ``weakref.ref`` itself, from the built-in module loaded at start-up: importing ``weakref.py``
# is part of what issue 12 measures as import time
from _weakref import ref

cdef extern from "Python.h":
    ctypedef struct PyWeakReference:
        pass

cdef extern from *:
    ctypedef class _weakref.ReferenceType [object PyWeakReference]:
        pass

__all__ = ["IdentitySet", "IdentityMap"]

#: True when this module runs compiled (``cython.compiled`` is False in pure-Python mode).
COMPILED = cython.compiled


cdef inline object _id(object obj):
    """C spelling of ``id(obj)``: the object's address as a Python int, without a call."""
    return PyLong_FromVoidPtr(<void *>obj)


cdef class IdentitySet:
    """A set of objects compared by identity (``id()``), in insertion order.

    Two objects that compare equal, or that cannot be hashed at all, are still two
    distinct members.  The set holds strong references to its members.
    """

    # attributes and C methods: declared in src/minialchemy/_ext/identity.pxd

    __hash__ = None  # mutable, like set

    def __init__(self, iterable=()):
        self._members = {}
        self.update(iterable)

    cpdef add(self, object obj):
        """Add *obj*; adding a member again keeps its original position."""
        self._members[_id(obj)] = obj

    cpdef update(self, object iterable):
        """Add every object of *iterable*."""
        if isinstance(iterable, IdentitySet):
            self._members.update((<IdentitySet>iterable)._members)  # already keyed by id
            return
        for obj in iterable:
            self._members[_id(obj)] = obj

    cpdef discard(self, object obj):
        """Remove *obj* if it is a member; do nothing otherwise."""
        self._members.pop(_id(obj), None)

    def remove(self, obj):
        """Remove *obj*; raise ``KeyError`` if it is not a member."""
        try:
            del self._members[_id(obj)]
        except KeyError:
            raise KeyError(obj) from None

    def pop(self):
        """Remove and return the most recently added member."""
        try:
            return self._members.popitem()[1]
        except KeyError:
            raise KeyError("pop from an empty IdentitySet") from None

    def clear(self):
        """Remove every member."""
        self._members.clear()

    def __contains__(self, obj):
        return _id(obj) in self._members

    def __len__(self):
        return len(self._members)

    def __iter__(self):
        return iter(self._members.values())

    def __bool__(self):
        return bool(self._members)

    cpdef IdentitySet copy(self):
        """Return a shallow copy: a new set holding the same objects."""
        cdef IdentitySet result = type(self)()
        result._members = self._members.copy()
        return result

    def union(self, iterable):
        """Return a new set with the members of both, this set's members first."""
        cdef IdentitySet result = self.copy()
        result.update(iterable)
        return result

    def __or__(self, other):
        if not isinstance(other, IdentitySet):
            return NotImplemented
        return self.union(other)

    def difference(self, iterable):
        """Return a new set with the members that are not in *iterable*."""
        cdef IdentitySet other = _as_identity_set(iterable)
        cdef IdentitySet result = type(self)()
        result._members = {
            key: obj for key, obj in self._members.items() if key not in other._members
        }
        return result

    def __sub__(self, other):
        if not isinstance(other, IdentitySet):
            return NotImplemented
        return self.difference(other)

    def intersection(self, iterable):
        """Return a new set with the members that are also in *iterable*, in this set's order."""
        cdef IdentitySet other = _as_identity_set(iterable)
        cdef IdentitySet result = type(self)()
        result._members = {
            key: obj for key, obj in self._members.items() if key in other._members
        }
        return result

    def __and__(self, other):
        if not isinstance(other, IdentitySet):
            return NotImplemented
        return self.intersection(other)

    def issubset(self, iterable):
        """Return True if every member is also in *iterable*."""
        cdef IdentitySet other = _as_identity_set(iterable)
        if len(self._members) > len(other._members):
            return False
        for key in self._members:
            if key not in other._members:
                return False
        return True

    def __eq__(self, other):
        if not isinstance(other, IdentitySet):
            return NotImplemented
        return self._members.keys() == (<IdentitySet>other)._members.keys()

    def __ne__(self, other):
        if not isinstance(other, IdentitySet):
            return NotImplemented
        return self._members.keys() != (<IdentitySet>other)._members.keys()

    def __repr__(self):
        return f"{type(self).__name__}({list(self._members.values())!r})"


cdef IdentitySet _as_identity_set(object iterable):
    """*iterable* itself if it is an IdentitySet, else a new IdentitySet of its objects."""
    if isinstance(iterable, IdentitySet):
        return <IdentitySet>iterable
    return IdentitySet(iterable)


@cython.final
@cython.auto_pickle(False)
cdef class _KeyedRef(ReferenceType):
    """A weak reference that remembers its object's map key: ``weakref.KeyedRef`` in C
    (``weakref.KeyedRef`` is a Python class: creating one runs two Python functions, several
    times the cost of the reference itself, once per loaded object)."""

    cdef readonly object key


cpdef tuple split_key(object key):
    """An identity key split the way the map stores it: ``(User, (4,), None)`` -> ``(User, 4)``
    (the class and the map key; see the Python twin); None for anything else."""
    if type(key) is not tuple or len(<tuple>key) != 3:
        return None
    cls, pk, token = <tuple>key
    if type(pk) is not tuple or token is not None:
        return None
    return cls, _map_key_of(<tuple>pk)


cdef inline object _map_key_of(tuple pk):
    """The map key of a primary-key tuple: its value for one column, else the tuple itself."""
    if len(pk) == 1:
        return pk[0]
    return pk


cpdef tuple join_key(object cls, object map_key):
    """The identity key of class ``cls`` and map key ``map_key``: the inverse of ``split_key``."""
    return (cls, map_key if type(map_key) is tuple else (map_key,), None)


@cython.no_gc  # as InstanceState (see its docstring); the callback reaches its map weakly
cdef class MapEntry:
    """The base of ``InstanceState``: an object's state is its identity-map entry (see the
    Python twin).  Its attributes are declared in ``src/minialchemy/_ext/identity.pxd``.

    Here the state of an ``InstrumentedObject`` points at its object with a borrowed C pointer,
    which the object's ``__dealloc__`` clears; the same ``__dealloc__`` calls the map's callback
    (``_on_collected``) with the state, as a weak reference calls its callback with itself.
    So the compiled map needs no weak reference for such an object: loading one allocates one
    object fewer (96 bytes), and one fewer for the garbage collector to walk.  A state whose
    object is of a plain mapped class holds a weak reference instead, and the map stores a
    ``_KeyedRef`` for that object, as for any object that is not an InstrumentedObject.
    """

    def __call__(self):
        return _live(self)


#: the ``__dict__`` key of an object's state (``instrumentation.STATE_KEY``)
cdef str _STATE_KEY = "_sa_instance_state"


cdef inline object _live(object entry):
    """C spelling of ``entry()``: the object an entry refers to, or None once it was collected
    (an entry is a ``_KeyedRef`` or an object's state, see the module docstring)."""
    if Py_TYPE(entry) == <PyTypeObject*>_KeyedRef:
        return minialchemy_weakref_target(entry)
    return _entry_object(<MapEntry>entry)


cdef inline MapEntry _state_entry(object map_key, object obj):
    """The state of ``obj`` if it can be ``obj``'s entry under ``map_key``: the state of an
    InstrumentedObject (its C pointer is ``obj``: its ``__dealloc__`` will report) whose map
    key is ``map_key``; else None."""
    cdef PyObject* found
    cdef MapEntry state
    if not minialchemy_has_instance_dict(obj):
        return None
    found = PyDict_GetItem(minialchemy_instance_dict(obj), _STATE_KEY)
    if found == NULL or not isinstance(<object>found, MapEntry):
        return None
    state = <MapEntry>found
    if state._obj_ptr != <PyObject*>obj or not (state._map_key is map_key or state._map_key == map_key):
        return None
    return state


@cython.auto_pickle(False)
cdef class IdentityMap:
    """Identity key -> the one object loaded for that row, every object held weakly; inside,
    one dict per class keyed by map key (see the Python twin)."""

    # attributes and C methods: declared in src/minialchemy/_ext/identity.pxd

    def __init__(self):
        self._refs = {}
        self._callbacks = {}

    cdef dict _class_entries(self, object cls):
        """The entries of class ``cls`` by map key, created empty (with their callback) on
        first need."""
        cdef dict entries = self._refs.get(cls)
        if entries is None:
            entries = self._refs[cls] = {}
            # The callback reaches the map through a weak reference: no reference cycle.
            map_ref = ref(self)

            def remove_dead_entry(dead_ref):
                cdef IdentityMap identity_map = map_ref()
                if identity_map is not None:
                    identity_map._remove_dead_entry(cls, dead_ref)

            self._callbacks[cls] = remove_dead_entry
        return entries

    cdef object _new_entry(self, object cls, object map_key, object obj):
        """A weak reference to *obj* that calls back with *map_key* when *obj* is collected;
        or, for an InstrumentedObject, its state, told to call back when *obj* is deallocated."""
        callback = self._callbacks[cls]
        cdef MapEntry state = _state_entry(map_key, obj)
        if state is not None:
            state._on_collected = callback
            return state
        cdef _KeyedRef entry = _KeyedRef.__new__(_KeyedRef, obj, callback)
        entry.key = map_key
        # (Not untracked from the cyclic GC, although it is never part of a cycle: CPython's
        # collector relinks reachable weak references with callbacks into its own lists and
        # assumes they are tracked.)
        return entry

    cdef _remove_dead_entry(self, object cls, object dead_ref):
        """Callback: the object of class ``cls`` stored under the map key of ``dead_ref`` (a
        ``_KeyedRef``, or a state called back by its object's ``__dealloc__``) was collected."""
        # Garbage-collection race: a NEW object may have been stored under the same key
        # after this object died and before this callback ran; keep that newcomer.  (A
        # state entry checks the same way: it is the entry only if the map still holds it.)
        if isinstance(dead_ref, MapEntry):
            map_key = (<MapEntry>dead_ref)._map_key
        else:
            map_key = (<_KeyedRef>dead_ref).key
        cdef dict entries = self._refs.get(cls)
        if entries is not None and entries.get(map_key) is dead_ref:
            del entries[map_key]

    cdef object _entry(self, object key):
        """The entry stored under identity key *key*, or None."""
        cdef tuple split = split_key(key)
        if split is None:
            return None
        cdef dict entries = self._refs.get(split[0])
        return None if entries is None else entries.get(split[1])

    cdef _add_absent(self, object key, object obj):
        """``add()`` for the loader, which has just seen ``get(key)`` return None."""
        self._store(key, obj)

    cdef _store(self, object key, object obj):
        """Store *obj* under *key*, whatever is there."""
        cdef tuple split = split_key(key)
        if split is None:
            raise ValueError(
                f"Can't store {_describe(obj)} in the identity map under {key!r}: an identity "
                f"key is (class, (primary key value, ...), None)"
            )
        cls, map_key = split
        cdef dict entries = self._class_entries(cls)
        entries[map_key] = self._new_entry(cls, map_key, obj)

    cpdef get(self, object key, object default=None):
        """Return the live object stored under *key*, or *default*."""
        entry = self._entry(key)
        if entry is None:
            return default
        obj = _live(entry)
        if obj is None:  # collected; its callback has not run yet
            return default
        return obj

    def __getitem__(self, key):
        entry = self._entry(key)
        obj = None if entry is None else _live(entry)
        if obj is None:
            raise KeyError(key)
        return obj

    def __contains__(self, key):
        entry = self._entry(key)
        return entry is not None and _live(entry) is not None

    def __len__(self):
        cdef Py_ssize_t live = 0
        for entries in list(self._refs.values()):  # snapshots: callbacks may run meanwhile
            for entry in list((<dict>entries).values()):
                if _live(entry) is not None:
                    live += 1
        return live

    def __iter__(self):
        return iter(self.keys())

    cpdef list keys(self):
        """Return a list of the keys whose objects are alive."""
        return [key for key, obj in self.items()]

    cpdef list values(self):
        """Return a list of the live objects."""
        cdef list live = []
        cdef Py_ssize_t position
        cdef PyObject* map_key
        cdef PyObject* entry
        for entries in list(self._refs.values()):
            # The entries are read in place, not from a copy: nothing in this loop runs Python
            # code or frees an object (each live object goes into ``live``), so no callback
            # can remove an entry meanwhile.  A copy of a class's 100 000 entries, made and
            # freed again, wrote to the reference count of every entry twice (a commit's
            # expiry and close() ask for every object).
            position = 0
            while PyDict_Next(<dict>entries, &position, &map_key, &entry):
                obj = _live(<object>entry)
                if obj is not None:
                    live.append(obj)
        return live

    cpdef list items(self):
        """Return a list of ``(key, object)`` pairs for the live objects."""
        cdef list live = []
        for cls, entries in list(self._refs.items()):
            for map_key, entry in list((<dict>entries).items()):
                obj = _live(entry)
                if obj is not None:
                    live.append((join_key(cls, map_key), obj))
        return live

    cpdef list all_states(self):
        """Return the ORM state of every live object that has one, in the map's order."""
        from minialchemy._ext.instrumentation import STATE_KEY

        cdef list states = []
        for obj in self.values():
            state = getattr(obj, "__dict__", {}).get(STATE_KEY)
            if state is not None:
                states.append(state)
        return states

    cpdef add(self, object key, object obj):
        """Store *obj* under *key*, held weakly; ``ValueError`` if another live object is there."""
        entry = self._entry(key)
        if entry is not None:
            existing = _live(entry)
            if existing is obj:
                return
            if existing is not None:
                raise ValueError(
                    f"Can't add {_describe(obj)} to the identity map under key {key!r}: "
                    f"{_describe(existing)} is already stored there "
                    f"(discard() the old object first, or use replace())"
                )
            # Dead entry whose callback has not run yet: overwrite it.
        self._store(key, obj)

    cpdef replace(self, object key, object obj):
        """Store *obj* under *key*, held weakly; return the live object it displaces, or None."""
        previous = self.get(key)
        if previous is obj:
            return previous
        self._store(key, obj)
        return previous

    cpdef discard(self, object key, object obj=None):
        """Remove the entry for *key*; if *obj* is given, only when *obj* is the one stored."""
        entry = self._entry(key)
        if entry is None:
            return
        if obj is not None and _live(entry) is not obj:
            return
        cls, map_key = split_key(key)
        del self._refs[cls][map_key]  # a freed ref never calls back

    cpdef clear(self):
        """Remove every entry."""
        self._refs.clear()
        self._callbacks.clear()

    def __repr__(self):
        return f"<{type(self).__name__} with {len(self)} live entries>"


cdef str _describe(object obj):
    """Name an object without calling its ``__repr__`` (which might load attributes)."""
    return f"<{type(obj).__name__} at {id(obj):#x}>"
