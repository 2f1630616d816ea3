"""Relationships between mapped classes: ``User.addresses`` (one-to-many) and ``Address.user``
(many-to-one), with Lazy Load, ``back_populates`` and cascades.

- **Lazy load**: a relationship is loaded the first time it is read.  A many-to-one whose target
  is already in the identity map costs no SQL at all; otherwise one SELECT (after an autoflush).
- **back_populates**: appending an address to ``user.addresses`` sets ``address.user``, and
  setting ``address.user`` appends to ``user.addresses`` when that collection is loaded, in
  memory, before any flush.
- **Cascades** (``relationship(cascade="all, delete-orphan")``): ``save-update`` adds related
  objects to the session along with their parent (from the parent's side only: setting
  ``address.user = u`` on a new address does not add it to ``u``'s session); a target the
  session cannot take (another session's, a deleted one) is refused before anything changes; ``delete`` deletes children with their parent;
  ``delete-orphan`` deletes a child removed from its parent's collection.  Without ``delete``,
  deleting a parent sets its children's foreign key to NULL.

The foreign-key columns themselves are written by the unit of work at flush time, from the
parent's primary key (which, for a new parent, exists only after its INSERT).

Where it sits: installed on classes by the mapper; used by the session (cascades, lazy loads)
and by :mod:`minialchemy.orm.unitofwork` (foreign-key synchronization, dependency order).
"""

from __future__ import annotations

import weakref
from typing import Any, Iterable

from minialchemy import _accel
from minialchemy.exc import ArgumentError
from minialchemy.orm.relationship_clauses import RelationshipComparator

__all__ = ["RelationshipProperty", "relationship", "InstrumentedList", "MANYTOONE", "ONETOMANY"]

MANYTOONE = "MANYTOONE"
ONETOMANY = "ONETOMANY"

_ALL_CASCADES = ("save-update", "merge", "refresh-expire", "expunge", "delete")


def _parse_cascade(cascade: str) -> frozenset[str]:
    names: set[str] = set()
    for part in cascade.split(","):
        part = part.strip()
        if not part or part == "none":
            continue
        if part == "all":
            names.update(_ALL_CASCADES)
        elif part in (*_ALL_CASCADES, "delete-orphan"):
            names.add(part)
        else:
            raise ArgumentError(
                f"Invalid cascade option {part!r} (expected some of: all, save-update, merge, "
                f"refresh-expire, expunge, delete, delete-orphan)"
            )
    return frozenset(names)


def _parse_lazy(lazy: Any) -> str:
    """``lazy=``: one of the loader strategies (``True`` is ``"select"``, ``False`` ``"joined"``)."""
    from minialchemy.orm.strategy_options import LOADER_STRATEGIES

    if lazy is True:
        return "select"
    if lazy is False:
        return "joined"
    if lazy not in LOADER_STRATEGIES:
        raise ArgumentError(
            f"relationship(lazy={lazy!r}) is not a loader strategy (expected one of: "
            f"{', '.join(LOADER_STRATEGIES)})"
        )
    return lazy


class RelationshipProperty:
    """A mapped relationship; direction and join columns are worked out from the foreign keys
    on first use (the target class may be defined after this one)."""

    is_relationship = True

    def __init__(
        self,
        argument: Any = None,
        *,
        back_populates: str | None = None,
        cascade: str = "save-update, merge",
        uselist: bool | None = None,
        lazy: str = "select",
        order_by: Any = None,
        foreign_keys: Any = None,
        viewonly: bool = False,
        passive_deletes: bool = False,
    ) -> None:
        self.argument = argument
        self.back_populates = back_populates
        self.cascade = _parse_cascade(cascade)
        self.uselist = uselist
        self.lazy = _parse_lazy(lazy)
        self.order_by = order_by
        self.foreign_keys = foreign_keys
        self.viewonly = viewonly
        self.passive_deletes = passive_deletes
        self.key: str = ""
        self.parent: Any = None
        self._resolved = False

    def _apply_annotation(self, parsed: Any) -> None:
        if self.argument is None:
            self.argument = parsed.inner
        if self.uselist is None:
            self.uselist = parsed.collection

    def _install(self, cls: type) -> None:
        setattr(cls, self.key, RelationshipAttribute(self, cls))

    # -- resolution -----------------------------------------------------------------------------

    def _resolve(self) -> None:
        if self._resolved:
            return
        target = self.argument
        if callable(target) and not isinstance(target, type):
            target = target()
        if isinstance(target, str):
            target = self.parent.registry._resolve(target, f"relationship {self.parent.class_.__name__}.{self.key}")
        mapper = getattr(target, "__mapper__", None)
        if mapper is None:
            raise ArgumentError(f"relationship {self.parent.class_.__name__}.{self.key}: {target!r} is not a mapped class")
        self._target_mapper = mapper
        parent_table = self.parent.local_table
        target_table = mapper.local_table
        wanted = None
        if self.foreign_keys is not None:
            fks = self.foreign_keys if isinstance(self.foreign_keys, (list, tuple)) else [self.foreign_keys]
            wanted = {getattr(c, "__clause_element__", lambda c=c: c)() for c in fks}
        to_target = [fk for fk in parent_table.foreign_keys if fk.references(target_table) and (wanted is None or fk.parent in wanted)]
        to_parent = [fk for fk in target_table.foreign_keys if fk.references(parent_table) and (wanted is None or fk.parent in wanted)]
        if to_target and not (parent_table is target_table):
            self.direction = MANYTOONE
            #: (column of the "one" side, foreign-key column of the "many" side)
            self.pairs = [(fk.column, fk.parent) for fk in to_target]
        elif to_parent:
            self.direction = ONETOMANY
            self.pairs = [(fk.column, fk.parent) for fk in to_parent]
        else:
            raise ArgumentError(
                f"Could not determine join condition between parent table {parent_table.name!r} "
                f"and target table {target_table.name!r} of relationship "
                f"{self.parent.class_.__name__}.{self.key}: there are no foreign keys linking them "
                f"(add ForeignKey(...) to a column)"
            )
        if self.uselist is None:
            self.uselist = self.direction == ONETOMANY
        self._resolved = True

    @property
    def mapper(self) -> Any:
        """The Mapper of the target class (``inspect(Address)`` for ``User.addresses``)."""
        self._resolve()
        return self._target_mapper

    @property
    def entity(self) -> type:
        """The target class."""
        return self.mapper.class_

    @property
    def one_mapper(self) -> Any:
        """The mapper on the "one" side (owner of the referenced primary key)."""
        self._resolve()
        return self.mapper if self.direction == MANYTOONE else self.parent

    @property
    def many_mapper(self) -> Any:
        """The mapper on the "many" side (owner of the foreign-key column)."""
        self._resolve()
        return self.parent if self.direction == MANYTOONE else self.mapper

    def fk_attr_keys(self) -> list[tuple[str, str]]:
        """``[(attribute on the one side, foreign-key attribute on the many side)]``."""
        self._resolve()
        one, many = self.one_mapper, self.many_mapper
        return [(one._col_to_attr[a], many._col_to_attr[b]) for a, b in self.pairs]

    # -- loading ---------------------------------------------------------------------------------

    def _load(self, obj: Any) -> Any:
        """Value for an unloaded relationship (the descriptor's miss path)."""
        self._resolve()
        instrumentation = _accel.instrumentation
        state = instrumentation.instance_state(obj)
        d = obj.__dict__
        if state.key is None:
            if self.uselist:
                collection = InstrumentedList(obj, self)
                d[self.key] = collection
                return collection
            return None
        session = state.session
        if session is None:
            from minialchemy.orm.exc import DetachedInstanceError
            from minialchemy.orm.mapper import _instance_str

            raise DetachedInstanceError(
                f"Parent instance {_instance_str(obj)} is not bound to a Session; lazy load "
                f"operation of attribute {self.key!r} cannot proceed (call session.add(obj) to "
                f"re-attach it)"
            )
        value = session._lazy_load(state, self)
        if self.uselist:
            collection = InstrumentedList(obj, self)
            list.extend(collection, value)
            value = collection
        d[self.key] = value
        return value

    # -- setting ---------------------------------------------------------------------------------

    def _set(self, obj: Any, value: Any) -> None:
        self._resolve()
        instrumentation = _accel.instrumentation
        state = instrumentation.instance_state(obj)
        d = obj.__dict__
        if self.uselist:
            for item in value or ():
                _check_cascade_target(state, item, self)
            old = d.get(self.key)
            if old is None and state.key is not None and state.session is not None:
                old = getattr(obj, self.key)  # the members being replaced lose their parent
            _record_committed_members(state, self.key, old)
            new = InstrumentedList(obj, self)
            d[self.key] = new
            if old is not None:
                for item in list(old):
                    new._removed_item(item)
            for item in value or ():
                new.append(item)
            return
        old = d.get(self.key)
        if value is not None and value is not old:
            _check_cascade_target(state, value, self)  # a refused assignment changes nothing
        _record_committed_reference(state, self.key)
        d[self.key] = value
        _touch(state)
        if self.back_populates:
            if old is not None and old is not value:
                old_collection = old.__dict__.get(self.back_populates)
                if isinstance(old_collection, InstrumentedList) and _contains(old_collection, obj):
                    old_collection._before_change()
                    list.remove(old_collection, obj)
                    old_collection._removed.append(obj)
                    _touch(instrumentation.instance_state(old))
            if value is not None:
                collection = value.__dict__.get(self.back_populates)
                if collection is None and instrumentation.instance_state(value).key is None:
                    collection = getattr(value, self.back_populates)
                if isinstance(collection, InstrumentedList) and not _contains(collection, obj):
                    collection._before_change()
                    list.append(collection, obj)
                    _touch(instrumentation.instance_state(value))
        if value is not None:
            _cascade_add(state, value, self)

    def __repr__(self) -> str:
        owner = self.parent.class_.__name__ if self.parent is not None else "?"
        return f"<Relationship {owner}.{self.key}>"


def relationship(argument: Any = None, **kwargs: Any) -> RelationshipProperty:
    """Declare a relationship: ``relationship(back_populates="user")``,
    ``relationship("Address", cascade="all, delete-orphan")``."""
    return RelationshipProperty(argument, **kwargs)


def _contains(items: Iterable[Any], obj: Any) -> bool:
    return any(item is obj for item in items)


def _record_committed_reference(state: Any, key: str) -> None:
    """Before the first change of a many-to-one reference of a persistent object since it was
    loaded or flushed: remember the loaded one (NO_VALUE if it was not loaded), for its history
    (:mod:`minialchemy.orm.attributes`)."""
    if state.key is not None:
        committed = state.committed_state
        if key not in committed:
            d = state.dict
            committed[key] = d[key] if key in d else _reference_in_identity_map(state, key)


def _reference_in_identity_map(state: Any, key: str) -> Any:
    """The object a many-to-one that is not loaded refers to, if its foreign key is loaded and
    the target is in the identity map (no SQL); None for a NULL foreign key; else NO_VALUE."""
    no_value = _accel.instrumentation.NO_VALUE
    prop = state.mapper._props[key]
    prop._resolve()
    d = state.dict
    target = prop.mapper
    pairs = prop.fk_attr_keys()
    if any(many not in d for _, many in pairs):
        return no_value
    values = {one: d[many] for one, many in pairs}
    if all(value is None for value in values.values()):
        return None
    session = state.session
    if session is None or set(values) != set(target._pk_attr_keys):
        return no_value
    pk = tuple(values[k] for k in target._pk_attr_keys)
    found = session.identity_map.get((target.class_, pk, None))
    return no_value if found is None else found


def _record_committed_members(state: Any, key: str, members: Iterable[Any] | None) -> None:
    """Before the first change of a collection since it was loaded or flushed: remember its
    members (none for an object not yet INSERTed, or a collection not loaded), for its history."""
    committed = state.committed_state
    if key not in committed:
        committed[key] = list(members) if members is not None and state.key is not None else []


def _touch(state: Any) -> None:
    """A relationship of a persistent object changed: the flush must look at it."""
    if state.key is not None:
        if not state.modified:
            state.modified = True
            session = state.session
            if session is not None:
                session._register_modified(state)


def _check_cascade_target(owner_state: Any, target: Any, prop: RelationshipProperty) -> None:
    """Before a relationship change of an object in a session: refuse, with nothing changed
    yet, a target the save-update cascade could not bring into that session (an object of
    another session, a deleted one, a second object for a row the session holds)."""
    if "save-update" not in prop.cascade or owner_state.session_id is None:
        return
    session = owner_state.session
    if session is not None:
        session._check_cascade_target(target)


def _cascade_add(parent_state: Any, child: Any, prop: RelationshipProperty) -> None:
    """save-update cascade: a child joins its parent's session.  Only in that direction: as in
    SQLAlchemy 2.x, ``Address(user=u)`` (the change made on the child's side, reaching ``u``
    through back_populates) does not put the new address in ``u``'s session."""
    parent_session = parent_state.session
    if parent_session is not None and "save-update" in prop.cascade:
        child_state = _accel.instrumentation.instance_state(child)
        if child_state.session_id is None and not child_state.deleted_flag:
            parent_session._save_or_update(child)


class RelationshipAttribute(RelationshipComparator):
    """The descriptor of a relationship attribute (``User.addresses``); in queries, a
    :class:`~minialchemy.orm.relationship_clauses.RelationshipComparator` (joins, any/has)."""

    def __init__(self, prop: RelationshipProperty, class_: type) -> None:
        self.prop = prop
        self.key = prop.key
        self.class_ = class_

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.key]
        except KeyError:
            return self.prop._load(obj)

    def __set__(self, obj: Any, value: Any) -> None:
        self.prop._set(obj, value)

    def __delete__(self, obj: Any) -> None:
        self.prop._set(obj, [] if self.prop.uselist else None)

    @property
    def property(self) -> RelationshipProperty:
        return self.prop

    def __repr__(self) -> str:
        return f"<{self.class_.__name__}.{self.key}>"


class InstrumentedList(list):
    """A one-to-many collection: a list that keeps the other side (``back_populates``), the
    session (save-update cascade) and the flush (removed children) informed."""

    __slots__ = ("_owner", "_prop", "_removed")

    def __init__(self, owner: Any, prop: RelationshipProperty, items: Iterable[Any] = ()) -> None:
        super().__init__()
        self._owner = weakref.ref(owner)
        self._prop = prop
        #: children removed since the last flush (their foreign key is cleared, or with
        #: delete-orphan they are deleted)
        self._removed: list[Any] = []
        for item in items:
            self.append(item)

    # events ----------------------------------------------------------------------------------

    def _before_change(self) -> None:
        """Called before each change: the first one since load or flush records the members
        (``inspect(user).attrs.addresses.history`` compares with them)."""
        owner = self._owner()
        if owner is not None:
            _record_committed_members(_accel.instrumentation.instance_state(owner), self._prop.key, self)

    def _added_item(self, item: Any) -> None:
        owner = self._owner()
        if owner is None:
            return
        instrumentation = _accel.instrumentation
        prop = self._prop
        self._removed = [r for r in self._removed if r is not item]
        item_state = instrumentation.instance_state(item)
        if prop.back_populates:
            previous = item.__dict__.get(prop.back_populates)
            if previous is not None and previous is not owner:
                other = previous.__dict__.get(prop.key)
                if isinstance(other, InstrumentedList) and _contains(other, item):
                    other._before_change()
                    list.remove(other, item)
            _record_committed_reference(item_state, prop.back_populates)
            item.__dict__[prop.back_populates] = owner
        _touch(item_state)
        owner_state = instrumentation.instance_state(owner)
        _touch(owner_state)
        _cascade_add(owner_state, item, prop)

    def _removed_item(self, item: Any) -> None:
        owner = self._owner()
        if owner is None:
            return
        instrumentation = _accel.instrumentation
        prop = self._prop
        if prop.back_populates and item.__dict__.get(prop.back_populates) is owner:
            _record_committed_reference(instrumentation.instance_state(item), prop.back_populates)
            item.__dict__[prop.back_populates] = None
        self._removed.append(item)
        _touch(instrumentation.instance_state(item))
        _touch(instrumentation.instance_state(owner))

    # list API --------------------------------------------------------------------------------

    def _check_new_items(self, items: Iterable[Any]) -> None:
        """Refuse items the owner's session cannot take before the list changes."""
        owner = self._owner()
        if owner is not None:
            owner_state = _accel.instrumentation.instance_state(owner)
            for item in items:
                _check_cascade_target(owner_state, item, self._prop)

    def append(self, item: Any) -> None:
        self._check_new_items((item,))
        self._before_change()
        super().append(item)
        self._added_item(item)

    def extend(self, items: Iterable[Any]) -> None:
        items = list(items)
        self._check_new_items(items)
        for item in items:
            self.append(item)

    def __iadd__(self, items: Iterable[Any]) -> "InstrumentedList":  # type: ignore[override]
        self.extend(items)
        return self

    def insert(self, index: Any, item: Any) -> None:
        self._check_new_items((item,))
        self._before_change()
        super().insert(index, item)
        self._added_item(item)

    def remove(self, item: Any) -> None:
        self._before_change()
        for index, existing in enumerate(self):
            if existing is item:
                super().__delitem__(index)
                self._removed_item(item)
                return
        super().remove(item)  # equality-based fallback; raises ValueError if absent
        self._removed_item(item)

    def pop(self, index: Any = -1) -> Any:
        self._before_change()
        item = super().pop(index)
        self._removed_item(item)
        return item

    def clear(self) -> None:
        self._before_change()
        items = list(self)
        super().clear()
        for item in items:
            self._removed_item(item)

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            value = list(value)
        self._check_new_items(value if isinstance(index, slice) else (value,))
        self._before_change()
        old = self[index]
        super().__setitem__(index, value)
        for item in old if isinstance(index, slice) else [old]:
            self._removed_item(item)
        for item in value if isinstance(index, slice) else [value]:
            self._added_item(item)

    def __delitem__(self, index: Any) -> None:
        self._before_change()
        old = self[index]
        super().__delitem__(index)
        for item in old if isinstance(index, slice) else [old]:
            self._removed_item(item)

    def __reduce__(self) -> Any:
        return (list, (list(self),))
