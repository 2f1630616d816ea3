"""Attribute instrumentation: per-object state, column descriptors, dirty tracking, expiry.

Every mapped object carries one :class:`InstanceState` in its ``__dict__`` (under
:data:`STATE_KEY`, the only key left after the object is expired).  Column attributes are
:class:`ColumnAttribute` descriptors on the class:

- reading a loaded value is a dict lookup (``obj.__dict__[key]``);
- reading a missing value asks the state: ``None`` for a transient/pending object, a reload
  from the database for an expired one (Lazy Load), :class:`DetachedInstanceError` when there is
  no session to reload from;
- writing a value on a persistent object records the *committed* value once (in
  ``state.committed_state``) and tells the session the object is modified (``session.dirty``).
  At flush time the net change is the difference between the two: setting a value back to what
  it was emits no UPDATE.

This is the pure-Python twin of ``ext/instrumentation.pyx``: same classes, same methods, same
order.  ``minialchemy._accel`` picks which one the ORM uses.

Where it sits: the mapper installs the descriptors; the session and the loader create states;
the unit of work reads ``committed_state`` to build UPDATEs.
"""

from __future__ import annotations

import weakref
from typing import Any, Iterable

__all__ = [
    "STATE_KEY",
    "NO_VALUE",
    "InstanceState",
    "ColumnAttribute",
    "new_state",
    "instance_state",
    "load_instance",
    "populate_expired",
    "insert_params",
    "update_params",
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


class InstanceState:
    """Everything the ORM knows about one mapped object.

    ``key`` is the identity key ``(cls, (pk,), None)`` once the row exists; ``session_id`` names
    the session the object is attached to.  Together they give the five states::

        transient   key is None      no session
        pending     key is None      in a session
        persistent  key is set       in a session, not deleted
        deleted     key is set       in a session, DELETE flushed (until commit/rollback)
        detached    key is set       no session
    """

    __slots__ = (
        "obj",
        "mapper",
        "key",
        "session_id",
        "committed_state",
        "expired_attributes",
        "modified",
        "deleted_flag",
        "__weakref__",
    )

    def __init__(self, obj: Any, mapper: Any) -> None:
        self.obj = weakref.ref(obj)
        self.mapper = mapper
        self.key: tuple[Any, ...] | None = None
        self.session_id: int | None = None
        self.committed_state: dict[str, Any] = {}
        self.expired_attributes: set[str] = set()
        self.modified = False
        self.deleted_flag = False

    # -- the five states ------------------------------------------------------------------

    @property
    def transient(self) -> bool:
        """Not in a session, no row: a freshly constructed object."""
        return self.key is None and self.session_id is None

    @property
    def pending(self) -> bool:
        """Added to a session, not flushed yet: it will be INSERTed."""
        return self.key is None and self.session_id is not None

    @property
    def persistent(self) -> bool:
        """In a session and backed by a row."""
        return self.key is not None and self.session_id is not None and not self.deleted_flag

    @property
    def deleted(self) -> bool:
        """Its DELETE was flushed in the current transaction."""
        return self.key is not None and self.session_id is not None and self.deleted_flag

    @property
    def detached(self) -> bool:
        """Backed by a row (it has an identity) but not in any session."""
        return self.key is not None and self.session_id is None

    @property
    def was_deleted(self) -> bool:
        """True once a DELETE of this object was flushed (stays True after commit)."""
        return self.deleted_flag

    @property
    def has_identity(self) -> bool:
        return self.key is not None

    @property
    def identity_key(self) -> tuple[Any, ...] | None:
        """``(User, (4,), None)``: the key of this object in the identity map."""
        return self.key

    @property
    def identity(self) -> tuple[Any, ...] | None:
        """The primary key as a tuple, ``(4,)``, or None before the INSERT."""
        return None if self.key is None else self.key[1]

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
        from minialchemy.orm.session import _sessions

        return _sessions.get(self.session_id)

    @property
    def expired(self) -> bool:
        """True when every column attribute is expired (after commit, rollback, expire())."""
        return bool(self.expired_attributes) and self.expired_attributes.issuperset(
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

    # -- expiry ------------------------------------------------------------------------------

    def expire(self, keys: Iterable[str] | None = None) -> None:
        """Forget loaded values; they reload from the database on next access.

        With ``keys``, only those attributes; without, every mapped attribute, and the object's
        pending changes are forgotten too.
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
            self.expired_attributes = set(mapper._column_attr_keys)
            self.expired_attributes.update(mapper._relationship_keys)
            self.committed_state.clear()
            self.modified = False
            return
        for key in keys:
            d.pop(key, None)
            self.committed_state.pop(key, None)
            if key in mapper._column_attr_keys_set or key in mapper._relationship_keys:
                self.expired_attributes.add(key)

    def _commit_all(self) -> None:
        """After a flush: the current values are now the committed ones."""
        self.committed_state.clear()
        self.modified = False

    def __repr__(self) -> str:
        obj = self.obj()
        return f"<InstanceState of {object.__repr__(obj) if obj is not None else '(collected)'}>"


def new_state(obj: Any, mapper: Any) -> InstanceState:
    """Create the state of a transient object and store it in its ``__dict__``."""
    state = InstanceState(obj, mapper)
    obj.__dict__[STATE_KEY] = state
    return state


def instance_state(obj: Any) -> InstanceState:
    """The state of a mapped object, created on first need (a user ``__init__`` may not have set
    any attribute yet)."""
    state = obj.__dict__.get(STATE_KEY)
    if state is None:
        mapper = type(obj).__mapper__
        state = new_state(obj, mapper)
    return state


class ColumnAttribute:
    """The descriptor for one column attribute (``User.name``).

    On the class (``User.name``) it returns the attribute's comparator, usable in SQL
    expressions; on an object it reads and writes ``obj.__dict__[key]`` with the tracking
    described in the module docstring.
    """

    __slots__ = ("key", "comparator", "__weakref__")

    def __init__(self, key: str, comparator: Any) -> None:
        self.key = key
        self.comparator = comparator

    def __get__(self, obj: Any, owner: Any = None) -> Any:
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
        if state is None or state.key is None:
            return None  # transient or pending: unset attributes read None, no AttributeError
        state.mapper._load_expired(state, self.key)
        return d.get(self.key)

    def __set__(self, obj: Any, value: Any) -> None:
        d = obj.__dict__
        state = d.get(STATE_KEY)
        if state is None:
            state = instance_state(obj)
        key = self.key
        if state.key is not None:
            committed = state.committed_state
            if key not in committed:
                committed[key] = d.get(key, NO_VALUE)
            if not state.modified:
                state.modified = True
                session = state.session
                if session is not None:
                    session._register_modified(state)
            state.expired_attributes.discard(key)
        d[key] = value

    def __delete__(self, obj: Any) -> None:
        self.__set__(obj, None)


# -- the loading fast path -------------------------------------------------------------------


def load_instance(
    mapper: Any,
    identity_map: Any,
    session_id: int,
    key: tuple[Any, ...],
    attr_keys: tuple[str, ...],
    values: tuple[Any, ...],
) -> Any:
    """The object for one row: the identity map's (refreshing only its expired attributes, so
    pending changes are kept), or a new one built without ``__init__``."""
    obj = identity_map.get(key)
    if obj is not None:
        state = obj.__dict__[STATE_KEY]
        if state.expired_attributes:
            populate_expired(state, obj.__dict__, attr_keys, values)
        return obj
    cls = mapper.class_
    obj = cls.__new__(cls)
    d = obj.__dict__
    d.update(zip(attr_keys, values))
    state = InstanceState(obj, mapper)
    state.key = key
    state.session_id = session_id
    d[STATE_KEY] = state
    identity_map.add(key, obj)
    return obj


def populate_expired(state: InstanceState, d: dict[str, Any], attr_keys: Iterable[str], values: Iterable[Any]) -> None:
    """Fill the expired attributes of ``state`` from a row; values set since stay as they are."""
    expired = state.expired_attributes
    for key, value in zip(attr_keys, values):
        if key in expired:
            d[key] = value
    expired.clear()


# -- flush parameters ------------------------------------------------------------------------


def insert_params(d: dict[str, Any], attr_keys: Iterable[str]) -> list[Any]:
    """INSERT values of one object, in column order (missing attributes are None)."""
    return [d.get(key) for key in attr_keys]


def update_params(state: InstanceState, d: dict[str, Any]) -> dict[str, Any]:
    """The net change of a modified object: attributes whose value differs from the committed
    one (an attribute set back to its old value is no change), in table column order (so the
    UPDATE's SET clause lists columns as the table does, whatever order they were set in)."""
    committed_state = state.committed_state
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
