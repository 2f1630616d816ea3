# The C API calls of the compiled twins that are private or deprecated in CPython, each behind a
# version guard, in one place: ``from minialchemy._ext.capi cimport ...``.  The C below is copied
# into every twin that cimports this file (Cython's verbatim ``extern from *`` block).
#
# Checked versions: CPython 3.10, 3.11, 3.12 and 3.13 (the package claims >= 3.10), by building
# the twins and running their tests (tests/test_identity.py, tests/test_instrumentation_twins.py)
# on each.  The public fallbacks were checked on 3.12 and 3.13 too, by building with
# ``CFLAGS=-DMINIALCHEMY_PUBLIC_CAPI_ONLY``.  A version above 3.13 takes the public fallbacks.
#
# - ``_PyType_Lookup`` (private; the interpreter's cached MRO lookup): on 3.10-3.13; elsewhere an
#   MRO walk over ``PyType_GetDict`` (public since 3.12).
# - ``_PyObject_GetDictPtr`` (private): on 3.10-3.13, so the twin can give an object an ordinary
#   (combined) ``__dict__`` in place; elsewhere ``PyObject_GenericGetDict`` (public).
# - ``PyWeakref_GET_OBJECT`` (deprecated in 3.13, a borrowed reference): below 3.13; from 3.13
#   ``PyWeakref_GetRef`` (public, a strong reference).
# - ``_PyDict_GetItem_KnownHash`` (private): on 3.10-3.13; ``_PyDict_SetItem_KnownHash``
#   (private, internal from 3.13): on 3.10-3.12; elsewhere ``PyDict_GetItemWithError`` and
#   ``PyDict_SetItem`` (public).  These two were added later than the others: checked by
#   compiling the twins against the 3.10, 3.12 and 3.13 headers, tests run on 3.11 only.
# - ``_PyDict_Pop`` (private): on 3.10-3.12; ``PyDict_Pop`` (public) from 3.13; elsewhere
#   ``PyDict_Contains`` then ``PyDict_DelItem``.  Checked like the two above.
# - ``MINIALCHEMY_INLINE_VALUES``: true on 3.11 and 3.12, whose ``object.__new__`` gives an
#   instance of a class with a managed ``__dict__`` an array of attribute values (keys shared by
#   the class) and no dict object: the loader allocates with it (``minialchemy_object_new``, the
#   public ``PyBaseObject_Type.tp_new``) so that a loaded object costs no dict until one is
#   asked for.  ``minialchemy_instance_dict`` then swaps the key-sharing dict CPython makes from
#   those values for an ordinary one when nothing else holds it yet (``PyDictObject.ma_values``,
#   a field of the public struct on these versions).  Elsewhere 0: objects keep the dict made
#   when they are allocated.

from cpython.object cimport PyObject, PyTypeObject

cdef extern from *:
    """
    #if PY_VERSION_HEX >= 0x030E0000 && !defined(MINIALCHEMY_PUBLIC_CAPI_ONLY)
    #define MINIALCHEMY_PUBLIC_CAPI_ONLY 1
    #endif

    #if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000 && !defined(MINIALCHEMY_PUBLIC_CAPI_ONLY)
    #define MINIALCHEMY_INLINE_VALUES 1
    #else
    #define MINIALCHEMY_INLINE_VALUES 0
    #endif

    /* The attribute `name` found on `type` or its bases, without calling a descriptor
       (borrowed; NULL if absent, with no exception set). */
    static inline PyObject* minialchemy_type_lookup(PyTypeObject* type, PyObject* name) {
    #ifndef MINIALCHEMY_PUBLIC_CAPI_ONLY
        return _PyType_Lookup(type, name);
    #else
        PyObject* mro = type->tp_mro;
        Py_ssize_t i, n;
        if (mro == NULL) return NULL;
        n = PyTuple_GET_SIZE(mro);
        for (i = 0; i < n; i++) {
            PyObject* dict = PyType_GetDict((PyTypeObject*)PyTuple_GET_ITEM(mro, i));
            PyObject* found;
            if (dict == NULL) { PyErr_Clear(); continue; }
            found = PyDict_GetItemWithError(dict, name);  /* borrowed: the type keeps it */
            Py_DECREF(dict);
            if (found != NULL) return found;
            if (PyErr_Occurred()) { PyErr_Clear(); return NULL; }
        }
        return NULL;
    #endif
    }

    /* Do instances of this object's type have a __dict__? */
    static inline int minialchemy_has_instance_dict(PyObject* obj) {
    #ifdef Py_TPFLAGS_MANAGED_DICT
        if (PyType_HasFeature(Py_TYPE(obj), Py_TPFLAGS_MANAGED_DICT)) return 1;
    #endif
        return Py_TYPE(obj)->tp_dictoffset != 0;
    }

    /* obj.__dict__ (a new reference), created if the object has none yet: an ordinary
       (combined) dict on the checked versions.  NULL with TypeError if instances have none. */
    static inline PyObject* minialchemy_instance_dict(PyObject* obj) {
    #ifndef MINIALCHEMY_PUBLIC_CAPI_ONLY
        PyObject** dictptr;
    #if MINIALCHEMY_INLINE_VALUES
        /* A loaded object holding only plain values is not tracked by the garbage collector
           (ext/instrumentation.pyx, _new_inline); its dict may come to hold anything, so it is
           tracked again first (never while it is being freed: its count is 0 then). */
        if (PyObject_IS_GC(obj) && !PyObject_GC_IsTracked(obj) && Py_REFCNT(obj) > 0) {
            PyObject_GC_Track(obj);
        }
    #endif
        dictptr = _PyObject_GetDictPtr(obj);
        if (dictptr == NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%.200s objects have no __dict__; a mapped class needs one",
                         Py_TYPE(obj)->tp_name);
            return NULL;
        }
        if (*dictptr == NULL) {
            *dictptr = PyDict_New();
            if (*dictptr == NULL) return NULL;
        }
    #if MINIALCHEMY_INLINE_VALUES
        else if (((PyDictObject*)*dictptr)->ma_values != NULL && Py_REFCNT(*dictptr) == 1) {
            /* A key-sharing dict, just made from the object's values array (or made earlier and
               held by nobody else, so nobody can see the swap): replaced by an ordinary dict with
               the same items in the same order.  3.11's and 3.12's specialised attribute read
               handles inline values and ordinary dicts, not key-sharing dicts. */
            PyObject* ordinary = PyDict_New();
            if (ordinary == NULL) return NULL;
            if (PyDict_Update(ordinary, *dictptr) < 0) { Py_DECREF(ordinary); return NULL; }
            Py_SETREF(*dictptr, ordinary);
        }
    #endif
        Py_INCREF(*dictptr);
        return *dictptr;
    #else
        if (!minialchemy_has_instance_dict(obj)) {
            PyErr_Format(PyExc_TypeError,
                         "%.200s objects have no __dict__; a mapped class needs one",
                         Py_TYPE(obj)->tp_name);
            return NULL;
        }
        return PyObject_GenericGetDict(obj, NULL);
    #endif
    }

    static PyObject* minialchemy_instance_dict_getter(PyObject* obj, void* closure) {
        (void)closure;
        return minialchemy_instance_dict(obj);
    }

    /* Give `type` its own __dict__ attribute, returning minialchemy_instance_dict(obj), unless
       it has it already (0; -1 with an exception set on error).  Only where objects can have
       their values inline (MINIALCHEMY_INLINE_VALUES): there CPython's own __dict__ attribute
       would turn them into a key-sharing dict, which attribute reads then take the slow path
       on.  The same kind of object as CPython's (a getset descriptor), on the class itself. */
    static inline int minialchemy_use_ordinary_dicts(PyTypeObject* type) {
    #if MINIALCHEMY_INLINE_VALUES
        static PyGetSetDef getset = {
            "__dict__", (getter)minialchemy_instance_dict_getter, PyObject_GenericSetDict,
            "The object's attributes (an ordinary dict: see minialchemy._ext.capi).", NULL};
        PyObject* current = PyDict_GetItemString(type->tp_dict, "__dict__");  /* borrowed */
        PyObject* descriptor;
        int failed;
        if (current != NULL && Py_IS_TYPE(current, &PyGetSetDescr_Type)
                && ((PyGetSetDescrObject*)current)->d_getset == &getset) {
            return 0;
        }
        descriptor = PyDescr_NewGetSet(type, &getset);
        if (descriptor == NULL) return -1;
        failed = PyDict_SetItemString(type->tp_dict, "__dict__", descriptor);
        Py_DECREF(descriptor);
        PyType_Modified(type);
        return failed;
    #else
        (void)type;
        return 0;
    #endif
    }

    /* object.__new__(type): on 3.11 and 3.12 an instance of a class with a managed __dict__
       comes with its values array and no dict (MINIALCHEMY_INLINE_VALUES). */
    static inline PyObject* minialchemy_object_new(PyTypeObject* type) {
        PyObject* no_arguments = PyTuple_New(0);
        PyObject* obj;
        if (no_arguments == NULL) return NULL;
        obj = PyBaseObject_Type.tp_new(type, no_arguments, NULL);
        Py_DECREF(no_arguments);
        return obj;
    }

    /* The referent of a weak reference (a new reference), or None once it is dead. */
    static inline PyObject* minialchemy_weakref_target(PyObject* ref) {
    #if PY_VERSION_HEX >= 0x030D0000
        PyObject* target;
        if (PyWeakref_GetRef(ref, &target) < 0) return NULL;
        if (target == NULL) Py_RETURN_NONE;
        return target;
    #else
        PyObject* target = PyWeakref_GET_OBJECT(ref);
        Py_INCREF(target);
        return target;
    #endif
    }

    /* d[key] (borrowed; NULL if absent, with an exception set only on error) and
       d[key] = value, for a key whose hash is known: the loader hashes each identity key once
       for both.  _PyDict_GetItem_KnownHash is in cpython/dictobject.h on 3.10-3.13;
       _PyDict_SetItem_KnownHash moved to the internal headers in 3.13, so from 3.13 the store
       hashes again (PyDict_SetItem). */
    static inline PyObject* minialchemy_dict_get_known_hash(PyObject* d, PyObject* key, Py_hash_t hash) {
    #ifndef MINIALCHEMY_PUBLIC_CAPI_ONLY
        return _PyDict_GetItem_KnownHash(d, key, hash);
    #else
        (void)hash;
        return PyDict_GetItemWithError(d, key);
    #endif
    }

    static inline int minialchemy_dict_set_known_hash(PyObject* d, PyObject* key, PyObject* value, Py_hash_t hash) {
    #if !defined(MINIALCHEMY_PUBLIC_CAPI_ONLY) && PY_VERSION_HEX < 0x030D0000
        return _PyDict_SetItem_KnownHash(d, key, value, hash);
    #else
        (void)hash;
        return PyDict_SetItem(d, key, value);
    #endif
    }

    /* Remove d[key] if it is there (0), -1 on error: one lookup where PyDict_Contains and then
       PyDict_DelItem take two.  _PyDict_Pop is in cpython/dictobject.h on 3.10-3.12;
       PyDict_Pop is public from 3.13. */
    static inline int minialchemy_dict_discard(PyObject* d, PyObject* key) {
    #if PY_VERSION_HEX >= 0x030D0000
        return PyDict_Pop(d, key, NULL) < 0 ? -1 : 0;
    #elif !defined(MINIALCHEMY_PUBLIC_CAPI_ONLY)
        PyObject* old = _PyDict_Pop(d, key, Py_None);
        if (old == NULL) return -1;
        Py_DECREF(old);
        return 0;
    #else
        int found = PyDict_Contains(d, key);
        if (found <= 0) return found;
        return PyDict_DelItem(d, key);
    #endif
    }
    """
    PyObject* minialchemy_type_lookup(PyTypeObject* type, object name)
    bint minialchemy_has_instance_dict(object obj)
    dict minialchemy_instance_dict(object obj)
    object minialchemy_weakref_target(object ref)
    PyObject* minialchemy_dict_get_known_hash(object d, object key, Py_hash_t hash) except? NULL
    int minialchemy_dict_set_known_hash(object d, object key, object value, Py_hash_t hash) except -1
    int minialchemy_dict_discard(object d, object key) except -1
    bint MINIALCHEMY_INLINE_VALUES
    object minialchemy_object_new(PyTypeObject* type)
    int minialchemy_use_ordinary_dicts(PyTypeObject* type) except -1
