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
#   when they are allocated.  Where it is true, the ``__dict__`` attribute the twin gives a class
#   (``minialchemy_use_ordinary_dicts``) tracks an object the garbage collector does not track
#   before handing its dict out or replacing it, and ``minialchemy_has_ordinary_dicts`` says
#   whether a class has it (only then may a new object start untracked).
# - ``MINIALCHEMY_INLINE_STORE``: true on 3.11 only, where ``minialchemy_inline_value_slot``
#   finds the slot of an attribute in an object's array of inline values (the layout of 3.11's
#   ``Include/internal/pycore_dict.h`` and ``pycore_object.h``, restated below: the values
#   pointer four words before the object, the class's shared keys in ``ht_cached_keys``, their
#   entries after the index table).  A write there is what 3.11's own specialised
#   ``STORE_ATTR_INSTANCE_VALUE`` does for a plain object.  The layout is checked once per
#   module at import (``minialchemy_inline_store_self_test``): on any mismatch the slot is never
#   found and every write takes the dict (``inline_store_checked`` says which).  3.12 moved the
#   values pointer (a tagged ``PyDictOrValues``), so 3.12 keeps the dict path.
# - The garbage collector's tracked bit, read from the ``PyGC_Head`` before the object (two
#   words, the same on 3.8-3.13) where ``MINIALCHEMY_INLINE_VALUES`` is true, instead of calling
#   ``PyObject_IS_GC`` and ``PyObject_GC_IsTracked``: ``minialchemy_gc_untracked``.

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

    #if MINIALCHEMY_INLINE_VALUES && PY_VERSION_HEX < 0x030C0000
    #define MINIALCHEMY_INLINE_STORE 1
    #else
    #define MINIALCHEMY_INLINE_STORE 0
    #endif

    /* Is `obj` a garbage-collected object out of the collector's view?  (The tracked bit is
       PyGC_Head._gc_next, the word two before the object, on the checked versions.) */
    static inline int minialchemy_gc_untracked(PyObject* obj) {
    #if MINIALCHEMY_INLINE_VALUES
        return PyType_IS_GC(Py_TYPE(obj)) && ((uintptr_t*)obj)[-2] == 0
               && (Py_TYPE(obj)->tp_is_gc == NULL || Py_TYPE(obj)->tp_is_gc(obj));
    #else
        return PyObject_IS_GC(obj) && !PyObject_GC_IsTracked(obj);
    #endif
    }

    #if MINIALCHEMY_INLINE_STORE
    /* CPython 3.11's PyDictKeysObject and PyDictUnicodeEntry (Include/internal/pycore_dict.h),
       restated: the internal headers need Py_BUILD_CORE. */
    typedef struct {
        Py_ssize_t dk_refcnt;
        uint8_t dk_log2_size;
        uint8_t dk_log2_index_bytes;
        uint8_t dk_kind;
        uint32_t dk_version;
        Py_ssize_t dk_usable;
        Py_ssize_t dk_nentries;
        char dk_indices[];
    } minialchemy_dict_keys;

    typedef struct {
        PyObject* me_key;
        PyObject* me_value;
    } minialchemy_unicode_entry;

    #define MINIALCHEMY_DICT_KEYS_SPLIT 2  /* DICT_KEYS_SPLIT: the kind of a class's shared keys */

    /* Set by minialchemy_inline_store_self_test once it has seen the layout work. */
    static int minialchemy_inline_store_checked = 0;

    static inline PyObject** minialchemy_inline_value_slot_unchecked(PyObject* obj, PyObject* key,
                                                                     Py_ssize_t* hint) {
        PyTypeObject* type = Py_TYPE(obj);
        PyObject** values;
        minialchemy_dict_keys* keys;
        minialchemy_unicode_entry* entries;
        Py_ssize_t index, count;
        if (!PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT)) return NULL;
        values = ((PyObject***)obj)[-4];  /* _PyObject_ValuesPointer: NULL once a dict is made */
        if (values == NULL) return NULL;
        keys = (minialchemy_dict_keys*)((PyHeapTypeObject*)type)->ht_cached_keys;
        if (keys == NULL || keys->dk_kind != MINIALCHEMY_DICT_KEYS_SPLIT) return NULL;
        entries = (minialchemy_unicode_entry*)(keys->dk_indices + ((size_t)1 << keys->dk_log2_index_bytes));
        count = keys->dk_nentries;  /* shared keys only grow: an index stays the key's */
        index = *hint;
        if (index < 0 || index >= count || entries[index].me_key != key) {
            for (index = 0; index < count && entries[index].me_key != key; index++) {}
            if (index == count) return NULL;
            *hint = index;
        }
        return values[index] != NULL ? &values[index] : NULL;
    }
    #endif

    /* Where the value of attribute `key` (an interned string) sits in `obj`'s array of inline
       values, or NULL: the object has a dict (or no such array), the class's shared keys do
       not hold `key` (compared by identity), the object has no value for it, or the self-test
       did not pass.  `hint` remembers the key's index for next time (any value is safe).
       Storing there (a new reference in, the old one released) is an attribute write. */
    static inline PyObject** minialchemy_inline_value_slot(PyObject* obj, PyObject* key, Py_ssize_t* hint) {
    #if MINIALCHEMY_INLINE_STORE
        if (!minialchemy_inline_store_checked) return NULL;
        return minialchemy_inline_value_slot_unchecked(obj, key, hint);
    #else
        (void)obj; (void)key; (void)hint;
        return NULL;
    #endif
    }

    /* Read attribute `key` (an interned string) of `obj` without making its dict: 1 when the
       object keeps its values inline and the class's shared keys hold `key` (compared by
       identity), with *value its value there (borrowed; NULL: it has none, an expired or
       deleted attribute); 0 otherwise: the object has a dict (read that instead), `key` is not
       among the shared keys, or the self-test did not pass.  `hint` as for
       minialchemy_inline_value_slot. */
    static inline int minialchemy_inline_value_get(PyObject* obj, PyObject* key, Py_ssize_t* hint,
                                                   PyObject** value) {
    #if MINIALCHEMY_INLINE_STORE
        PyTypeObject* type = Py_TYPE(obj);
        PyObject** values;
        minialchemy_dict_keys* keys;
        minialchemy_unicode_entry* entries;
        Py_ssize_t index, count;
        if (!minialchemy_inline_store_checked || !PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT)) return 0;
        values = ((PyObject***)obj)[-4];  /* as in minialchemy_inline_value_slot_unchecked */
        if (values == NULL) return 0;
        keys = (minialchemy_dict_keys*)((PyHeapTypeObject*)type)->ht_cached_keys;
        if (keys == NULL || keys->dk_kind != MINIALCHEMY_DICT_KEYS_SPLIT) return 0;
        entries = (minialchemy_unicode_entry*)(keys->dk_indices + ((size_t)1 << keys->dk_log2_index_bytes));
        count = keys->dk_nentries;
        index = *hint;
        if (index < 0 || index >= count || entries[index].me_key != key) {
            for (index = 0; index < count && entries[index].me_key != key; index++) {}
            if (index == count) return 0;
            *hint = index;
        }
        *value = values[index];
        return 1;
    #else
        (void)obj; (void)key; (void)hint; (void)value;
        return 0;
    #endif
    }

    /* Check the restated layout on a throwaway instance of a throwaway class before trusting
       it: its values must be found where the interpreter reads them, a write there must be
       what getattr() then returns, and no slot may be found once the object has a dict.
       Returns whether the inline store is on (0 where MINIALCHEMY_INLINE_STORE is 0, or if the
       probe could not even be made). */
    static inline int minialchemy_inline_store_self_test(void) {
    #if MINIALCHEMY_INLINE_STORE
        PyObject *cls = NULL, *no_arguments = NULL, *obj = NULL, *name = NULL, *other = NULL;
        PyObject *first = NULL, *second = NULL, *read = NULL, *read_other = NULL, *dict = NULL;
        PyObject *old;
        PyObject** slot;
        Py_ssize_t hint = -1;
        int result = -1;
        minialchemy_inline_store_checked = 0;
        cls = PyObject_CallFunction((PyObject*)&PyType_Type, "s(){}", "_InlineStoreProbe");
        no_arguments = PyTuple_New(0);
        name = PyUnicode_InternFromString("_inline_store_probe");
        other = PyUnicode_InternFromString("_inline_store_other");
        first = PyLong_FromLong(123456789);
        second = PyLong_FromLong(987654321);
        if (!cls || !no_arguments || !name || !other || !first || !second) goto done;
        obj = PyBaseObject_Type.tp_new((PyTypeObject*)cls, no_arguments, NULL);
        if (obj == NULL) goto done;
        if (PyObject_GenericSetAttr(obj, other, first) < 0 || PyObject_GenericSetAttr(obj, name, first) < 0) goto done;
        result = 0;
        slot = minialchemy_inline_value_slot_unchecked(obj, name, &hint);
        if (slot == NULL || *slot != first || hint < 0) goto done;
        if (minialchemy_inline_value_slot_unchecked(obj, name, &hint) != slot) goto done;  /* by the hint */
        old = *slot;
        Py_INCREF(second);
        *slot = second;
        Py_DECREF(old);
        read = PyObject_GetAttr(obj, name);
        read_other = PyObject_GetAttr(obj, other);
        if (read == NULL || read_other == NULL) { result = -1; goto done; }
        if (read != second || read_other != first) goto done;
        dict = PyObject_GenericGetDict(obj, NULL);  /* the object's values move into a dict */
        if (dict == NULL) { result = -1; goto done; }
        if (minialchemy_inline_value_slot_unchecked(obj, name, &hint) != NULL) goto done;
        if (PyDict_GetItemWithError(dict, name) != second) goto done;
        result = minialchemy_inline_store_checked = 1;
    done:
        Py_XDECREF(dict); Py_XDECREF(read_other); Py_XDECREF(read); Py_XDECREF(obj);
        Py_XDECREF(second); Py_XDECREF(first); Py_XDECREF(other); Py_XDECREF(name);
        Py_XDECREF(no_arguments); Py_XDECREF(cls);
        if (result < 0) PyErr_Clear();  /* no probe, no inline store: never a failed import */
        return result > 0;
    #else
        return 0;
    #endif
    }

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
       (combined) dict on the checked versions.  NULL with TypeError if instances have none.
       `track_again`: an object the garbage collector does not track (a loaded or constructed
       object holding only plain values, ext/instrumentation.pyx) is tracked again first, as
       the dict handed out may come to hold anything; 0 only for the compiled twin's own reads,
       removals, and writes of values it checks itself (minialchemy_instance_dict_as_is). */
    static inline PyObject* minialchemy_instance_dict_impl(PyObject* obj, int track_again) {
    #ifndef MINIALCHEMY_PUBLIC_CAPI_ONLY
        PyObject** dictptr;
    #if MINIALCHEMY_INLINE_VALUES
        /* An object the garbage collector does not track (a loaded or constructed object
           holding only plain values, ext/instrumentation.pyx) is tracked again first: its dict
           may come to hold anything (never while it is being freed: its count is 0 then). */
        if (track_again && minialchemy_gc_untracked(obj) && Py_REFCNT(obj) > 0) {
            PyObject_GC_Track(obj);
        }
    #else
        (void)track_again;
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

    static inline PyObject* minialchemy_instance_dict(PyObject* obj) {
        return minialchemy_instance_dict_impl(obj, 1);
    }

    static inline PyObject* minialchemy_instance_dict_as_is(PyObject* obj) {
        return minialchemy_instance_dict_impl(obj, 0);
    }

    static PyObject* minialchemy_instance_dict_getter(PyObject* obj, void* closure) {
        (void)closure;
        return minialchemy_instance_dict(obj);
    }

    /* obj.__dict__ = value: the new dict may hold anything, so an object out of the garbage
       collector's view is tracked again first (as by the getter). */
    static int minialchemy_instance_dict_setter(PyObject* obj, PyObject* value, void* closure) {
    #if MINIALCHEMY_INLINE_VALUES
        if (PyObject_IS_GC(obj) && !PyObject_GC_IsTracked(obj)) PyObject_GC_Track(obj);
    #endif
        return PyObject_GenericSetDict(obj, value, closure);
    }

    #if MINIALCHEMY_INLINE_VALUES
    static PyGetSetDef minialchemy_ordinary_dict_getset = {
        "__dict__", (getter)minialchemy_instance_dict_getter, (setter)minialchemy_instance_dict_setter,
        "The object's attributes (an ordinary dict: see minialchemy._ext.capi).", NULL};
    #endif

    /* Give `type` its own __dict__ attribute, returning minialchemy_instance_dict(obj), unless
       it has it already (0; -1 with an exception set on error).  Only where objects can have
       their values inline (MINIALCHEMY_INLINE_VALUES): there CPython's own __dict__ attribute
       would turn them into a key-sharing dict, which attribute reads then take the slow path
       on.  The same kind of object as CPython's (a getset descriptor), on the class itself. */
    static inline int minialchemy_use_ordinary_dicts(PyTypeObject* type) {
    #if MINIALCHEMY_INLINE_VALUES
        PyObject* current = PyDict_GetItemString(type->tp_dict, "__dict__");  /* borrowed */
        PyObject* descriptor;
        int failed;
        if (current != NULL && Py_IS_TYPE(current, &PyGetSetDescr_Type)
                && ((PyGetSetDescrObject*)current)->d_getset == &minialchemy_ordinary_dict_getset) {
            return 0;
        }
        descriptor = PyDescr_NewGetSet(type, &minialchemy_ordinary_dict_getset);
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

    /* Is `type`'s __dict__ attribute (found on it or its bases: `dict_name` is the string
       "__dict__") the one minialchemy_use_ordinary_dicts gives, so that no Python code can
       reach an instance's dict without it being tracked again?  0 where objects cannot have
       their values inline. */
    static inline int minialchemy_has_ordinary_dicts(PyTypeObject* type, PyObject* dict_name) {
    #if MINIALCHEMY_INLINE_VALUES
        PyObject* current = minialchemy_type_lookup(type, dict_name);  /* borrowed */
        return current != NULL && Py_IS_TYPE(current, &PyGetSetDescr_Type)
            && ((PyGetSetDescrObject*)current)->d_getset == &minialchemy_ordinary_dict_getset;
    #else
        (void)type; (void)dict_name;
        return 0;
    #endif
    }

    /* Do `a` and `b` set attributes with the same C function (tp_setattro: a class that
       defines no __setattr__ of its own inherits its base's)? */
    static inline int minialchemy_same_setattr(PyTypeObject* a, PyTypeObject* b) {
        return a->tp_setattro == b->tp_setattro;
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

    /* A new dict with room for n entries, so that filling it does not resize it again and again:
       _PyDict_NewPresized is in cpython/dictobject.h on 3.10-3.12; elsewhere an empty dict
       (PyDict_New), which grows as it is filled. */
    static inline PyObject* minialchemy_dict_presized(Py_ssize_t n) {
    #if !defined(MINIALCHEMY_PUBLIC_CAPI_ONLY) && PY_VERSION_HEX < 0x030D0000
        return _PyDict_NewPresized(n);
    #else
        (void)n;
        return PyDict_New();
    #endif
    }
    """
    PyObject* minialchemy_type_lookup(PyTypeObject* type, object name)
    bint minialchemy_has_instance_dict(object obj)
    dict minialchemy_instance_dict(object obj)
    dict minialchemy_instance_dict_as_is(object obj)
    object minialchemy_weakref_target(object ref)
    PyObject* minialchemy_dict_get_known_hash(object d, object key, Py_hash_t hash) except? NULL
    int minialchemy_dict_set_known_hash(object d, object key, object value, Py_hash_t hash) except -1
    int minialchemy_dict_discard(object d, object key) except -1
    dict minialchemy_dict_presized(Py_ssize_t n)
    bint MINIALCHEMY_INLINE_VALUES
    bint MINIALCHEMY_INLINE_STORE
    bint minialchemy_gc_untracked(object obj) noexcept
    PyObject** minialchemy_inline_value_slot(object obj, object key, Py_ssize_t* hint) noexcept
    bint minialchemy_inline_value_get(object obj, object key, Py_ssize_t* hint, PyObject** value) noexcept
    bint minialchemy_inline_store_self_test() noexcept
    object minialchemy_object_new(PyTypeObject* type)
    int minialchemy_use_ordinary_dicts(PyTypeObject* type) except -1
    bint minialchemy_has_ordinary_dicts(PyTypeObject* type, object dict_name)
    bint minialchemy_same_setattr(PyTypeObject* a, PyTypeObject* b)
