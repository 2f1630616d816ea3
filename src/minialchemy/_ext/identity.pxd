# Declarations of the compiled identity twin (ext/identity.pyx), so that another compiled twin
# can call it in C: ``from minialchemy._ext.identity cimport IdentityMap``.  A cdef class
# declared here has its attributes and C methods declared here only (Cython's rule); the
# docstrings are in ext/identity.pyx.  setup.py puts src/ on Cython's include path.

cimport cython
from cpython.object cimport PyObject
from minialchemy._ext.capi cimport minialchemy_weakref_target


# The base of the compiled InstanceState (ext/instrumentation.pyx): what makes a state its
# object's identity-map entry (see MapEntry in ext/identity.pyx).
@cython.no_gc
cdef class MapEntry:
    # the object: a borrowed pointer for an InstrumentedObject (which clears it in its
    # __dealloc__), else a weak reference
    cdef PyObject* _obj_ptr
    cdef object _obj_ref
    # the primary key as the identity map keys it (see split_key), None before the row exists
    cdef public object _map_key
    # the callback of the identity map holding this entry, called with the entry by
    # InstrumentedObject.__dealloc__
    cdef object _on_collected


cdef extern from "Python.h":
    Py_ssize_t _reference_count "Py_REFCNT" (PyObject* op)


cdef inline object _entry_object(MapEntry entry):
    """The object of a state, or None once it is gone: ``InstanceState.obj()`` and the identity
    map's lookups.  An object whose reference count is 0 is being deallocated: the code its
    deallocation runs (weak-reference callbacks, the freeing of its attribute values) runs
    before its ``__dealloc__`` clears the pointer, and must not be handed the object, as it
    would find a weak reference to it already dead."""
    if entry._obj_ptr != NULL:
        if _reference_count(entry._obj_ptr) > 0:
            return <object>entry._obj_ptr
        return None
    if entry._obj_ref is not None:
        return minialchemy_weakref_target(entry._obj_ref)
    return None


cdef class IdentitySet:
    cdef dict _members

    cpdef add(self, object obj)
    cpdef update(self, object iterable)
    cpdef discard(self, object obj)
    cpdef IdentitySet copy(self)


cpdef tuple split_key(object key)
cpdef tuple join_key(object cls, object map_key)


cdef class IdentityMap:
    # class -> {map key -> entry}, and class -> the callback of that class's entries
    cdef dict _refs
    cdef dict _callbacks
    cdef object __weakref__

    cdef dict _class_entries(self, object cls)
    cdef object _new_entry(self, object cls, object map_key, object obj)
    cdef _remove_dead_entry(self, object cls, object dead_ref)
    cdef object _entry(self, object key)
    cdef _add_absent(self, object key, object obj)
    cdef _store(self, object key, object obj)
    cpdef get(self, object key, object default=*)
    cpdef list keys(self)
    cpdef list values(self)
    cpdef list items(self)
    cpdef list all_states(self)
    cpdef add(self, object key, object obj)
    cpdef replace(self, object key, object obj)
    cpdef discard(self, object key, object obj=*)
    cpdef clear(self)
