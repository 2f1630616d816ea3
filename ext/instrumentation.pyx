# cython: language_level=3, boundscheck=False, wraparound=False
# distutils: define_macros=CYTHON_VECTORCALL_TPNEW=0
"""Attribute instrumentation, compiled: per-object state, column attributes, dirty tracking.

This is the Cython twin of ``src/minialchemy/orm/instrumentation.py``: the same classes and
functions in the same order, with the same parameters, so the two files read side by side
(``tests/test_twins_in_lockstep.py`` compares them); the docstrings that explain *what* happens
and *why* live there.  Only two kinds of definition here have no Python twin: ``cdef inline``
functions, each the C spelling of a line of the Python twin, and the C-level ``__cinit__`` and
``__dealloc__``.  The comments here explain what the compiled twin does
differently to be fast:

- :class:`InstanceState` is a ``cdef class``: its flags and references are C fields.  Its
  ``committed_state`` dict and ``expired_attributes`` set are created on first use (most loaded
  objects never need them).  It points back to an :class:`InstrumentedObject` with a plain C
  pointer that the object clears when it is deallocated (no weak reference to create or
  clear); objects of plain mapped classes are still referenced weakly.
- :class:`InstrumentedObject` is a ``cdef class``: its ``__setattr__`` is the type's C-level
  ``tp_setattro`` slot, and it keeps the object's state in a C field, so a tracked write is a
  type-cache lookup, a few C comparisons and two dict stores.  An object its class makes
  (``User(...)``) gets its ``__dict__`` when it is allocated, as an ordinary (combined) dict:
  CPython 3.11 does not specialise attribute reads on a key-sharing ("split") dict, so that is
  what keeps ``user.name`` as fast as a plain attribute read.  A loaded object (CPython 3.11
  and 3.12) gets no dict at all until one is asked for, only the array of values a plain
  instance has, and is not tracked by the garbage collector while it holds only plain values
  (``_new_inline``); the dict it gets later is an ordinary one too (``_instance_dict``).  An
  object its class makes starts out of the collector's view too, and stays out while its
  column values are plain (``InstrumentedObject.__cinit__``, ``_own_dict``, ``_keep_track``).
- :class:`ColumnAttribute` is a non-data descriptor in C; the interpreter reads loaded values
  past it, as in the Python twin.
- the loader and the flush helpers are C loops over ``PyDict_*`` calls.
- the ``define_macros`` line at the top turns off Cython's vectorcall constructors for this
  module's types: with them, every ``User(name=...)`` turned the keyword dict CPython had
  built into an argument array and back into a new dict before ``__init__`` ran.

Built as ``minialchemy._ext.instrumentation``; ``minialchemy._accel`` chooses which twin runs.
"""

import functools

import cython
from minialchemy._ext.capi cimport (
    minialchemy_has_instance_dict,
    minialchemy_instance_dict,
    minialchemy_instance_dict_as_is,
    minialchemy_has_ordinary_dicts,
    minialchemy_same_setattr,
    minialchemy_type_lookup,
    minialchemy_weakref_target,
    minialchemy_dict_get_known_hash,
    minialchemy_dict_set_known_hash,
    minialchemy_dict_discard,
    minialchemy_dict_presized,
    minialchemy_object_new,
    minialchemy_use_ordinary_dicts,
    minialchemy_gc_untracked,
    minialchemy_inline_value_slot,
    minialchemy_inline_value_get,
    minialchemy_inline_store_self_test,
    MINIALCHEMY_INLINE_VALUES,
)
from minialchemy._ext.identity cimport (
    IdentityMap, IdentitySet, MapEntry, _entry_object, join_key, split_key,
)
from cpython.dict cimport (
    PyDict_GetItem, PyDict_GetItemWithError, PyDict_SetItem, PyDict_DelItem, PyDict_Contains,
    PyDict_Next, PyDict_Update,
)
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromVoidPtr
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport Py_INCREF, Py_XDECREF, Py_XINCREF
from cpython.set cimport PySet_Discard, PySet_Add, PySet_New
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.weakref cimport PyWeakref_NewRef

__all__ = [
    "STATE_KEY",
    "NO_VALUE",
    "InstanceState",
    "InstrumentedObject",
    "ColumnAttribute",
    "PlainClassColumnAttribute",
    "new_state",
    "instance_state",
    "add_pending",
    "load_instance",
    "load_instances",
    "populate_expired",
    "group_by_mapper",
    "split_pending",
    "with_value",
    "with_missing_values",
    "insert_params",
    "insert_params_many",
    "fill_keys",
    "update_params",
    "update_rows",
    "delete_params",
    "mark_inserted",
    "mark_inserted_batch",
    "mark_updated",
    "expire_instances",
    "detach_instances",
    "set_committed_value",
    "session_get_fast_path",
]

#: True when this module runs compiled (``cython.compiled`` is False in pure-Python mode).
COMPILED = cython.compiled

#: True when a write to a column of a loaded object that still keeps its values inline (no
#: ``__dict__`` yet, ``_new_inline``) stores into that array of values, as CPython's own
#: specialised write does for a plain object (CPython 3.11, once the layout has passed its
#: check at import: ``minialchemy._ext.capi``, ``minialchemy_inline_store_self_test``).
INLINE_STORE = minialchemy_inline_store_self_test()


cdef extern from "Python.h":
    Py_ssize_t _dict_size "PyDict_GET_SIZE" (object) noexcept  # len(d) as a macro, no call
    void PyObject_GC_UnTrack(object)
    void PyObject_GC_Track(object)
    bint PyObject_GC_IsTracked(object)
    bint PyObject_IS_GC(object)
    bint PyType_IS_GC(PyTypeObject*)
    int PyGC_Enable()
    int PyGC_Disable()
    # PyObject_GenericSetAttr with a C value: NULL deletes.
    int _generic_setattr "PyObject_GenericSetAttr" (object obj, object name, PyObject* value) except -1


#: the ``__dict__`` key holding an object's state
STATE_KEY = "_sa_instance_state"
cdef str _STATE_KEY = STATE_KEY
cdef tuple _EMPTY_TUPLE = ()


cdef class _NoValue:
    """Marker for "this attribute had no value" (distinct from ``None``, a real value)."""

    def __repr__(self):
        return "NO_VALUE"

    def __reduce__(self):
        return "NO_VALUE"


NO_VALUE = _NoValue()
cdef object _NO_VALUE = NO_VALUE


cdef inline dict _instance_dict(object obj):
    """C spelling of ``obj.__dict__``, without an attribute lookup; created (combined, not
    key-sharing) if the object has none yet (``minialchemy._ext.capi``).  An object out of the
    garbage collector's view (``_new_inline``, ``InstrumentedObject.__cinit__``) is tracked
    again, since the dict may come to hold anything."""
    return minialchemy_instance_dict(obj)


cdef inline dict _own_dict(object obj):
    """``_instance_dict`` for this module's own use of the dict: reading it, removing values,
    and writing values whose kind it checks (``_keep_track``).  An object out of the garbage
    collector's view stays out, so a flush or a commit does not bring 100 000 objects back
    into it."""
    return minialchemy_instance_dict_as_is(obj)


cdef inline void _keep_track(object obj, object value):
    """Before ``value`` is written into the dict of ``obj`` (by ``_own_dict``): a value the
    collector may track (a list, an object...) could close a reference cycle through ``obj``,
    so ``obj`` comes back into the collector's view (see ``InstrumentedObject.__cinit__``)."""
    if PyType_IS_GC(Py_TYPE(value)) and minialchemy_gc_untracked(obj):
        PyObject_GC_Track(obj)


@cython.final
@cython.no_gc
cdef class InstanceState(MapEntry):
    """Everything the ORM knows about one mapped object (see the Python twin).

    Not tracked by the cyclic garbage collector (``no_gc``).  The gain: an object's
    ``__dict__`` holding only column values and its state is then untracked too (CPython tracks
    a dict only once it holds a trackable value), so loading N objects gives every later full
    collection N objects to walk instead of 3N (measured: 100,000 rows load in 0.32 s instead of
    0.46 s).  The condition: no reference cycle may pass through a state, or the collector could
    not free it.  A state refers to its object only through a C pointer or a weak reference, and
    strongly to its mapper, its primary key values, old column values (numbers, strings, dates),
    sets of attribute names and its identity map's callback (which reaches the map only through
    a weak reference).  A cycle would need a path from a mapped class or its mapper back
    to one of its own persistent instances (a class attribute holding one, say) in a class that
    itself becomes garbage; such a class and those instances would then never be freed.
    """

    # From MapEntry (src/minialchemy/_ext/identity.pxd), which makes a state its object's
    # identity-map entry: _obj_ptr and _obj_ref, the object (a borrowed pointer for an
    # InstrumentedObject, which clears it in its __dealloc__, else a weak reference); _map_key,
    # the primary key as the map keys it (``key`` is built from it); _on_collected, the
    # identity map's callback, which __dealloc__ calls.
    cdef public object mapper
    cdef public object session_id
    cdef dict _committed_state
    # which columns (by ColumnAttribute.index < 64) _record_change has recorded in
    # _committed_state since it was last emptied, and how many: see _change_recorded
    cdef unsigned long long _recorded_mask
    cdef Py_ssize_t _recorded_count
    # the names of the expired attributes: None, a set of the state's own, or the frozenset of
    # all its mapper's attribute names that a commit's ``expire_instances`` shares among every
    # state it expires (a set per object was 200 bytes and an allocation each, for 100 000
    # objects at every commit); ``_own_expired`` copies it into a set of the state's own before
    # anything changes it, so each state still has its own set to everyone who asks
    cdef object _expired_attributes
    cdef public bint modified
    cdef public bint deleted_flag
    cdef object __weakref__

    def __init__(self, obj, mapper):
        self._obj_ref = PyWeakref_NewRef(obj, None)  # a C pointer only once attached (_attach)
        self.mapper = mapper
        self._map_key = None
        self.session_id = None

    # The methods are ``def``, not ``cpdef``: a ``cpdef`` method gives every state a pointer to
    # its class's table of C methods (8 bytes, which took a state from 112 to 128 bytes in
    # CPython's allocator); C code calls the ``cdef inline`` functions they call.
    def obj(self):
        """The object itself, or None if it was garbage-collected (or is being freed)."""
        return _entry_object(self)

    @property
    def key(self):
        """The identity key, built from the map key and the mapper's class (see the Python
        twin)."""
        if self._map_key is None:
            return None
        return join_key(self.mapper.class_, self._map_key)

    @key.setter
    def key(self, key):
        self._map_key = None if key is None else _map_key_for(self.mapper, key)

    @property
    def committed_state(self):
        if self._committed_state is None:
            self._committed_state = {}
        return self._committed_state

    @committed_state.setter
    def committed_state(self, dict value):
        self._committed_state = value
        self._recorded_mask = 0
        self._recorded_count = -1  # unknown content: the mask is not trusted until emptied

    @property
    def expired_attributes(self):
        return _own_expired(self)

    @expired_attributes.setter
    def expired_attributes(self, set value):
        self._expired_attributes = value

    # -- the five states ------------------------------------------------------------------

    @property
    def transient(self):
        return self._map_key is None and self.session_id is None

    @property
    def pending(self):
        return self._map_key is None and self.session_id is not None

    @property
    def persistent(self):
        return self._map_key is not None and self.session_id is not None and not self.deleted_flag

    @property
    def deleted(self):
        return self._map_key is not None and self.session_id is not None and self.deleted_flag

    @property
    def detached(self):
        return self._map_key is not None and self.session_id is None

    @property
    def was_deleted(self):
        return self.deleted_flag

    @property
    def has_identity(self):
        return self._map_key is not None

    @property
    def identity_key(self):
        return self.key

    @property
    def identity(self):
        return None if self._map_key is None else self.key[1]

    @property
    def object(self):
        return _entry_object(self)

    @property
    def class_(self):
        return self.mapper.class_

    @property
    def dict(self):
        obj = _entry_object(self)
        return _instance_dict(obj) if obj is not None else {}

    @property
    def session(self):
        if self.session_id is None:
            return None
        return _session_registry().get(self.session_id)

    @property
    def expired(self):
        return bool(self._expired_attributes) and self._expired_attributes.issuperset(
            self.mapper._column_attr_keys
        )

    @property
    def unloaded(self):
        d = self.dict
        return {key for key in self.mapper.attrs.keys() if key not in d}

    @property
    def attrs(self):
        from minialchemy.orm.mapper import AttributeStates

        return AttributeStates(self)

    # -- changes and expiry --------------------------------------------------------------------

    def _mark_modified(self):
        """The first change since the last flush: flag it and tell the session."""
        _mark_modified(self)

    def expire(self, keys=None):
        """Forget loaded values (all, or ``keys``); they reload on next access."""
        _expire(self, keys)

    def _commit_all(self):
        """After a flush: the current values are now the committed ones."""
        _forget_committed(self)
        self.modified = False

    def __reduce__(self):
        """Pickling: what the state knows travels with its object, not the session nor the C
        pointer (see the Python twin)."""
        return (
            _restore_state,
            (_entry_object(self), self.mapper.class_, self._map_key, self._committed_state,
             None if self._expired_attributes is None else _own_expired(self), self.modified,
             self.deleted_flag),
        )

    def __repr__(self):
        obj = _entry_object(self)
        return f"<InstanceState of {object.__repr__(obj) if obj is not None else '(collected)'}>"


def _restore_state(obj, cls, map_key, committed_state, expired_attributes, modified, deleted_flag):
    """The pickled state made again for the unpickled ``obj``, in no session; pointing at its
    object as a new state does (``_point_at``: the C field of an InstrumentedObject)."""
    cdef InstanceState state = InstanceState.__new__(InstanceState)
    state.mapper = cls.__mapper__
    _point_at(obj, state)
    state._map_key = map_key
    state._committed_state = committed_state
    state._recorded_mask = 0
    state._recorded_count = -1  # the mask is not trusted until committed_state is emptied
    state._expired_attributes = expired_attributes
    state.modified = modified
    state.deleted_flag = deleted_flag
    return state


cdef inline object _map_key_for(object mapper, object key):
    """The map key a state of ``mapper`` stores for identity key ``key`` (the ``key`` setter's
    rule): ``ValueError`` for a key that is not one of the mapper's class."""
    cdef tuple split = split_key(key)
    if split is None or split[0] is not mapper.class_:
        name = mapper.class_.__name__
        raise ValueError(
            f"{key!r} is not an identity key of {name}: ({name}, (primary key value, ...), None)"
        )
    return split[1]


cdef object _sessions = None


cdef object _session_registry():
    """The registry of live sessions by id, imported on first use."""
    global _sessions
    if _sessions is None:
        from minialchemy.orm.session_registry import sessions
        _sessions = sessions
    return _sessions


cdef inline void _mark_modified(InstanceState state) except *:
    """``InstanceState._mark_modified`` in C."""
    state.modified = True
    session = state.session
    if session is not None:
        session._register_modified(state)


cdef inline void _expire(InstanceState state, object keys) except *:
    """``InstanceState.expire`` in C."""
    obj = _entry_object(state)
    if obj is None:
        return
    cdef dict d = _own_dict(obj)
    mapper = state.mapper
    cdef tuple column_keys = mapper._column_attr_keys
    cdef tuple relationship_keys = mapper._relationship_keys
    if keys is None:
        _expire_every_attribute(state, d, column_keys, relationship_keys, None)
        return
    column_keys_set = mapper._column_attr_keys_set
    for key in keys:
        d.pop(key, None)
        if state._committed_state is not None:
            state._committed_state.pop(key, None)
        if key in column_keys_set or key in relationship_keys:
            state.expired_attributes.add(key)


cdef inline set _own_expired(InstanceState state):
    """The state's own set of expired names, to read out or to change: created when there is
    none, copied from the frozenset a commit shares (``expire_instances``) when that is what
    the state holds."""
    expired = state._expired_attributes
    if expired is None:
        own = set()
    elif type(expired) is frozenset:
        own = PySet_New(expired)
        PyObject_GC_UnTrack(own)  # names only, as in _expire_every_attribute
    else:
        return <set>expired
    state._expired_attributes = own
    return own


cdef inline void _forget_committed(InstanceState state):
    """Empty ``committed_state`` (and the mask that mirrors it)."""
    if state._committed_state:
        state._committed_state.clear()
    state._recorded_mask = 0
    state._recorded_count = 0


cdef inline void _expire_every_attribute(InstanceState state, dict d, tuple column_keys,
                                         tuple relationship_keys, frozenset names) except *:
    """``state.expire()``: every column and relationship value leaves ``d`` and is expired.
    ``names``: the frozenset of those keys, shared by the states (``expire_instances`` builds
    it once per mapper; ``_own_expired`` copies it before a change), or None to build the
    state's own set here."""
    cdef object expired = names
    if names is None:
        expired = set()
        for key in column_keys:
            PySet_Add(expired, key)
        for key in relationship_keys:
            PySet_Add(expired, key)
        # A set of attribute names (strings) can be part of no reference cycle: not tracked, so
        # that expired objects give later collections nothing to walk.
        PyObject_GC_UnTrack(expired)
    for key in column_keys:
        minialchemy_dict_discard(d, key)
    for key in relationship_keys:
        minialchemy_dict_discard(d, key)
    state._expired_attributes = expired
    _forget_committed(state)
    state.modified = False


cdef inline void _attach(object obj, dict d, InstanceState state):
    """Store ``state`` in ``obj.__dict__`` and, for an InstrumentedObject, in its C field."""
    PyDict_SetItem(d, _STATE_KEY, state)
    _point_at(obj, state)


cdef inline void _point_at(object obj, InstanceState state):
    """The C half of ``_attach``: ``state`` and ``obj`` point at each other (a C pointer both
    ways for an InstrumentedObject, else a weak reference from the state)."""
    cdef InstrumentedObject instrumented
    cdef InstanceState previous
    cdef PyObject* old
    if isinstance(obj, InstrumentedObject):
        instrumented = <InstrumentedObject>obj
        previous = _own_state(instrumented)
        if previous is not None and previous is not state:
            previous._obj_ptr = NULL  # a replaced state keeps only a weak reference
            previous._obj_ref = PyWeakref_NewRef(obj, None)
        old = instrumented._sa_state
        Py_INCREF(state)
        instrumented._sa_state = <PyObject*>state
        Py_XDECREF(old)
        state._obj_ptr = <PyObject*>obj
        state._obj_ref = None
    else:
        state._obj_ptr = NULL
        state._obj_ref = PyWeakref_NewRef(obj, None)


cdef inline InstanceState _own_state(InstrumentedObject obj):
    """The state in an InstrumentedObject's C field, or None."""
    if obj._sa_state == NULL:
        return None
    return <InstanceState>obj._sa_state


@cython.no_gc_clear  # __dealloc__ needs _sa_state to clear the state's pointer to this object
@cython.auto_pickle(False)
cdef class InstrumentedObject:
    """The base class of every declarative class (see the Python twin)."""

    # The object's state: an owned reference, or NULL before it has one.  A C pointer rather
    # than a typed attribute, which Cython's own allocation would have to set to None: the
    # loader allocates with ``object.__new__`` instead (``_new_instance``), which zeroes it.
    cdef PyObject* _sa_state

    def __cinit__(self):
        # Runs when the object is made by the class (``User(...)``), not by the loader.  Give
        # the object its __dict__ now, as an ordinary dict.  Left to CPython, the first attribute
        # write would create a key-sharing dict, and 3.11's specialised attribute read does not
        # handle those (every read of such an object takes the slow path).
        if minialchemy_has_instance_dict(self):
            _instance_dict(self)
            if _constructs_untracked(Py_TYPE(self)):
                # Out of the garbage collector's view, as a loaded object of plain values is
                # (``_new_inline``): the new object's dict is empty, and it comes back into view
                # before it can hold anything else (``_keep_track`` for a column value, a
                # non-column attribute, its dict handed to Python code).  So a loop of
                # ``User(name=...)`` in your code gives the collections it starts nothing to
                # walk: 100 000 new objects took two full collections before.
                PyObject_GC_UnTrack(self)

    def __init__(self, **kwargs):
        cdef PyTypeObject* tp = Py_TYPE(self)
        cdef PyObject* attribute
        # ``setattr(self, key, value)`` is this class's own ``__setattr__`` unless a subclass
        # defines one: then a column's value is set here, without PyObject_SetAttr looking the
        # attribute up a second time
        cdef bint own_setattr = minialchemy_same_setattr(tp, <PyTypeObject*>InstrumentedObject)
        if own_setattr and _init_columns_at_once(self, tp, kwargs):
            return
        for key, value in kwargs.items():
            attribute = _class_attribute(tp, key)
            if attribute == NULL:
                raise TypeError(f"{key!r} is an invalid keyword argument for {type(self).__name__}")
            if own_setattr and Py_TYPE(<object>attribute) == <PyTypeObject*>ColumnAttribute:
                _set_column(self, <ColumnAttribute>attribute, value)
            else:
                setattr(self, key, value)

    def __setattr__(self, name, value):
        cdef PyObject* attribute = _class_attribute(Py_TYPE(self), name)
        if attribute != NULL and Py_TYPE(<object>attribute) == <PyTypeObject*>ColumnAttribute:
            _set_column(self, <ColumnAttribute>attribute, value)
        else:
            _track_again(self)  # the value may be a container (see _new_inline)
            _generic_setattr(self, name, <PyObject*>value)  # relationships, plain attributes

    def __delattr__(self, name):
        cdef PyObject* attribute = _class_attribute(Py_TYPE(self), name)
        if attribute != NULL and Py_TYPE(<object>attribute) == <PyTypeObject*>ColumnAttribute:
            _set_column_value(_own_state(self), _own_dict(self), <ColumnAttribute>attribute, None)
        else:
            _generic_setattr(self, name, NULL)

    def __getstate__(self):
        """Pickling and ``copy``: the instance ``__dict__`` (the C field is not state to copy;
        without this, ``object`` refuses to pickle a type with C fields)."""
        d = _instance_dict(self)
        return d if d else None

    def __dealloc__(self):
        cdef InstanceState state = _own_state(self)
        if state is None:
            return
        Py_XDECREF(self._sa_state)  # the local ``state`` holds it until the end
        self._sa_state = NULL
        state._obj_ptr = NULL
        # the state is this object's identity-map entry: tell the map, as a weak reference's
        # callback would (ext/identity.pyx)
        callback = state._on_collected
        if callback is not None:
            state._on_collected = None
            callback(state)


cdef inline bint _init_columns_at_once(InstrumentedObject obj, PyTypeObject* tp, dict kwargs) except -1:
    """``__init__``'s loop in one step for the usual new object: no state yet (so no write is
    recorded), an empty ``__dict__``, and a column for every keyword.  Then the keywords' dict
    is copied into ``__dict__`` whole (CPython copies a dict into an empty one by cloning its
    table): the same keys, values and order that setting them one by one leaves, for about a
    third of the work.  False, having changed nothing, when the loop must do it."""
    cdef PyObject* attribute
    cdef PyObject* key
    cdef PyObject* value
    cdef Py_ssize_t position = 0
    cdef bint container = False
    if obj._sa_state != NULL or not minialchemy_has_instance_dict(obj):
        return False
    d = _own_dict(obj)
    if _dict_size(d) != 0:
        return False
    while PyDict_Next(kwargs, &position, &key, &value):
        attribute = _class_attribute(tp, <object>key)
        if attribute == NULL or Py_TYPE(<object>attribute) != <PyTypeObject*>ColumnAttribute:
            return False
        if PyType_IS_GC(Py_TYPE(<object>value)):
            container = True
    if container and minialchemy_gc_untracked(obj):
        PyObject_GC_Track(obj)  # as _keep_track for each value
    PyDict_Update(d, kwargs)
    return True


cdef inline int _set_column(InstrumentedObject obj, ColumnAttribute column, object value) except -1:
    """``InstrumentedObject.__setattr__`` for a column."""
    # a loaded object without a dict yet: the value's slot in its inline values array
    # (NULL for any other object: ``minialchemy._ext.capi``)
    cdef PyObject** slot = minialchemy_inline_value_slot(obj, column.key, &column._inline_hint)
    if slot != NULL:
        _set_inline_value(obj, slot, column, value)
    else:
        _keep_track(obj, value)
        _set_column_value(_own_state(obj), _own_dict(obj), column, value)
    return 0


cdef str _DICT_NAME = "__dict__"


cdef inline bint _constructs_untracked(PyTypeObject* cls) except -1:
    """May a new object of ``cls`` (made by ``cls(...)``) start out of the garbage collector's
    view?  Only where no Python code can reach its dict without bringing it back into view:
    ``cls.__dict__`` is the attribute ``minialchemy_use_ordinary_dicts`` installs, which the
    loader installs on a class it loads inline (``_loads_inline``, asked here for a mapped class
    on its first object)."""
    cdef PyObject* mapper
    if minialchemy_has_ordinary_dicts(cls, _DICT_NAME):
        return True
    if not MINIALCHEMY_INLINE_VALUES:
        return False
    mapper = _class_attribute(cls, "__mapper__")
    if mapper == NULL:
        return False
    return _loads_inline(<type>cls, (<object>mapper)._column_attr_keys)


cdef PyObject* _class_attribute(PyTypeObject* cls, object name):
    """What ``name`` is on the class itself (borrowed), or NULL: the interpreter's cached
    lookup (``minialchemy._ext.capi``)."""
    return minialchemy_type_lookup(cls, name)


cdef int _set_column_value(InstanceState state, dict d, ColumnAttribute attribute,
                           object value) except -1:
    """Write the value of column ``attribute`` into ``d``; on a persistent object, first
    record the change (``_record_change``) unless ``_change_recorded`` says there is nothing
    new to record."""
    if state is not None and state._map_key is not None and not _change_recorded(state, attribute.index):
        _record_change(state, d, attribute)
    PyDict_SetItem(d, attribute.key, value)
    return 0


cdef inline int _set_inline_value(InstrumentedObject obj, PyObject** slot, ColumnAttribute attribute,
                                  object value) except -1:
    """``_set_column_value`` for an object that keeps its values inline (no ``__dict__`` yet),
    given the column's ``slot`` in that array: the same record, then the value stored in place,
    as CPython's specialised ``STORE_ATTR_INSTANCE_VALUE`` stores into a plain object.  So the
    object still has no dict, and ``vars(obj)`` made later shows the new value."""
    cdef InstanceState state = _own_state(obj)
    cdef PyObject* old
    if state is not None and state._map_key is not None and not _change_recorded(state, attribute.index):
        _record(state, attribute, None, slot[0])
        # recording runs Python code (the session's ``_register_modified``), which may have
        # given the object a dict: look again
        slot = minialchemy_inline_value_slot(obj, attribute.key, &attribute._inline_hint)
        if slot == NULL:
            PyDict_SetItem(_instance_dict(obj), attribute.key, value)
            return 0
    if PyType_IS_GC(Py_TYPE(value)) and minialchemy_gc_untracked(obj):
        PyObject_GC_Track(obj)  # the value may be a container (see ``_new_inline``)
    old = slot[0]
    Py_INCREF(value)
    slot[0] = <PyObject*>value
    Py_XDECREF(old)
    return 0


cdef inline bint _change_recorded(InstanceState state, Py_ssize_t index) noexcept:
    """Whether a write to column ``index`` has nothing to record: the object is marked modified,
    nothing is expired, and the column's committed value is recorded already.

    "Is this column recorded already?" would cost a dict lookup per write.  The mask answers it
    with a bit test instead, as long as it is exact: only ``_record_change`` adds to
    committed_state, and while it has added exactly _recorded_count keys (all in the mask),
    the dict's size says that nobody has removed one since.  So a loop that writes the same
    attributes again and again (the steady state) makes one bit test and one size comparison
    per write, then the ``__dict__`` store."""
    cdef dict committed = state._committed_state
    return (state.modified and 0 <= index < 64 and committed is not None
            and (state._recorded_mask >> index) & 1
            and _dict_size(committed) == state._recorded_count
            and not state._expired_attributes)


cdef int _record_change(InstanceState state, dict d, ColumnAttribute attribute) except -1:
    """A write to a column of a persistent object (see the Python twin); the mask of recorded
    columns is kept up to date here (``_change_recorded``)."""
    return _record(state, attribute, d, NULL)


cdef inline int _record(InstanceState state, ColumnAttribute attribute, dict d,
                        PyObject* inline_value) except -1:
    """``_record_change``, reading the column's current value from ``d``, or, when ``d`` is
    None, taking ``inline_value`` (the object keeps its values inline: ``_set_inline_value``)."""
    cdef PyObject* old
    cdef dict committed = state._committed_state
    cdef str key = attribute.key
    cdef Py_ssize_t index = attribute.index
    cdef unsigned long long bit = (<unsigned long long>1) << index if 0 <= index < 64 else 0
    if committed is None:
        committed = state._committed_state = {}
    if bit != 0 and _dict_size(committed) == state._recorded_count:
        if not (state._recorded_mask & bit):
            old = PyDict_GetItem(d, key) if d is not None else inline_value
            PyDict_SetItem(committed, key, <object>old if old != NULL else _NO_VALUE)
            state._recorded_mask |= bit
            state._recorded_count += 1
    elif PyDict_GetItem(committed, key) == NULL:
        # not trusting the mask (a key popped by expire(keys) or by an ORM-enabled UPDATE, a
        # column index >= 64): ask the dict, and stop trusting the mask until committed_state
        # is emptied
        old = PyDict_GetItem(d, key) if d is not None else inline_value
        PyDict_SetItem(committed, key, <object>old if old != NULL else _NO_VALUE)
        state._recorded_count = -1
    if state._expired_attributes:
        PySet_Discard(_own_expired(state), key)
    if not state.modified:
        _mark_modified(state)
    return 0


cdef class ColumnAttribute:
    """The descriptor for one column attribute (``User.name``): a non-data descriptor."""

    cdef readonly str key
    cdef readonly object comparator
    cdef readonly Py_ssize_t index
    # where ``key`` was last found among the class's shared keys (any value is safe: it is
    # checked before use, ``minialchemy_inline_value_slot``)
    cdef Py_ssize_t _inline_hint
    cdef object __weakref__

    def __init__(self, str key, comparator, Py_ssize_t index=-1):
        self.key = key
        self.comparator = comparator
        self.index = index
        self._inline_hint = -1

    def __get__(self, obj, owner):
        if obj is None:
            return self.comparator
        cdef PyObject* value = PyDict_GetItem(_own_dict(obj), self.key)
        if value != NULL:
            return <object>value
        return self._value_missing(obj)

    cpdef _value_missing(self, obj):
        """No value in ``__dict__``: reload if expired (or unloaded and persistent), else None."""
        cdef dict d = _own_dict(obj)
        cdef InstanceState state = _state_or_none(obj, d)
        if state is None:
            return None
        if state._map_key is None:
            if state._expired_attributes and self.key in state._expired_attributes:
                # expired before a rollback() undid its INSERT: no value to give (refused)
                state.mapper._load_expired(state, self.key)
            return None  # transient or pending: unset attributes read None
        state.mapper._load_expired(state, self.key)
        cdef PyObject* value = PyDict_GetItem(d, self.key)
        return <object>value if value != NULL else None


cdef class PlainClassColumnAttribute(ColumnAttribute):
    """A column attribute of a plain class: a data descriptor (see the Python twin)."""

    def __set__(self, obj, value):
        cdef dict d = _instance_dict(obj)
        _set_column_value(_state_or_none(obj, d), d, self, value)

    def __delete__(self, obj):
        cdef dict d = _instance_dict(obj)
        _set_column_value(_state_or_none(obj, d), d, self, None)


cdef inline InstanceState _state_or_none(object obj, dict d):
    """The state of ``obj`` if it has one yet."""
    cdef PyObject* state
    if isinstance(obj, InstrumentedObject):
        return _own_state(<InstrumentedObject>obj)
    state = PyDict_GetItem(d, _STATE_KEY)
    return <InstanceState>state if state != NULL else None


cdef inline InstanceState _state_of(object obj):
    """``_state_or_none`` without the ``__dict__`` at hand: an InstrumentedObject's comes from
    its C field, so that asking for it does not make a loaded object's dict
    (``_new_instance``)."""
    if isinstance(obj, InstrumentedObject):
        return _own_state(<InstrumentedObject>obj)
    return _state_or_none(obj, _instance_dict(obj))


cdef inline InstanceState _flushed_state(object obj, dict d):
    """The state of an object the flush writes (``d[STATE_KEY]`` in the Python twin)."""
    cdef InstanceState state = _state_or_none(obj, d)
    if state is None:
        raise ValueError(f"{type(obj).__name__} object at {id(obj):#x} was flushed without a state")
    return state


cdef inline InstanceState _flushed_state_of(object obj):
    """``_flushed_state`` without the ``__dict__`` at hand: an InstrumentedObject's state comes
    from its C field, so that a flush does not make a loaded object's dict (``_new_inline``)."""
    if isinstance(obj, InstrumentedObject) and (<InstrumentedObject>obj)._sa_state != NULL:
        return <InstanceState>(<InstrumentedObject>obj)._sa_state
    return _flushed_state(obj, _own_dict(obj))


cdef inline PyObject* _value_of(object obj, str key, Py_ssize_t* hint) except? NULL:
    """``obj.__dict__.get(key)`` (borrowed, NULL if absent) without making the dict of a loaded
    object that keeps its values inline (``_new_inline``): read from that array where it is
    (``hint`` remembers the key's place in it, any value is safe), else from the dict.  A
    flush that reads the values of 10 000 loaded objects this way makes no dict for them:
    making each one (and then an ordinary dict from it) cost more than the rest of the
    flush's own work."""
    cdef PyObject* value
    if minialchemy_inline_value_get(obj, key, hint, &value):
        return value
    return _dict_get_str(_own_dict(obj), key)


cdef inline tuple _column_values_of(object obj, tuple keys):
    """``_values_of(obj.__dict__, keys)`` by ``_value_of``."""
    cdef Py_ssize_t i, n = len(keys)
    cdef Py_ssize_t hint = -1
    cdef tuple values = PyTuple_New(n)
    cdef PyObject* value_ptr
    for i in range(n):
        value_ptr = _value_of(obj, <str>keys[i], &hint)
        value = <object>value_ptr if value_ptr != NULL else None
        Py_INCREF(value)
        PyTuple_SET_ITEM(values, i, value)
    return values


cdef inline PyObject* _dict_get_str(dict d, str key) except? NULL:
    """``d.get(key)`` (borrowed, NULL if absent) for a string key, whose hash is cached: the
    known-hash lookup (``capi.pxd``) skips what ``PyDict_GetItem`` adds around it."""
    return minialchemy_dict_get_known_hash(d, key, hash(key))


cdef inline tuple _values_of(dict d, tuple keys):
    """``tuple([d.get(key) for key in keys])`` in C."""
    cdef Py_ssize_t i, n = len(keys)
    cdef tuple values = PyTuple_New(n)
    cdef PyObject* value_ptr
    for i in range(n):
        value_ptr = PyDict_GetItem(d, keys[i])
        value = <object>value_ptr if value_ptr != NULL else None
        Py_INCREF(value)
        PyTuple_SET_ITEM(values, i, value)
    return values


cpdef InstanceState new_state(object obj, object mapper):
    """Create the state of a transient object and store it in its ``__dict__``."""
    cdef InstanceState state = InstanceState.__new__(InstanceState)
    state.mapper = mapper
    _attach(obj, _own_dict(obj), state)  # (a state is not tracked by the collector)
    return state


cpdef InstanceState instance_state(object obj):
    """The state of a mapped object, created on first need."""
    cdef InstanceState state = _state_of(obj)
    if state is None:
        state = new_state(obj, type(obj).__mapper__)
    return state


#: ``add_pending`` sizes an empty ``session.new`` for a list of at least this many objects
cdef Py_ssize_t _PRESIZE_AT = 1000


cpdef add_pending(object objects, object session_id, object new, object add_other):
    """``Session.add_all``'s loop in C (see the Python twin): the class's mapper and whether it
    has relationships are looked up once per class, not once per object."""
    cdef IdentitySet compiled_set = new if type(new) is IdentitySet else None
    cdef PyTypeObject* last_type = NULL
    cdef bint last_simple = False
    cdef object mapper = None
    cdef PyObject* found
    cdef InstanceState state
    if compiled_set is not None and not compiled_set._members and type(objects) is list \
            and len(<list>objects) >= _PRESIZE_AT:
        # the usual bulk add into an empty session.new: its dict made at the size it will
        # have, instead of growing (and being copied) a dozen times on the way to 100 000
        compiled_set._members = minialchemy_dict_presized(len(<list>objects))
    for obj in objects:
        if Py_TYPE(obj) != last_type:
            last_type = Py_TYPE(obj)
            found = _class_attribute(last_type, "__mapper__")
            mapper = <object>found if found != NULL else None
            last_simple = mapper is not None and not mapper._relationship_keys
        if last_simple:
            state = _state_of(obj)
            if state is None:
                state = new_state(obj, mapper)
            if state.session_id is None and state._map_key is None:
                state.session_id = session_id
                if compiled_set is not None:
                    compiled_set.add(obj)
                else:
                    new.add(obj)
                continue
        add_other(obj)


# -- the loading fast path -------------------------------------------------------------------


cpdef object load_instance(object mapper, object identity_map, object session_id, object key,
                           tuple attr_keys, object values):
    """The object for one row: the identity map's (refreshing only its expired attributes, so
    pending changes are kept), or a new one built without ``__init__``."""
    obj = identity_map.get(key)
    if obj is not None:
        _refresh_expired(obj, attr_keys, values)
        return obj
    cdef type cls = mapper.class_
    cdef InstanceState state = _loaded_state(mapper, session_id, _map_key_for(mapper, key))
    if _loads_inline(cls, attr_keys):
        obj = _new_inline(cls, state, attr_keys, values)
    else:
        obj = _new_with_dict(cls, state, attr_keys, values)
    if type(identity_map) is IdentityMap:
        _add_absent_new(<IdentityMap>identity_map, (<IdentityMap>identity_map)._class_entries(cls),
                        (<IdentityMap>identity_map)._callbacks[cls], cls, state._map_key,
                        hash(state._map_key), obj)
    else:
        identity_map.add(key, obj)
    return obj


cdef inline void _refresh_expired(object obj, tuple attr_keys, object values) except *:
    cdef dict d = _instance_dict(obj)
    cdef InstanceState state = _state_or_none(obj, d)
    if state is not None and state._expired_attributes:
        populate_expired(state, d, attr_keys, values)


cdef inline bint _loads_inline(type cls, tuple attr_keys):
    """Can the loader make ``cls``'s objects with their values inline (``_new_inline``)?  On
    CPython 3.11 and 3.12, for an InstrumentedObject class whose column attributes are all the
    plain :class:`ColumnAttribute` (so that writing an attribute is storing it, as writing into
    the ``__dict__`` would be) and which defines nothing named like the state's key."""
    cdef PyObject* attribute
    if not MINIALCHEMY_INLINE_VALUES or not issubclass(cls, InstrumentedObject):
        return False
    if _class_attribute(<PyTypeObject*>cls, _STATE_KEY) != NULL:
        return False
    for key in attr_keys:
        attribute = _class_attribute(<PyTypeObject*>cls, key)
        if attribute == NULL or Py_TYPE(<object>attribute) != <PyTypeObject*>ColumnAttribute:
            return False
    # ``obj.__dict__`` and ``vars(obj)`` from Python code (``repr()``, ``merge()``, the
    # relationship loaders) then give the ordinary dict ``_instance_dict`` makes, as C code gets
    # (``minialchemy._ext.capi``): CPython's own ``__dict__`` attribute would leave such an
    # object a key-sharing dict, on which reading ``user.name`` takes four times as long.
    minialchemy_use_ordinary_dicts(<PyTypeObject*>cls)
    return True


cdef inline tuple _row_of(tuple attr_keys, object values):
    """The row as a tuple, checked to hold a value for each attribute."""
    cdef tuple row = <tuple>values if type(values) is tuple else tuple(values)
    if len(row) < len(attr_keys):
        raise ValueError(f"row {row!r} has fewer values than the {len(attr_keys)} attributes {attr_keys!r}")
    return row


cdef inline InstanceState _loaded_state(object mapper, object session_id, object map_key):
    """The state of an object loaded under map key ``map_key`` (its primary key value, or
    the tuple of them: see ``InstanceState``) in session ``session_id``."""
    cdef InstanceState state = InstanceState.__new__(InstanceState)
    state.mapper = mapper
    state._map_key = map_key
    state.session_id = session_id
    return state


cdef object _new_instance(type cls, object mapper, object session_id, object key,
                          tuple attr_keys, object values):
    """A new persistent object for a row (see ``_new_with_dict``)."""
    return _new_with_dict(cls, _loaded_state(mapper, session_id, _map_key_for(mapper, key)),
                          attr_keys, values)


cdef inline object _new_with_dict(type cls, InstanceState state, tuple attr_keys, object values):
    """``_new_instance`` with its state made: allocated without ``__init__`` (the type's own
    ``tp_new``, called in C), ``__dict__`` filled, state attached."""
    cdef tuple row = _row_of(attr_keys, values)
    obj = (<PyTypeObject*>cls).tp_new(cls, <PyObject*>_EMPTY_TUPLE, NULL)
    cdef dict d = _instance_dict(obj)
    cdef Py_ssize_t i
    for i in range(len(attr_keys)):
        PyDict_SetItem(d, attr_keys[i], row[i])
    _attach(obj, d, state)
    return obj


cdef inline object _new_inline(type cls, InstanceState state, tuple attr_keys, object values):
    """``_new_with_dict`` for a class ``_loads_inline`` accepts: the same object, without a dict.

    Where the bytes of a loaded object go (CPython 3.11, three columns).  Made by its class
    (the type's own ``tp_new``), an InstrumentedObject gets an ordinary ``__dict__`` of 184
    bytes from ``InstrumentedObject.__cinit__``.  Allocated by ``object.__new__`` instead, it
    gets what a plain Python instance has: an array of values (48 bytes; the keys are shared by
    the class) and no dict at all.  The values are written there as attribute writes
    (``PyObject_GenericSetAttr``, which stores into that array).  Reading ``user.name`` on such
    an object is the interpreter's fastest attribute read; a dict is made only when one is asked
    for (``vars(user)``, a change, a flush, an expiry: ``_instance_dict``)."""
    cdef tuple row = _row_of(attr_keys, values)
    obj = minialchemy_object_new(<PyTypeObject*>cls)
    cdef Py_ssize_t i
    cdef bint only_plain_values = True
    for i in range(len(attr_keys)):
        value = row[i]
        _generic_setattr(obj, attr_keys[i], <PyObject*>value)
        if PyObject_IS_GC(value):
            only_plain_values = False
    _generic_setattr(obj, _STATE_KEY, <PyObject*>state)
    _point_at(obj, state)
    if only_plain_values:
        # Out of the cyclic garbage collector's view, as CPython does for a tuple or a dict of
        # plain values: an object holding only values of types the collector does not track
        # (numbers, strings, dates...) and its state (not tracked either, see InstanceState)
        # can be part of no reference cycle.  It goes back into view before it can hold
        # anything else: ``InstrumentedObject.__setattr__`` for a value that is not a column,
        # and ``_instance_dict`` (``minialchemy._ext.capi``) as soon as it has a dict, which
        # every other write goes through.  So loading 100 000 rows gives the collector nothing
        # to walk: not the first collection after the load, nor any full collection later.
        PyObject_GC_UnTrack(obj)
    return obj


cdef inline void _track_again(object obj):
    """Put a loaded object back into the garbage collector's view (see ``_new_inline``)."""
    if not PyObject_GC_IsTracked(obj):
        PyObject_GC_Track(obj)


cpdef list load_instances(object mapper, object identity_map, object session_id, object rows):
    """One object per row of ``select(User)``; None for a row whose primary key is NULL.

    With the compiled identity map, no identity key is built: the row's primary key value
    (a tuple of them for a composite key) is the map key, looked up in the dict of the class's
    entries (``IdentityMap._class_entries``) and stored in the new object's state, which holds
    the same value its object does (no byte of its own)."""
    cdef type cls = mapper.class_
    cdef tuple attr_keys = mapper._column_attr_keys
    cdef tuple pk_positions = mapper._pk_positions
    cdef Py_ssize_t npk = len(pk_positions)
    cdef Py_ssize_t first_pk = pk_positions[0] if npk == 1 else -1
    cdef Py_ssize_t i
    cdef list objects = []
    cdef tuple pk
    cdef bint null_pk
    cdef Py_hash_t key_hash = 0
    cdef PyObject* entry
    cdef InstanceState state
    # the compiled identity map is called in C (its .pxd), another one through its methods
    cdef IdentityMap compiled_map = identity_map if type(identity_map) is IdentityMap else None
    cdef dict entries = compiled_map._class_entries(cls) if compiled_map is not None else None
    cdef object on_collected = compiled_map._callbacks[cls] if compiled_map is not None else None
    cdef bint inline = _loads_inline(cls, attr_keys)
    if type(rows) is not list:
        rows = list(rows)
    for row in <list>rows:
        if first_pk >= 0:
            map_key = row[first_pk]
            null_pk = map_key is None
        else:
            pk = PyTuple_New(npk)
            null_pk = False
            for i in range(npk):
                value = row[<Py_ssize_t>pk_positions[i]]
                if value is None:
                    null_pk = True
                Py_INCREF(value)
                PyTuple_SET_ITEM(pk, i, value)
            # A map key lives as long as its object, so the garbage collector would keep
            # re-examining it; it holds primary-key values and can be part of no reference
            # cycle, so take it out of its view (as it does itself, later, for tuples of plain
            # values).
            PyObject_GC_UnTrack(pk)
            map_key = pk
        if null_pk:
            objects.append(None)
            continue
        if compiled_map is None:
            obj = identity_map.get(join_key(cls, map_key))
        else:
            # the map key is hashed once, for the lookup and for the store (capi.pxd); a key
            # found in the map (rare: a row loaded again) is looked up again by get()
            key_hash = hash(map_key)
            entry = minialchemy_dict_get_known_hash(entries, map_key, key_hash)
            obj = None if entry == NULL else compiled_map.get(join_key(cls, map_key))
        if obj is not None:
            _refresh_expired(obj, attr_keys, row)
        else:
            state = _loaded_state(mapper, session_id, map_key)
            if inline:
                obj = _new_inline(cls, state, attr_keys, row)
            else:
                obj = _new_with_dict(cls, state, attr_keys, row)
            if compiled_map is not None:
                _add_absent_new(compiled_map, entries, on_collected, cls, map_key, key_hash, obj)
            else:
                identity_map.add(join_key(cls, map_key), obj)
        objects.append(obj)
    return objects


cdef inline void _add_absent_new(IdentityMap identity_map, dict entries, object on_collected,
                                 type cls, object map_key, Py_hash_t key_hash, object obj) except *:
    """C spelling of ``identity_map._add_absent(key, obj)`` for an object of class ``cls``
    just built under ``map_key`` (``key_hash`` is ``hash(map_key)``): an InstrumentedObject's
    entry is its state (``MapEntry`` in ext/identity.pyx), stored in the class's entries
    without the map asking whose state it is and under which key.  ``entries`` and
    ``on_collected`` are the map's for ``cls`` (``_class_entries(cls)``, ``_callbacks[cls]``),
    which the loops calling this look up once, not once per object."""
    cdef InstanceState state
    if isinstance(obj, InstrumentedObject):
        state = _own_state(<InstrumentedObject>obj)
        state._on_collected = on_collected
        minialchemy_dict_set_known_hash(entries, map_key, state, key_hash)
    else:
        identity_map._add_absent(join_key(cls, map_key), obj)


cpdef populate_expired(InstanceState state, dict d, attr_keys, values):
    """Fill the expired attributes of ``state`` from a row; values set since stay as they are.
    A state holding the frozenset a commit shares (``_own_expired``) lets go of it instead of
    emptying a copy."""
    expired = state._expired_attributes
    if not expired:
        return
    for key, value in zip(attr_keys, values):
        if key in expired:
            PyDict_SetItem(d, key, value)
    if type(expired) is frozenset:
        state._expired_attributes = None
    else:
        (<set>expired).clear()


# -- the flush's objects ---------------------------------------------------------------------


cpdef dict group_by_mapper(object objects, object skip_ids):
    """``objects`` grouped by the mapper of their class (see the Python twin), in one C loop:
    the mapper and its group are looked up once per run of objects of one class, not once per
    object."""
    cdef dict groups = {}
    cdef bint skipping = bool(skip_ids)
    cdef PyTypeObject* last_type = NULL
    cdef PyObject* found
    cdef list group = None
    for obj in objects:
        if skipping and PyLong_FromVoidPtr(<void*>obj) in skip_ids:
            continue
        if Py_TYPE(obj) != last_type:
            found = _class_attribute(Py_TYPE(obj), "__mapper__")
            # (not found: the attribute lookup raises the Python twin's AttributeError)
            mapper = <object>found if found != NULL else type(obj).__mapper__
            group = groups.get(mapper)
            if group is None:
                group = groups[mapper] = []
            last_type = Py_TYPE(obj)
        group.append(obj)
    return groups


cdef inline bint _all_pending(list objects) except -1:
    """Whether every object of ``objects`` has a state without an identity key."""
    cdef InstanceState state
    for obj in objects:
        state = _state_of(obj)
        if state is None or state._map_key is not None:
            return False
    return True


cpdef tuple split_pending(object objects):
    """``objects`` split into pending and persistent ones (see the Python twin), in one C loop
    reading each state's identity key.  A list of pending objects only comes back as it is,
    not copied (``persistence.runs_by_columns`` says what a copy of 100 000 objects costs)."""
    cdef list pending = []
    cdef list persistent = []
    cdef InstanceState state
    if type(objects) is list and _all_pending(<list>objects):
        return objects, persistent
    for obj in objects:
        state = _state_of(obj)
        if state is None:
            raise ValueError(f"{type(obj).__name__} object at {id(obj):#x} was flushed without a state")
        if state._map_key is None:
            pending.append(obj)
        else:
            persistent.append(obj)
    return pending, persistent


cpdef list with_value(object objects, str attr_key):
    """The objects whose ``attr_key`` is not None (see the Python twin), in one C loop."""
    cdef list found = []
    cdef PyObject* value
    for obj in objects:
        value = _dict_get_str(_own_dict(obj), attr_key)
        if value != NULL and <object>value is not None:
            found.append(obj)
    return found


cpdef list with_missing_values(object objects, tuple attr_keys):
    """The objects with no value for one or more of ``attr_keys`` (see the Python twin), in one
    C loop that makes no dict for a loaded object (``_value_of``): the flush asks this of every
    object it UPDATEs or DELETEs."""
    cdef list found = []
    cdef Py_ssize_t i, n = len(attr_keys)
    cdef Py_ssize_t* hints = <Py_ssize_t*>PyMem_Malloc((n + 1) * sizeof(Py_ssize_t))
    if hints == NULL:
        raise MemoryError()
    for i in range(n):
        hints[i] = -1
    try:
        for obj in objects:
            for i in range(n):
                if _value_of(obj, <str>attr_keys[i], &hints[i]) == NULL:
                    found.append(obj)
                    break
    finally:
        PyMem_Free(hints)
    return found


# -- flush parameters ------------------------------------------------------------------------


cpdef list insert_params(dict d, attr_keys):
    """INSERT values of one object, in column order (missing attributes are None)."""
    cdef tuple keys = <tuple>attr_keys if type(attr_keys) is tuple else tuple(attr_keys)
    cdef Py_ssize_t i, n = len(keys)
    cdef list params = [None] * n
    cdef PyObject* value
    for i in range(n):
        value = PyDict_GetItem(d, keys[i])
        if value != NULL:
            params[i] = <object>value
    return params


cpdef list insert_params_many(list objects, tuple attr_keys, Py_ssize_t start, Py_ssize_t stop):
    """The INSERT values of ``objects[start:stop]`` in one flat list: one C loop filling a list
    allocated at its final size (no list per object, nothing to flatten)."""
    cdef Py_ssize_t width = len(attr_keys)
    cdef Py_ssize_t i, j, position = 0
    if stop > len(objects):
        stop = len(objects)
    if start < 0 or stop < start:
        raise IndexError(f"no objects {start}..{stop} among {len(objects)}")
    cdef list params = PyList_New((stop - start) * width)
    cdef dict d
    cdef PyObject* value
    for i in range(start, stop):
        d = _own_dict(objects[i])
        for j in range(width):
            value = _dict_get_str(d, <str>attr_keys[j])  # (attribute names: strings)
            item = <object>value if value != NULL else None
            Py_INCREF(item)
            PyList_SET_ITEM(params, position, item)
            position += 1
    return params


cpdef fill_keys(list objects, Py_ssize_t start, object keys, str attr_key):
    """Give ``objects[start]``, ``objects[start + 1]``, ... the values of ``keys`` as attribute
    ``attr_key``, straight into their ``__dict__`` (see the Python twin)."""
    cdef Py_ssize_t i = start
    cdef Py_ssize_t n = len(objects)
    for key in keys:
        if i >= n:
            raise IndexError(f"more keys than objects from {start} on")
        obj = objects[i]
        _keep_track(obj, key)
        PyDict_SetItem(_own_dict(obj), attr_key, key)
        i += 1


cdef inline bint _is_net_change(object committed, object value) except -1:
    """Whether a column's current ``value`` differs from its ``committed`` one (the rule of
    ``update_params`` and ``update_rows``): never loaded, unequal, or equal but of another type
    (``1`` and ``True``, ``1`` and ``1.0``).  ``!=`` may run user code and raise."""
    return committed is _NO_VALUE or committed != value or type(committed) is not type(value)


cpdef dict update_params(InstanceState state, dict d):
    """The net change of a modified object, in table column order."""
    cdef dict committed_state = state._committed_state
    cdef dict changes = {}
    cdef PyObject* committed_ptr
    cdef PyObject* value_ptr
    if not committed_state:
        return changes
    for key in <tuple>state.mapper._column_attr_keys:
        committed_ptr = PyDict_GetItem(committed_state, key)
        if committed_ptr == NULL:
            continue
        value_ptr = PyDict_GetItem(d, key)
        if value_ptr == NULL:
            continue
        committed = <object>committed_ptr
        value = <object>value_ptr
        if _is_net_change(committed, value):
            PyDict_SetItem(changes, key, value)
    return changes


cpdef dict update_rows(object mapper, object objects):
    """The UPDATE rows of ``mapper``'s modified objects grouped by changed columns (see the
    Python twin), in one C loop: each object's changed columns are found as ``update_params``
    finds them, and (up to 64 columns) kept as a bit mask of column positions, which picks the
    group without a dict or a tuple of names per object; its row is one tuple, values then
    primary key."""
    cdef tuple column_keys = mapper._column_attr_keys
    cdef Py_ssize_t ncols = len(column_keys)
    cdef bint by_mask = ncols <= 64
    cdef dict groups = {}
    cdef dict groups_by_mask = {}
    # per object: the positions of its changed columns, and their new values, each held by a
    # reference of ours until its row tuple takes it over (a comparison, ``!=``, may run user
    # code, so no borrowed pointer is kept across one)
    cdef Py_ssize_t* changed = <Py_ssize_t*>PyMem_Malloc((ncols + 1) * sizeof(Py_ssize_t))
    cdef PyObject** held = <PyObject**>PyMem_Malloc((ncols + 1) * sizeof(PyObject*))
    # per column: its place in the objects' arrays of inline values (``_value_of``)
    cdef Py_ssize_t* hints = <Py_ssize_t*>PyMem_Malloc((ncols + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t i, j, npk, nchanged_in_row
    cdef Py_ssize_t nchanged = 0
    cdef str key
    cdef unsigned long long mask, recorded
    cdef unsigned long long last_mask = 0
    cdef object last_group = None
    cdef dict committed_state
    cdef InstanceState state
    cdef PyObject* committed_ptr
    cdef PyObject* value_ptr
    cdef tuple pk, row
    if changed == NULL or held == NULL or hints == NULL:
        PyMem_Free(changed)
        PyMem_Free(held)
        PyMem_Free(hints)
        raise MemoryError()
    for i in range(ncols):
        hints[i] = -1
    try:
        for obj in objects:
            state = _flushed_state_of(obj)
            committed_state = state._committed_state
            if not committed_state:
                continue
            # Which columns can have changed: while the state's mask is exact (see
            # _change_recorded), the bits of the recorded ones; the others are not looked up
            if by_mask and state._recorded_count == len(committed_state) and state.mapper is mapper:
                recorded = state._recorded_mask
            else:
                recorded = ~(<unsigned long long>0)
            mask = 0
            for i in range(ncols):
                if by_mask and not (recorded & ((<unsigned long long>1) << i)):
                    continue
                key = column_keys[i]
                committed_ptr = _dict_get_str(committed_state, key)
                if committed_ptr == NULL:
                    continue
                value_ptr = _value_of(obj, key, &hints[i])
                if value_ptr == NULL:
                    continue
                committed = <object>committed_ptr
                value = <object>value_ptr
                if _is_net_change(committed, value):
                    Py_INCREF(value)
                    held[nchanged] = <PyObject*>value
                    changed[nchanged] = i
                    nchanged += 1
                    if by_mask:
                        mask |= (<unsigned long long>1) << i
            if nchanged == 0:
                continue
            # the primary key: the state's map key, its one value or the tuple of them
            map_key = state._map_key
            npk = len(<tuple>map_key) if type(map_key) is tuple else 1
            row = PyTuple_New(nchanged + npk)
            for j in range(nchanged):
                PyTuple_SET_ITEM(row, j, <object>held[j])  # (takes over our reference)
            nchanged_in_row = nchanged
            nchanged = 0
            for j in range(npk):
                value = (<tuple>map_key)[j] if type(map_key) is tuple else map_key
                Py_INCREF(value)
                PyTuple_SET_ITEM(row, nchanged_in_row + j, value)
            # the group: the previous object's when the mask is the same (the usual case, one
            # column set for all), else found by mask
            if by_mask and last_group is not None and mask == last_mask:
                group = last_group
            else:
                group = groups_by_mask.get(mask) if by_mask else None
            if group is None:
                names = tuple([column_keys[changed[j]] for j in range(nchanged_in_row)])
                group = groups.get(names)
                if group is None:
                    group = groups[names] = ([], [])
                if by_mask:
                    groups_by_mask[mask] = group
            if by_mask:
                last_mask = mask
                last_group = group
            (<list>(<tuple>group)[0]).append(obj)
            (<list>(<tuple>group)[1]).append(row)
    finally:
        for j in range(nchanged):  # a comparison failed: the values held for that object
            Py_XDECREF(held[j])
        PyMem_Free(changed)
        PyMem_Free(held)
        PyMem_Free(hints)
    return groups


cpdef tuple delete_params(InstanceState state):
    """The DELETE parameters of one object: its primary key, as the identity key holds it."""
    return state.identity


# -- state transitions in bulk ---------------------------------------------------------------


cpdef list mark_inserted(object mapper, object identity_map, object objects, list states):
    """After the INSERTs of a flush: identity key, committed values, identity map, each state
    appended to ``states``; return the objects displaced from the identity map (see the Python
    twin).  One C loop for the whole table's new objects, which builds no identity key: each
    state gets its map key (the primary key value, or the tuple of them), as the loader's do."""
    cdef type cls = mapper.class_
    cdef tuple pk_keys = mapper._pk_attr_keys
    cdef Py_ssize_t npk = len(pk_keys)
    cdef IdentityMap compiled_map = identity_map if type(identity_map) is IdentityMap else None
    cdef dict entries = compiled_map._class_entries(cls) if compiled_map is not None else None
    cdef object on_collected = compiled_map._callbacks[cls] if compiled_map is not None else None
    cdef dict d
    cdef PyObject* value_ptr
    cdef list displaced = []
    for obj in objects:
        d = _own_dict(obj)
        if npk == 1:
            value_ptr = _dict_get_str(d, pk_keys[0])
            map_key = _checked_map_key(obj, cls, <object>value_ptr if value_ptr != NULL else None)
        else:
            map_key = _checked_map_key(obj, cls, _values_of(d, pk_keys))
        _mark_one_inserted(obj, _flushed_state(obj, d), cls, map_key, compiled_map, entries,
                           on_collected, identity_map, states, displaced)
    return displaced


cdef _refuse_null_identity(object obj, type cls, tuple pk):
    """A new object whose primary key is still NULL after its INSERT (see the Python twin)."""
    from minialchemy.orm.exc import FlushError

    raise FlushError(
        f"{type(obj).__name__} object at {id(obj):#x} has a NULL identity key "
        f"{(cls, pk, None)!r} after its INSERT: the database did not generate its primary "
        f"key (in SQLite only an INTEGER PRIMARY KEY column does); give it a value before the "
        f"flush, or make the column generate one"
    )


cpdef list mark_inserted_batch(object mapper, object identity_map, list objects, Py_ssize_t start,
                               object keys, str attr_key, list states):
    """``fill_keys`` and ``mark_inserted`` for the objects of one batched INSERT (see the Python
    twin), in one C loop: each object's key is stored and its map key made from it (the key
    itself when it is the whole primary key) while the object is at hand."""
    cdef type cls = mapper.class_
    cdef tuple pk_keys = mapper._pk_attr_keys
    cdef bint key_is_pk = len(pk_keys) == 1 and pk_keys[0] == attr_key
    cdef IdentityMap compiled_map = identity_map if type(identity_map) is IdentityMap else None
    cdef dict entries = compiled_map._class_entries(cls) if compiled_map is not None else None
    cdef object on_collected = compiled_map._callbacks[cls] if compiled_map is not None else None
    cdef Py_ssize_t i = start
    cdef Py_ssize_t n = len(objects)
    cdef list displaced = []
    cdef dict d
    for key in keys:
        if i >= n:
            raise IndexError(f"more keys than objects from {start} on")
        obj = objects[i]
        _keep_track(obj, key)
        d = _own_dict(obj)
        minialchemy_dict_set_known_hash(d, attr_key, key, hash(attr_key))
        if key_is_pk:
            map_key = _checked_map_key(obj, cls, key)
        else:
            map_key = _checked_map_key(obj, cls, _values_of(d, pk_keys))
        _mark_one_inserted(obj, _flushed_state(obj, d), cls, map_key, compiled_map, entries,
                           on_collected, identity_map, states, displaced)
        i += 1
    return displaced


cdef inline object _checked_map_key(object obj, type cls, object pk):
    """The map key of a new object whose primary key is ``pk`` (its one value, or the tuple
    of them): ``_refuse_null_identity`` if a value is None.  A tuple is taken out of the
    garbage collector's view, as in ``load_instances``."""
    if type(pk) is tuple:
        if None in <tuple>pk:
            _refuse_null_identity(obj, cls, <tuple>pk)
        PyObject_GC_UnTrack(pk)
        return pk[0] if len(<tuple>pk) == 1 else pk
    if pk is None:
        _refuse_null_identity(obj, cls, (None,))
    return pk


cdef inline int _mark_one_inserted(object obj, InstanceState state, type cls, object map_key,
                                   IdentityMap compiled_map, dict entries, object on_collected,
                                   object identity_map, list states, list displaced) except -1:
    """The body of ``mark_inserted``'s loop, for an object whose map key is ``map_key``
    (``compiled_map``: ``identity_map`` when it is the compiled one, else None; ``entries``
    and ``on_collected``: its entries and callback for ``cls``, see ``_add_absent_new``)."""
    cdef Py_hash_t key_hash
    state._map_key = map_key
    _forget_committed(state)
    state.modified = False
    states.append(state)
    if compiled_map is not None and isinstance(obj, InstrumentedObject):
        # as in load_instances: the key hashed once, for the lookup and the store; a key
        # already in the map (its row was deleted behind the session's back) goes the
        # general way
        key_hash = hash(map_key)
        if minialchemy_dict_get_known_hash(entries, map_key, key_hash) == NULL:
            _add_absent_new(compiled_map, entries, on_collected, cls, map_key, key_hash, obj)
            return 0
        previous = compiled_map.replace(join_key(cls, map_key), obj)
    elif compiled_map is not None:
        previous = compiled_map.replace(join_key(cls, map_key), obj)
    else:
        previous = identity_map.replace(join_key(cls, map_key), obj)
    if previous is not None and previous is not obj:
        displaced.append(previous)
    return 0


cdef inline bint _same_members(object objects, IdentitySet members):
    """Whether ``objects`` (a list) holds exactly the members of ``members``, in its order: a
    pointer comparison per member, no ``id()`` number made."""
    cdef Py_ssize_t position = 0, index = 0
    cdef PyObject* key
    cdef PyObject* value
    if type(objects) is not list or len(<list>objects) != len(members._members):
        return False
    while PyDict_Next(members._members, &position, &key, &value):
        if value != <PyObject*>(<list>objects)[index]:
            return False
        index += 1
    return True


cpdef list mark_updated(object objects, object modified):
    """After the UPDATEs of a flush: committed values for all, out of ``modified``, and
    ``(object, new primary key)`` of those whose primary key changed (see the Python twin);
    one C loop.  When ``objects`` are exactly the members of ``modified``, in its order (a
    flush whose UPDATEs are all of one table), the set is emptied once at the end instead of
    losing its members one by one (each ``discard`` makes and frees an ``id()`` number)."""
    cdef IdentitySet compiled_set = modified if type(modified) is IdentitySet else None
    cdef bint all_members = compiled_set is not None and _same_members(objects, compiled_set)
    cdef list moved = []
    cdef dict committed
    cdef InstanceState state
    cdef object mapper = None
    cdef tuple pk_keys = None
    cdef Py_ssize_t i, npk = 0
    cdef unsigned long long pk_bits = 0  # the primary-key columns' bits (0: not all below 64)
    cdef bint key_written
    cdef PyObject* value_ptr
    cdef tuple pk
    for obj in objects:
        state = _flushed_state_of(obj)
        committed = state._committed_state
        if committed:
            if state.mapper is not mapper:
                mapper = state.mapper
                pk_keys = <tuple>mapper._pk_attr_keys
                npk = len(pk_keys)
                pk_bits = 0
                for position in mapper._pk_positions:
                    if not 0 <= position < 64:
                        pk_bits = 0
                        break
                    pk_bits |= (<unsigned long long>1) << <Py_ssize_t>position
            key_written = False
            if pk_bits and state._recorded_count == len(committed):
                # the mask is exact (see _set_column_value): a key column written has its bit
                key_written = (state._recorded_mask & pk_bits) != 0
            else:
                for i in range(npk):
                    if PyDict_Contains(committed, pk_keys[i]):
                        key_written = True
                        break
            if key_written:
                pk = _column_values_of(obj, pk_keys)
                if pk != state.identity:
                    moved.append((obj, pk))
        _forget_committed(state)
        state.modified = False
        if all_members:
            continue
        if compiled_set is not None:
            compiled_set.discard(obj)
        else:
            modified.discard(obj)
    if all_members and len(compiled_set._members) == len(<list>objects):
        compiled_set._members.clear()
    elif all_members:  # the set changed during the loop (code run by a freed old value): one by one
        for obj in objects:
            compiled_set.discard(obj)
    return moved


cpdef expire_instances(object objects):
    """Expire every attribute of each object: ``InstanceState.expire`` done in C, with the
    cyclic garbage collector paused for the loop (it runs no user code and makes no garbage;
    see ``minialchemy.orm.loading.collector_paused`` for why a loop over 100 000 objects should
    not start collections).  The attribute keys and the frozenset of their names are read once
    per mapper, and every state expired here holds that one frozenset as its expired names
    until something changes them (``_own_expired``): no set is allocated per object."""
    cdef InstanceState state
    cdef dict d
    cdef object mapper = None
    cdef tuple column_keys = None
    cdef tuple relationship_keys = None
    cdef frozenset names = None
    cdef int was_enabled = PyGC_Disable()
    try:
        for obj in objects:
            d = _own_dict(obj)  # (values are only removed)
            state = _state_or_none(obj, d)
            if state is None:
                continue
            if state.mapper is not mapper:
                mapper = state.mapper
                column_keys = mapper._column_attr_keys
                relationship_keys = mapper._relationship_keys
                names = frozenset({*column_keys, *relationship_keys})
            _expire_every_attribute(state, d, column_keys, relationship_keys, names)
    finally:
        if was_enabled:
            PyGC_Enable()


cpdef detach_instances(object objects, object session_id):
    """Objects of session ``session_id`` leave it (see the Python twin), in one C loop; a
    loaded object that has no ``__dict__`` yet is not given one (``_state_of``)."""
    cdef InstanceState state
    for obj in objects:
        state = _state_of(obj)
        if state is not None and (state.session_id is session_id or state.session_id == session_id):
            state.session_id = None


cpdef set_committed_value(object obj, object key, object value):
    """Set attribute ``key`` of ``obj`` as if it had been loaded with ``value`` (see the Python
    twin).  Popping from ``committed_state`` makes ``_record_change`` stop trusting its mask,
    as any removal does."""
    cdef dict d = _instance_dict(obj)
    PyDict_SetItem(d, key, value)
    cdef InstanceState state = _state_or_none(obj, d)
    if state is not None:
        if state._committed_state:
            state._committed_state.pop(key, None)
        if state._expired_attributes:
            PySet_Discard(_own_expired(state), key)


# -- Session.get ------------------------------------------------------------------------------


cdef inline object _identity_map_hit(object identity_map, object entity, object ident):
    """``identity_map.get((entity, pk, None))`` with ``pk`` the tuple ``ident`` or ``(ident,)``:
    for the compiled map, two dict reads in C and no key built (the map keys its entries by
    class, then by the primary key value: ``IdentityMap`` in ext/identity.pyx)."""
    if type(identity_map) is not IdentityMap:
        return identity_map.get((entity, <tuple>ident if type(ident) is tuple else (ident,), None))
    cdef PyObject* entries = PyDict_GetItemWithError((<IdentityMap>identity_map)._refs, entity)
    if entries == NULL:
        return None
    if type(ident) is tuple and len(<tuple>ident) == 1:
        ident = (<tuple>ident)[0]
    return _identity_map_get(<dict>entries, ident)


cdef inline object _identity_map_get(dict entries, object map_key):
    """``entries.get(map_key)``'s object (``entries``: a class's entries in an identity map):
    an entry that is an object's state (every object of a declarative class) is asked for its
    object in C; an entry that is a weak reference (a plain mapped class) gives its referent."""
    cdef PyObject* entry = PyDict_GetItemWithError(entries, map_key)
    if entry == NULL:
        return None
    if isinstance(<object>entry, MapEntry):
        return _entry_object(<MapEntry>entry)
    return minialchemy_weakref_target(<object>entry)


def session_get_fast_path(general_get):
    """Decorator of ``Session.get`` that adds its fast path (see the Python twin): the returned
    function is compiled, so an identity-map hit never leaves C."""

    # Keyword-only arguments rather than **kwargs: Cython would build a dict on every call.
    def get(session, entity, ident, *, options=None, populate_existing=False,
            with_for_update=None, identity_token=None, execution_options=None,
            bind_arguments=None):
        cdef InstanceState state
        # "no option given", spelled as pointer comparisons with the defaults (a value such as
        # options=() also means none, and takes the general path, which answers the same)
        if (options is None and populate_existing is False and with_for_update is None
                and identity_token is None and execution_options is None
                and bind_arguments is None and not isinstance(ident, (list, dict))):
            obj = _identity_map_hit(session.identity_map, entity, ident)
            if obj is not None:
                if isinstance(obj, InstrumentedObject):
                    state = _own_state(<InstrumentedObject>obj)
                else:
                    state = _state_or_none(obj, _instance_dict(obj))
                if state is not None and not state._expired_attributes:
                    return obj
        return general_get(session, entity, ident, options=options,
                           populate_existing=populate_existing, with_for_update=with_for_update,
                           identity_token=identity_token, execution_options=execution_options,
                           bind_arguments=bind_arguments)

    functools.update_wrapper(get, general_get)
    return get
