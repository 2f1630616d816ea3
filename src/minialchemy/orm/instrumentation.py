"""Attribute instrumentation: per-object state, column attributes, dirty tracking, expiry.

Every mapped object carries one :class:`InstanceState` in its ``__dict__`` (under
:data:`STATE_KEY`, the only key left after the object is expired).  The state is created on
first need: a freshly constructed object has none until a session (or ``inspect()``) asks.

Reading and writing a column attribute (``user.name``) are split between two objects, and the
split is the whole trick of this module:

- **Reads** go through :class:`ColumnAttribute`, a *non-data* descriptor (it has ``__get__``
  but no ``__set__``).  Python looks in the instance ``__dict__`` before it asks a non-data
  descriptor, so reading a loaded value is exactly a plain attribute read, and CPython's
  specialising interpreter treats it as one.  The descriptor only runs when the value is
  missing: ``None`` for a transient/pending object, a reload from the database for an expired
  one (Lazy Load), :class:`DetachedInstanceError` when there is no session to reload from.
- **Writes** go through :meth:`InstrumentedObject.__setattr__`, on the base class of every
  declarative class.  Setting a column attribute of a persistent object records the
  *committed* value once (in ``state.committed_state``) and tells the session the object is
  modified (``session.dirty``).  At flush time the net change is the difference between the
  two: setting a value back to what it was emits no UPDATE.

A plain class mapped with ``registry.map_imperatively`` has no such base class; its columns get
:class:`PlainClassColumnAttribute`, a *data* descriptor that tracks writes in ``__set__``.  It
behaves the same, but every read then runs the descriptor (slower: a data descriptor on the
class hides the instance ``__dict__`` from the interpreter's fast path).

The loading fast path (:func:`load_instance`, :func:`load_instances`: rows to objects through the
identity map) and the flush parameters (:func:`insert_params`, :func:`update_params`,
:func:`delete_params`) live here too, because they read and write the same state.

This is the pure-Python twin of ``ext/instrumentation.pyx``: same classes, same functions, same
order, same parameters (``tests/test_twins_in_lockstep.py`` compares the two files).
``minialchemy._accel`` picks which one the ORM uses.

Where it sits: the mapper installs the descriptors; ``DeclarativeBase`` derives from
:class:`InstrumentedObject`; the session and the loader create states; the unit of work reads
``committed_state`` to build UPDATEs.
"""

from __future__ import annotations

import functools
import weakref

from minialchemy.orm.identity import MapEntry, join_key, split_key

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Callable, Container, Iterable, Sequence, TypeVar

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

#: the ``__dict__`` key holding an object's state (SQLAlchemy's name, so the tutorial's
#: ``sandy.__dict__`` output reads the same)
STATE_KEY = "_sa_instance_state"


class _NoValue:
    """Marker for "this attribute had no value" (distinct from ``None``, a real value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __reduce__(self) -> str:
        return "NO_VALUE"


NO_VALUE = _NoValue()


class InstanceState(MapEntry):
    """Everything the ORM knows about one mapped object.

    ``key`` is the identity key ``(cls, (pk,), None)`` once the row exists; ``session_id`` names
    the session the object is attached to.  Together they give the five states::

        transient   key is None      no session
        pending     key is None      in a session
        persistent  key is set       in a session, not deleted
        deleted     key is set       in a session, DELETE flushed (until commit/rollback)
        detached    key is set       no session

    ``obj()`` returns the object (a weak reference: the state never keeps its object alive).
    ``committed_state`` and ``expired_attributes`` are created on first use: most loaded
    objects never need them.  The weak reference comes from :class:`MapEntry`, which lets the
    identity map store the state itself as the object's entry.

    The state does not store its identity key: it stores the primary key as the identity map
    keys it (``_map_key``: ``4``, or ``(1, 2)`` for a two-column key; None before the row
    exists, see ``identity.split_key``) and builds ``key`` from it and its mapper's class when
    asked.  The two tuples of a stored key were a fifth of a loaded object's bytes.
    """

    __slots__ = (
        "mapper",
        "session_id",
        "_committed_state",
        "_expired_attributes",
        "modified",
        "deleted_flag",
        "__weakref__",
    )

    def __init__(self, obj: Any, mapper: Any) -> None:
        self._obj_ref = weakref.ref(obj)
        self.mapper = mapper
        self._map_key: Any = None
        self.session_id: int | None = None
        self._committed_state: dict[str, Any] | None = None
        self._expired_attributes: set[str] | None = None
        self.modified = False
        self.deleted_flag = False

    def obj(self) -> Any:
        """The object itself, or None if it was garbage-collected."""
        return self._obj_ref()

    @property
    def key(self) -> tuple[Any, ...] | None:
        """The identity key ``(User, (4,), None)`` once the row exists, else None."""
        if self._map_key is None:
            return None
        return join_key(self.mapper.class_, self._map_key)

    @key.setter
    def key(self, key: tuple[Any, ...] | None) -> None:
        if key is None:
            self._map_key = None
            return
        split = split_key(key)
        if split is None or split[0] is not self.mapper.class_:
            raise ValueError(
                f"{key!r} is not an identity key of {self.mapper.class_.__name__}: "
                f"({self.mapper.class_.__name__}, (primary key value, ...), None)"
            )
        self._map_key = split[1]

    @property
    def committed_state(self) -> dict[str, Any]:
        """Attribute key -> the value it had in the database (NO_VALUE if unknown), for each
        attribute set since the last flush."""
        if self._committed_state is None:
            self._committed_state = {}
        return self._committed_state

    @committed_state.setter
    def committed_state(self, value: dict[str, Any]) -> None:
        self._committed_state = value

    @property
    def expired_attributes(self) -> set[str]:
        """Attribute keys to reload from the database on next access."""
        if self._expired_attributes is None:
            self._expired_attributes = set()
        return self._expired_attributes

    @expired_attributes.setter
    def expired_attributes(self, value: set[str]) -> None:
        self._expired_attributes = value

    # -- the five states ------------------------------------------------------------------

    @property
    def transient(self) -> bool:
        """Not in a session, no row: a freshly constructed object."""
        return self._map_key is None and self.session_id is None

    @property
    def pending(self) -> bool:
        """Added to a session, not flushed yet: it will be INSERTed."""
        return self._map_key is None and self.session_id is not None

    @property
    def persistent(self) -> bool:
        """In a session and backed by a row."""
        return self._map_key is not None and self.session_id is not None and not self.deleted_flag

    @property
    def deleted(self) -> bool:
        """Its DELETE was flushed in the current transaction."""
        return self._map_key is not None and self.session_id is not None and self.deleted_flag

    @property
    def detached(self) -> bool:
        """Backed by a row (it has an identity) but not in any session."""
        return self._map_key is not None and self.session_id is None

    @property
    def was_deleted(self) -> bool:
        """True once a DELETE of this object was flushed (stays True after commit)."""
        return self.deleted_flag

    @property
    def has_identity(self) -> bool:
        return self._map_key is not None

    @property
    def identity_key(self) -> tuple[Any, ...] | None:
        """``(User, (4,), None)``: the key of this object in the identity map."""
        return self.key

    @property
    def identity(self) -> tuple[Any, ...] | None:
        """The primary key as a tuple, ``(4,)``, or None before the INSERT."""
        return None if self._map_key is None else self.key[1]

    @property
    def object(self) -> Any:
        """The object itself (None if it was garbage-collected)."""
        return self.obj()

    @property
    def class_(self) -> type:
        return self.mapper.class_

    @property
    def dict(self) -> dict[str, Any]:
        obj = self.obj()
        return obj.__dict__ if obj is not None else {}

    @property
    def session(self) -> Any:
        """The Session this object belongs to, or None."""
        if self.session_id is None:
            return None
        return _session_registry().get(self.session_id)

    @property
    def expired(self) -> bool:
        """True when every column attribute is expired (after commit, rollback, expire())."""
        return bool(self._expired_attributes) and self._expired_attributes.issuperset(
            self.mapper._column_attr_keys
        )

    @property
    def unloaded(self) -> set[str]:
        """Mapped attributes with no value in ``__dict__`` (expired or never loaded)."""
        d = self.dict
        return {key for key in self.mapper.attrs.keys() if key not in d}

    @property
    def attrs(self) -> Any:
        """Per-attribute view: ``inspect(obj).attrs.name.value`` / ``.history``."""
        from minialchemy.orm.mapper import AttributeStates

        return AttributeStates(self)

    # -- changes and expiry --------------------------------------------------------------------

    def _mark_modified(self) -> None:
        """The first change since the last flush: flag it and tell the session (session.dirty)."""
        self.modified = True
        session = self.session
        if session is not None:
            session._register_modified(self)

    def expire(self, keys: Iterable[str] | None = None) -> None:
        """Forget loaded values; they reload from the database on next access.

        With ``keys``, only those attributes; without, every mapped attribute (columns and
        relationships), and the object's pending changes are forgotten too.
        """
        obj = self.obj()
        if obj is None:
            return
        d = obj.__dict__
        mapper = self.mapper
        if keys is None:
            for key in mapper._column_attr_keys:
                d.pop(key, None)
            for key in mapper._relationship_keys:
                d.pop(key, None)
            expired = set(mapper._column_attr_keys)
            expired.update(mapper._relationship_keys)
            self._expired_attributes = expired
            if self._committed_state:
                self._committed_state.clear()
            self.modified = False
            return
        for key in keys:
            d.pop(key, None)
            if self._committed_state is not None:
                self._committed_state.pop(key, None)
            if key in mapper._column_attr_keys_set or key in mapper._relationship_keys:
                self.expired_attributes.add(key)

    def _commit_all(self) -> None:
        """After a flush: the current values are now the committed ones."""
        if self._committed_state:
            self._committed_state.clear()
        self.modified = False

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickling: an object's state is in its ``__dict__``, so it is pickled with the object.
        What it knows of the row and of the changes travels (the class, the primary key, the
        committed values of changed attributes, the expired ones, the flags); the session and
        the weak reference do not.  So an unpickled object with an identity key is detached,
        one without is transient, as in SQLAlchemy; ``session.add()`` or ``merge()`` takes it
        back.  Loaded again by :func:`_restore_state`."""
        return (
            _restore_state,
            (self.obj(), self.mapper.class_, self._map_key, self._committed_state,
             self._expired_attributes, self.modified, self.deleted_flag),
        )

    def __repr__(self) -> str:
        obj = self.obj()
        return f"<InstanceState of {object.__repr__(obj) if obj is not None else '(collected)'}>"


def _restore_state(
    obj: Any,
    cls: type,
    map_key: Any,
    committed_state: dict[str, Any] | None,
    expired_attributes: set[str] | None,
    modified: bool,
    deleted_flag: bool,
) -> InstanceState:
    """The state :meth:`InstanceState.__reduce__` pickled, made again for the unpickled
    ``obj`` (whose ``__dict__`` pickle fills next, this state included), in no session."""
    state = InstanceState(obj, cls.__mapper__)
    state._map_key = map_key
    state._committed_state = committed_state
    state._expired_attributes = expired_attributes
    state.modified = modified
    state.deleted_flag = deleted_flag
    return state


_sessions: Any = None


def _session_registry() -> Any:
    """The registry of live sessions by id (:data:`minialchemy.orm.session_registry.sessions`),
    imported on first use: importing it runs ``minialchemy/orm/__init__.py``, which imports
    this module."""
    global _sessions
    if _sessions is None:
        from minialchemy.orm.session_registry import sessions

        _sessions = sessions
    return _sessions


class InstrumentedObject:
    """The base class of every declarative class (``DeclarativeBase`` derives from it).

    It adds no attributes of its own.  Its ``__setattr__`` is where writes to column attributes
    are tracked, which lets :class:`ColumnAttribute` stay a non-data descriptor that the
    interpreter reads past.  Its ``__init__`` is the declarative constructor: keyword arguments
    named after attributes of the class (``User(name="sandy")``); a class may define its own.
    """

    __slots__ = ()

    def __init__(self, **kwargs: Any) -> None:
        cls = type(self)
        for key, value in kwargs.items():
            if _class_attribute(cls, key) is NO_VALUE:
                raise TypeError(f"{key!r} is an invalid keyword argument for {cls.__name__}")
            setattr(self, key, value)

    def __setattr__(self, name: str, value: Any) -> None:
        attribute = _class_attribute(type(self), name)
        if type(attribute) is ColumnAttribute:
            d = self.__dict__
            _set_column_value(d.get(STATE_KEY), d, attribute, value)
        else:
            object.__setattr__(self, name, value)  # relationships, plain attributes

    def __delattr__(self, name: str) -> None:
        attribute = _class_attribute(type(self), name)
        if type(attribute) is ColumnAttribute:
            d = self.__dict__
            _set_column_value(d.get(STATE_KEY), d, attribute, None)  # deleting sets NULL
        else:
            object.__delattr__(self, name)

    def __getstate__(self) -> dict[str, Any] | None:
        """Pickling and ``copy``: the instance ``__dict__``, as for any object (spelled out
        because the compiled twin needs it)."""
        return self.__dict__ or None


def _class_attribute(cls: type, name: str) -> Any:
    """What ``name`` is on the class itself (a descriptor is returned as it is, not called), or
    NO_VALUE: the lookup Python does before it looks in an instance ``__dict__``."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return NO_VALUE


def _set_column_value(state: InstanceState | None, d: dict[str, Any], attribute: ColumnAttribute, value: Any) -> None:
    """Write the value of column ``attribute`` into the object's ``__dict__`` ``d``; on a
    persistent object (``state`` has a key), first record the change (:func:`_record_change`)."""
    if state is not None and state._map_key is not None:
        _record_change(state, d, attribute)
    d[attribute.key] = value


def _record_change(state: InstanceState, d: dict[str, Any], attribute: ColumnAttribute) -> None:
    """A write to a column of a persistent object: record the column's committed value (the
    first time only), forget that the column was expired, mark the object modified."""
    key = attribute.key
    committed = state._committed_state
    if committed is None:
        committed = state._committed_state = {}
    if key not in committed:
        committed[key] = d.get(key, NO_VALUE)
    if state._expired_attributes:
        state._expired_attributes.discard(key)  # set by hand: no reload will overwrite it
    if not state.modified:
        state._mark_modified()


class ColumnAttribute:
    """The descriptor for one column attribute (``User.name``): a non-data descriptor.

    On the class (``User.name``) it returns the attribute's comparator, usable in SQL
    expressions.  On an object, Python finds a loaded value in ``__dict__`` without calling this
    descriptor at all; ``__get__`` runs only when the value is missing (see the module docstring).
    Writes are tracked by :meth:`InstrumentedObject.__setattr__`.
    """

    __slots__ = ("key", "comparator", "index", "__weakref__")

    def __init__(self, key: str, comparator: Any, index: int = -1) -> None:
        self.key = key
        self.comparator = comparator
        #: position among the mapper's column attributes (the compiled twin keeps a bit per
        #: column to know which committed values it has recorded)
        self.index = index

    def __get__(self, obj: Any, owner: Any) -> Any:
        if obj is None:
            return self.comparator
        try:
            return obj.__dict__[self.key]
        except KeyError:
            return self._value_missing(obj)

    def _value_missing(self, obj: Any) -> Any:
        """No value in ``__dict__``: reload if expired (or unloaded and persistent), else None."""
        d = obj.__dict__
        state = d.get(STATE_KEY)
        if state is None:
            return None
        if state._map_key is None:
            if state._expired_attributes and self.key in state._expired_attributes:
                # expired before a rollback() undid its INSERT: no value to give (refused)
                state.mapper._load_expired(state, self.key)
            return None  # transient or pending: unset attributes read None, no AttributeError
        state.mapper._load_expired(state, self.key)
        return d.get(self.key)


class PlainClassColumnAttribute(ColumnAttribute):
    """A column attribute of a plain class (``registry.map_imperatively(PlainClass, table)``).

    Such a class does not derive from :class:`InstrumentedObject`, so nothing intercepts
    ``obj.name = value``: this descriptor adds ``__set__`` and becomes a *data* descriptor, which
    Python calls for every read and write.  Same behaviour, slower reads.
    """

    __slots__ = ()

    def __set__(self, obj: Any, value: Any) -> None:
        d = obj.__dict__
        _set_column_value(d.get(STATE_KEY), d, self, value)

    def __delete__(self, obj: Any) -> None:
        d = obj.__dict__
        _set_column_value(d.get(STATE_KEY), d, self, None)


def new_state(obj: Any, mapper: Any) -> InstanceState:
    """Create the state of a transient object and store it in its ``__dict__``."""
    state = InstanceState(obj, mapper)
    obj.__dict__[STATE_KEY] = state
    return state


def instance_state(obj: Any) -> InstanceState:
    """The state of a mapped object, created on first need (a constructed object has none until
    a session or ``inspect()`` asks for it)."""
    state = obj.__dict__.get(STATE_KEY)
    if state is None:
        mapper = type(obj).__mapper__
        state = new_state(obj, mapper)
    return state


def add_pending(objects: Iterable[Any], session_id: Any, new: Any, add_other: Callable[[Any], None]) -> None:
    """``Session.add_all``'s loop: each transient object of a class without relationships
    (nothing to cascade) becomes pending in session ``session_id`` and joins ``new`` (the
    session's new objects); any other object goes to ``add_other`` (``Session.add``'s way), in
    the order of ``objects``."""
    for obj in objects:
        mapper = getattr(type(obj), "__mapper__", None)
        if mapper is not None and not mapper._relationship_keys:
            state = instance_state(obj)
            if state.session_id is None and state._map_key is None:
                state.session_id = session_id
                new.add(obj)
                continue
        add_other(obj)


# -- the loading fast path -------------------------------------------------------------------


def load_instance(
    mapper: Any,
    identity_map: Any,
    session_id: int,
    key: tuple[Any, ...],
    attr_keys: tuple[str, ...],
    values: Sequence[Any],
) -> Any:
    """The object for one row: the identity map's (refreshing only its expired attributes, so
    pending changes are kept), or a new one built without ``__init__``."""
    obj = identity_map.get(key)
    if obj is not None:
        state = obj.__dict__[STATE_KEY]
        if state._expired_attributes:
            populate_expired(state, obj.__dict__, attr_keys, values)
        return obj
    obj = _new_instance(mapper.class_, mapper, session_id, key, attr_keys, values)
    identity_map.add(key, obj)
    return obj


def _new_instance(
    cls: type,
    mapper: Any,
    session_id: int,
    key: tuple[Any, ...],
    attr_keys: tuple[str, ...],
    values: Sequence[Any],
) -> Any:
    """A new persistent object for a row: allocated without ``__init__``, ``__dict__`` filled
    from the row, state attached."""
    obj = cls.__new__(cls)
    d = obj.__dict__
    d.update(zip(attr_keys, values))
    state = InstanceState(obj, mapper)
    state.key = key
    state.session_id = session_id
    d[STATE_KEY] = state
    return obj


def load_instances(mapper: Any, identity_map: Any, session_id: int, rows: Iterable[Sequence[Any]]) -> list[Any]:
    """One object per row of ``select(User)`` (each row holds every column of the mapper, in
    order); None for a row whose primary key is NULL."""
    cls = mapper.class_
    attr_keys = mapper._column_attr_keys
    pk_positions = mapper._pk_positions
    objects = []
    for row in rows:
        pk = tuple([row[i] for i in pk_positions])
        if None in pk:
            objects.append(None)
            continue
        key = (cls, pk, None)
        obj = identity_map.get(key)
        if obj is not None:
            state = obj.__dict__[STATE_KEY]
            if state._expired_attributes:
                populate_expired(state, obj.__dict__, attr_keys, row)
        else:
            obj = _new_instance(cls, mapper, session_id, key, attr_keys, row)
            identity_map._add_absent(key, obj)
        objects.append(obj)
    return objects


def populate_expired(state: InstanceState, d: dict[str, Any], attr_keys: Iterable[str], values: Iterable[Any]) -> None:
    """Fill the expired attributes of ``state`` from a row; values set since stay as they are."""
    expired = state.expired_attributes
    for key, value in zip(attr_keys, values):
        if key in expired:
            d[key] = value
    expired.clear()


# -- the flush's objects ---------------------------------------------------------------------


def group_by_mapper(objects: Iterable[Any], skip_ids: Container[int]) -> dict[Any, list[Any]]:
    """``objects`` grouped by the mapper of their class, each group in the order of
    ``objects``, leaving out those whose ``id()`` is in ``skip_ids``: the flush plan's first
    look at the session (which tables does it write, with which objects)."""
    groups: dict[Any, list[Any]] = {}
    for obj in objects:
        if skip_ids and id(obj) in skip_ids:
            continue
        mapper = type(obj).__mapper__
        group = groups.get(mapper)
        if group is None:
            groups[mapper] = [obj]
        else:
            group.append(obj)
    return groups


def split_pending(objects: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """``objects`` of one table split in two lists, each in order: the pending ones (no
    identity key yet: the flush INSERTs them) and the persistent ones (it UPDATEs them)."""
    pending: list[Any] = []
    persistent: list[Any] = []
    for obj in objects:
        if obj.__dict__[STATE_KEY]._map_key is None:
            pending.append(obj)
        else:
            persistent.append(obj)
    return pending, persistent


def with_value(objects: Iterable[Any], attr_key: str) -> list[Any]:
    """The objects whose attribute ``attr_key`` holds a value (not None), in order: the new
    objects whose primary key is given, which the flush INSERTs without reading a key back."""
    return [obj for obj in objects if obj.__dict__.get(attr_key) is not None]


def with_missing_values(objects: Iterable[Any], attr_keys: tuple[str, ...]) -> list[Any]:
    """The objects with no value for one or more of ``attr_keys`` (expired, or never loaded), in
    order: of the objects a flush UPDATEs or DELETEs, those whose primary key it loads first."""
    return [obj for obj in objects if any(key not in obj.__dict__ for key in attr_keys)]


# -- flush parameters ------------------------------------------------------------------------


def insert_params(d: dict[str, Any], attr_keys: Iterable[str]) -> list[Any]:
    """INSERT values of one object, in column order (missing attributes are None)."""
    return [d.get(key) for key in attr_keys]


def insert_params_many(objects: Sequence[Any], attr_keys: Sequence[str], start: int, stop: int) -> list[Any]:
    """The INSERT values of ``objects[start:stop]`` in one flat list, one object's values after
    the other's: the parameters of one batched ``INSERT ... VALUES (?, ?), (?, ?) ...``."""
    params: list[Any] = []
    for obj in objects[start:stop]:
        params += insert_params(obj.__dict__, attr_keys)
    return params


def fill_keys(objects: Sequence[Any], start: int, keys: Sequence[Any], attr_key: str) -> None:
    """Give ``objects[start]``, ``objects[start + 1]``, ... the values of ``keys`` (the primary
    keys a batched INSERT generated, in parameter order) as attribute ``attr_key``: stored as
    loaded values, no change recorded."""
    for obj, key in zip(objects[start:start + len(keys)], keys):
        obj.__dict__[attr_key] = key


def update_params(state: InstanceState, d: dict[str, Any]) -> dict[str, Any]:
    """The net change of a modified object: attributes whose value differs from the committed
    one (an attribute set back to its old value is no change), in table column order (so the
    UPDATE's SET clause lists columns as the table does, whatever order they were set in)."""
    committed_state = state._committed_state
    changes: dict[str, Any] = {}
    if not committed_state:
        return changes
    for key in state.mapper._column_attr_keys:
        if key not in committed_state or key not in d:
            continue
        committed = committed_state[key]
        value = d[key]
        if committed is NO_VALUE or committed != value or type(committed) is not type(value):
            changes[key] = value
    return changes


def update_rows(mapper: Any, objects: Iterable[Any]) -> dict[tuple[str, ...], tuple[list[Any], list[tuple[Any, ...]]]]:
    """The UPDATE rows of ``mapper``'s modified ``objects``, grouped by the columns that changed
    (one statement each): ``{changed keys: (objects, rows)}``, in the order the groups first
    appear.  A row is the new values (``update_params``, column order) followed by the primary
    key as the identity key holds it (``delete_params``, the WHERE clause).  Objects with no
    net change are left out."""
    groups: dict[tuple[str, ...], tuple[list[Any], list[tuple[Any, ...]]]] = {}
    for obj in objects:
        d = obj.__dict__
        state = d[STATE_KEY]
        changes = update_params(state, d)
        if changes:
            members, rows = groups.setdefault(tuple(changes), ([], []))
            members.append(obj)
            rows.append((*changes.values(), *delete_params(state)))
    return groups


def delete_params(state: InstanceState) -> tuple[Any, ...]:
    """The DELETE parameters of one object: its primary key, as the identity key holds it."""
    return state.identity


# -- state transitions in bulk ---------------------------------------------------------------


def mark_inserted(mapper: Any, identity_map: Any, objects: Iterable[Any], states: list[InstanceState]) -> list[Any]:
    """After the INSERTs of a flush (pending -> persistent): each new object of ``mapper`` gets
    its identity key ``(cls, (pk,), None)`` from its primary-key attributes (filled by the
    INSERT), its values count as committed, and it enters the identity map.  Its state is
    appended to ``states`` (the session remembers this transaction's INSERTs by their states,
    for ``rollback()``).

    Return the objects it displaced there, usually none: a live object already stored under
    a new object's key, whose row was deleted behind the session's back (raw SQL, an ORM
    ``delete()`` without synchronisation) before the INSERT reused its primary key.  The
    session decides what becomes of them (``Session._mark_flushed_inserts``).

    An object whose primary key is still NULL is refused (``FlushError``) before its state
    changes; the states of those before it are in ``states`` already.
    """
    cls = mapper.class_
    pk_keys = mapper._pk_attr_keys
    displaced = []
    for obj in objects:
        d = obj.__dict__
        state = d[STATE_KEY]
        pk = tuple([d.get(k) for k in pk_keys])
        if None in pk:
            _refuse_null_identity(obj, cls, pk)
        key = (cls, pk, None)
        state.key = key
        state._commit_all()
        states.append(state)
        previous = identity_map.replace(key, obj)
        if previous is not None and previous is not obj:
            displaced.append(previous)
    return displaced


def _refuse_null_identity(obj: Any, cls: type, pk: tuple[Any, ...]) -> None:
    """A new object whose primary key is still NULL after its INSERT: SQLite stores a NULL in a
    primary-key column that is not INTEGER PRIMARY KEY, but such a row has no identity (no
    ``session.get()`` can find it), so the flush stops here, as SQLAlchemy's does."""
    from minialchemy.orm.exc import FlushError  # (here: importing minialchemy.orm imports this module)

    raise FlushError(
        f"{type(obj).__name__} object at {id(obj):#x} has a NULL identity key "
        f"{(cls, pk, None)!r} after its INSERT: the database did not generate its primary "
        f"key (in SQLite only an INTEGER PRIMARY KEY column does); give it a value before the "
        f"flush, or make the column generate one"
    )


def mark_inserted_batch(
    mapper: Any, identity_map: Any, objects: Sequence[Any], start: int, keys: Sequence[Any], attr_key: str,
    states: list[InstanceState],
) -> list[Any]:
    """After one batched ``INSERT ... RETURNING`` statement of a flush: ``objects[start]``,
    ``objects[start + 1]``, ... get the keys it generated (:func:`fill_keys`) and become
    persistent (:func:`mark_inserted`, whose ``states`` and return value this shares).

    The compiled twin does both in one pass over the statement's objects, right after the
    statement, while they are still in the CPU's caches: a flush of 100 000 objects spent more
    time fetching them from memory again, in a pass of its own, than working on them."""
    fill_keys(objects, start, keys, attr_key)
    return mark_inserted(mapper, identity_map, objects[start:start + len(keys)], states)


def mark_updated(objects: Iterable[Any], modified: Any) -> list[tuple[Any, tuple[Any, ...]]]:
    """After the UPDATEs of a flush: each object's current values count as committed, and it
    leaves ``modified`` (the session's set of modified objects).  Return ``(object, new
    primary key)`` for those whose primary key the UPDATE changed: their identity key still
    holds the old one, and the session moves them (``Session._mark_flushed_updates``)."""
    moved = []
    for obj in objects:
        d = obj.__dict__
        state = d[STATE_KEY]
        pk_keys = state.mapper._pk_attr_keys
        committed = state._committed_state
        if committed and any(key in committed for key in pk_keys):
            pk = tuple([d.get(key) for key in pk_keys])
            if pk != state.identity:
                moved.append((obj, pk))
        state._commit_all()
        modified.discard(obj)
    return moved


def expire_instances(objects: Iterable[Any]) -> None:
    """Expire every attribute of each object (``commit()`` and ``rollback()`` do this to all
    the objects of the session)."""
    for obj in objects:
        state = obj.__dict__.get(STATE_KEY)
        if state is not None:
            state.expire()


def detach_instances(objects: Iterable[Any], session_id: Any) -> None:
    """Each object of ``objects`` that belongs to session ``session_id`` leaves it (its state
    keeps its identity key: persistent -> detached, pending -> transient); ``close()`` and
    ``expunge_all()`` do this to all the objects of the session."""
    for obj in objects:
        state = obj.__dict__.get(STATE_KEY)
        if state is not None and state.session_id == session_id:
            state.session_id = None


def set_committed_value(obj: Any, key: str, value: Any) -> None:
    """Set attribute ``key`` of ``obj`` as if it had been loaded with ``value``: no change is
    recorded, so no flush writes it (SQLAlchemy's ``attributes.set_committed_value``).  The
    flush uses it for a foreign key that the database cascades itself."""
    d = obj.__dict__
    d[key] = value
    state = d.get(STATE_KEY)
    if state is not None:
        if state._committed_state:
            state._committed_state.pop(key, None)
        if state._expired_attributes:
            state._expired_attributes.discard(key)


# -- Session.get -----------------------------------------------------------------------------

if TYPE_CHECKING:  # the decorator's type, for type checkers only (typing is not imported at run time)
    _GetMethod = TypeVar("_GetMethod", bound=Callable[..., Any])


def session_get_fast_path(general_get: _GetMethod) -> _GetMethod:
    """Decorator of ``Session.get`` (in ``orm/session.py``) that adds its fast path.

    The returned function answers ``session.get(User, 4)`` at once when the identity map holds
    the object and it is loaded (nothing expired), with no options given: a dict lookup, no SQL.
    Everything else (a miss, an expired object, ``populate_existing``, an identity given as a
    list or a dict, errors) is left to ``general_get``, the method as ``session.py`` writes it.
    In the compiled twin the returned function is compiled too, so the hit never leaves C: this
    is the line that runs a million times in a loop.
    """

    def get(
        session: Any,
        entity: type,
        ident: Any,
        *,
        options: Any = None,
        populate_existing: bool = False,
        with_for_update: Any = None,
        identity_token: Any = None,
        execution_options: Any = None,
        bind_arguments: Any = None,
    ) -> Any:
        if not (options or populate_existing or with_for_update or identity_token
                or execution_options or bind_arguments or isinstance(ident, (list, dict))):
            pk = ident if type(ident) is tuple else (ident,)
            obj = session.identity_map.get((entity, pk, None))
            if obj is not None:
                state = obj.__dict__.get(STATE_KEY)
                if state is not None and not state._expired_attributes:
                    return obj
        return general_get(
            session,
            entity,
            ident,
            options=options,
            populate_existing=populate_existing,
            with_for_update=with_for_update,
            identity_token=identity_token,
            execution_options=execution_options,
            bind_arguments=bind_arguments,
        )

    functools.update_wrapper(get, general_get)
    return get  # type: ignore[return-value]  # same signature as general_get
