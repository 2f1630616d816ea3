"""Relationships between mapped classes: ``User.addresses`` (one-to-many) and ``Address.user``
(many-to-one), with Lazy Load, ``back_populates`` and cascades, and the other classic patterns:

- **adjacency list** (a tree in one table): ``parent = relationship(back_populates="children",
  remote_side=[id])``.  When a table's foreign key points at the table itself, both directions
  are possible; ``remote_side`` names the column on the far side (the parent's ``id``: a
  many-to-one to the parent).  Without it, the relationship is the one-to-many ``children``.
- **many-to-many** through an association table: ``relationship(secondary=post_tag)``; the
  association rows are written by the unit of work from what was appended and removed.
- **one-to-one**: ``relationship(uselist=False)`` (or a ``Mapped[Optional["Child"]]``
  annotation) on the one-to-many side makes it hold one object instead of a list.

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

Configuration (direction, join columns, ``back_populates``, ``secondary``, ``remote_side``) is
worked out for every relationship of a registry at first use (:func:`configure_mappers`), so a
mistake is reported there, naming the class, the attribute and the fix.

Where it sits: installed on classes by the mapper; used by the session (cascades, lazy loads)
and by :mod:`minialchemy.orm.unitofwork` (foreign-key synchronization, association rows,
dependency order).
"""

from __future__ import annotations

from _weakref import ref as weak_ref  # weakref.ref itself, without importing weakref.py (issue 12)

from minialchemy import _accel
from minialchemy.exc import ArgumentError, InvalidRequestError
from minialchemy.orm.base import Mapped
from minialchemy.orm.relationship_clauses import RelationshipComparator
from minialchemy.sql.schema import Column, Table

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Iterable

__all__ = [
    "RelationshipProperty",
    "relationship",
    "configure_mappers",
    "InstrumentedList",
    "MANYTOONE",
    "ONETOMANY",
    "MANYTOMANY",
]

MANYTOONE = "MANYTOONE"
ONETOMANY = "ONETOMANY"
MANYTOMANY = "MANYTOMANY"

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


class RelationshipProperty(Mapped["Any"]):  # a string: typing.Any is for type checkers only
    """A mapped relationship; direction and join columns are worked out from the foreign keys
    on first use (the target class may be defined after this one).  A ``Mapped`` for type
    checkers, so that ``addresses: Mapped[List["Address"]] = relationship()`` checks."""

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
        secondary: Any = None,
        remote_side: Any = None,
    ) -> None:
        self.argument = argument
        #: the association table of a many-to-many (a Table, its name, or a callable)
        self.secondary = secondary
        #: for a table that refers to itself: the column(s) on the far side of the relation
        self.remote_side = remote_side
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
        """Make sure this relationship (and every other one of its registry) is configured."""
        if self._resolved:
            return
        self.parent.registry.configure()
        if not self._resolved:  # a mapper outside its registry's list (never in practice)
            self._setup()

    def _owner_name(self) -> str:
        return f"{self.parent.class_.__name__}.{self.key}"

    def _setup(self) -> None:
        """Work out the target, the direction and the join columns from the foreign keys
        (called once, by :meth:`registry.configure`)."""
        owner = self._owner_name()
        target = self.argument
        if callable(target) and not isinstance(target, type):
            target = target()
        if isinstance(target, str):
            target = self.parent.registry._resolve(target, f"relationship {owner}")
        mapper = getattr(target, "__mapper__", None)
        if mapper is None:
            raise ArgumentError(f"relationship {owner}: {target!r} is not a mapped class")
        self._target_mapper = mapper
        #: (column of the "one" side, foreign-key column of the "many" side)
        self.pairs: list[tuple[Column, Column]] = []
        #: many-to-many: (parent column, association column), (target column, association column)
        self.secondary_table: Table | None = None
        self.secondary_pairs: list[tuple[Column, Column]] = []
        self.secondary_target_pairs: list[tuple[Column, Column]] = []
        if self.secondary is not None:
            self._setup_many_to_many()
        elif self.parent.local_table is mapper.local_table:
            self._setup_self_referential()
        else:
            self._setup_between_tables()
        if self.uselist is None:
            self.uselist = self.direction != MANYTOONE
        self._order_by_clauses = self._resolve_order_by()
        self._check_back_populates()
        self._resolved = True

    def _wanted_foreign_keys(self) -> set[Column] | None:
        if self.foreign_keys is None:
            return None
        fks = self.foreign_keys if isinstance(self.foreign_keys, (list, tuple, set)) else [self.foreign_keys]
        return {_as_column(self._evaluate(c) if isinstance(c, str) else c) for c in fks}

    def _setup_between_tables(self) -> None:
        parent_table = self.parent.local_table
        target_table = self._target_mapper.local_table
        wanted = self._wanted_foreign_keys()
        to_target = [fk for fk in parent_table.foreign_keys if fk.references(target_table) and (wanted is None or fk.parent in wanted)]
        to_parent = [fk for fk in target_table.foreign_keys if fk.references(parent_table) and (wanted is None or fk.parent in wanted)]
        if to_target:
            self.direction = MANYTOONE
            self.pairs = [(fk.column, fk.parent) for fk in to_target]
            remote = {fk.column for fk in to_target}
        elif to_parent:
            self.direction = ONETOMANY
            self.pairs = [(fk.column, fk.parent) for fk in to_parent]
            remote = {fk.parent for fk in to_parent}
        else:
            raise ArgumentError(
                f"Could not determine join condition between parent table {parent_table.name!r} "
                f"and target table {target_table.name!r} of relationship {self._owner_name()}: "
                f"there are no foreign keys linking them (add ForeignKey(...) to a column)"
            )
        if self.remote_side is not None:
            given = self._remote_side_columns()
            if not given <= remote:
                # naming the far side's own columns is redundant and harmless; anything else
                # contradicts the foreign key
                raise ArgumentError(
                    f"Relationship {self._owner_name()} could not use remote_side="
                    f"{_column_names(given)}: remote_side is only needed when a table refers to "
                    f"itself (an adjacency list, such as parent = relationship(remote_side=[id])); "
                    f"here {parent_table.name!r} and {target_table.name!r} are different tables and "
                    f"the foreign key {_fk_names(self.pairs)} already gives the direction "
                    f"({self.direction}).  Remove remote_side from {self._owner_name()}."
                )

    def _setup_self_referential(self) -> None:
        """A table whose foreign key points at itself: ``remote_side`` picks the direction."""
        table = self.parent.local_table
        wanted = self._wanted_foreign_keys()
        fks = [fk for fk in table.foreign_keys if fk.references(table) and (wanted is None or fk.parent in wanted)]
        if not fks:
            raise ArgumentError(
                f"Could not determine join condition of relationship {self._owner_name()}: table "
                f"{table.name!r} has no foreign key to itself (add a column such as "
                f"parent_id = mapped_column(ForeignKey({(table.name + '.id')!r})))"
            )
        self.pairs = [(fk.column, fk.parent) for fk in fks]
        referenced = {fk.column for fk in fks}
        referencing = {fk.parent for fk in fks}
        if self.remote_side is None:
            self.direction = ONETOMANY  # the children, as in SQLAlchemy
            return
        given = self._remote_side_columns()
        if given and given <= referenced:
            self.direction = MANYTOONE
        elif given and given <= referencing:
            self.direction = ONETOMANY
        else:
            cls = self.parent.class_.__name__
            one = ", ".join(f"{cls}.{self.parent._col_to_attr[c]}" for c in referenced)
            many = ", ".join(f"{cls}.{self.parent._col_to_attr[c]}" for c in referencing)
            raise ArgumentError(
                f"Relationship {self._owner_name()} could not determine its direction from "
                f"remote_side={_column_names(given)}: in the self-referential table "
                f"{table.name!r} remote_side names a column of the foreign key "
                f"{_fk_names(self.pairs)} on the far side -- remote_side=[{one}] for a "
                f"many-to-one to the parent, or remote_side=[{many}] (the default) for the "
                f"one-to-many children."
            )

    def _setup_many_to_many(self) -> None:
        """``secondary=``: join through an association table with a foreign key to each side."""
        owner = self._owner_name()
        secondary = self.secondary
        if callable(secondary) and not isinstance(secondary, Table):
            secondary = secondary()
        if isinstance(secondary, str):
            metadata = self.parent.local_table.metadata
            found = metadata.tables.get(secondary) if metadata is not None else None
            if found is None:
                known = ", ".join(sorted(metadata.tables)) if metadata is not None else ""
                raise InvalidRequestError(
                    f"relationship {owner}: secondary={secondary!r} names no table of its "
                    f"MetaData (tables: {known or 'none'}).  Define the association table first, "
                    f"Table({secondary!r}, Base.metadata, Column(..., ForeignKey(...)), ...), or "
                    f"pass the Table object itself: relationship(secondary=that_table)."
                )
            secondary = found
        if not isinstance(secondary, Table):
            raise ArgumentError(f"relationship {owner}: secondary must be a Table or a table name, got {secondary!r}")
        parent_table = self.parent.local_table
        target_table = self._target_mapper.local_table
        if parent_table is target_table:
            raise ArgumentError(
                f"relationship {owner}: a many-to-many from table {parent_table.name!r} to itself "
                f"needs primaryjoin/secondaryjoin to tell its two foreign keys apart, which "
                f"minialchemy does not support; map the association table to a class instead "
                f"(the association-object pattern)"
            )
        to_parent = [fk for fk in secondary.foreign_keys if fk.references(parent_table)]
        to_target = [fk for fk in secondary.foreign_keys if fk.references(target_table)]
        if not to_parent or not to_target:
            raise ArgumentError(
                f"Could not determine join condition between parent/child tables on relationship "
                f"{owner}: there are no foreign keys linking {parent_table.name!r} and "
                f"{target_table.name!r} via secondary table {secondary.name!r} (it needs a "
                f"ForeignKey to each of them)"
            )
        if self.uselist is False:
            raise ArgumentError(
                f"relationship {owner}: a many-to-many (secondary={secondary.name!r}) holding a "
                f"single object (uselist=False, or a Mapped[...] annotation that is not a list) "
                f"is not supported by minialchemy; annotate it Mapped[List[...]]"
            )
        self.direction = MANYTOMANY
        self.secondary_table = secondary
        self.secondary_pairs = [(fk.column, fk.parent) for fk in to_parent]
        self.secondary_target_pairs = [(fk.column, fk.parent) for fk in to_target]
        if self.remote_side is not None:
            raise ArgumentError(
                f"relationship {owner}: remote_side does not apply to a many-to-many "
                f"(secondary={secondary.name!r}); remove it"
            )

    def _check_back_populates(self) -> None:
        if not self.back_populates:
            return
        target = self._target_mapper
        other = target._props.get(self.back_populates)
        owner = self._owner_name()
        name = target.class_.__name__
        if other is None:
            relationships = [k for k in target._relationship_keys]
            hint = ""
            close = [k for k in relationships if _similar(k, self.back_populates)]
            if close:
                hint = f" (did you mean {close[0]!r}?)"
            raise InvalidRequestError(
                f"relationship {owner} has back_populates={self.back_populates!r}, but mapper "
                f"{name} has no property {self.back_populates!r}{hint}.  back_populates names the "
                f"relationship on {name} that points back to {self.parent.class_.__name__} "
                f"(relationships of {name}: {', '.join(relationships) or 'none'}); declare it, "
                f"e.g. {self.back_populates} = relationship(back_populates={self.key!r}), or fix "
                f"the name."
            )
        if not other.is_relationship:
            raise InvalidRequestError(
                f"back_populates on relationship {owner} refers to attribute {name}.{other.key} "
                f"that is a column, not a relationship; back_populates should name the "
                f"relationship on {name} that points back to {self.parent.class_.__name__}"
            )

    def _remote_side_columns(self) -> set[Column]:
        items = self.remote_side
        if callable(items) and not isinstance(items, (list, tuple, set)) and not hasattr(items, "__clause_element__"):
            items = items()
        if isinstance(items, str):
            items = self._evaluate(items)
        if not isinstance(items, (list, tuple, set)):
            items = [items]
        return {_as_column(self._evaluate(item) if isinstance(item, str) else item) for item in items}

    def _resolve_order_by(self) -> list[Any]:
        order = self.order_by
        if order is None or order is False:
            return []
        if callable(order) and not hasattr(order, "__clause_element__") and not isinstance(order, (list, tuple)):
            order = order()
        if isinstance(order, str):
            order = self._evaluate(order)
        if not isinstance(order, (list, tuple)):
            order = [order]
        return [self._evaluate(item) if isinstance(item, str) else item for item in order]

    def _evaluate(self, text: str) -> Any:
        """A string argument (``"Node.id"``, ``"Child.name.desc()"``): evaluated with the
        registry's classes, the MetaData's tables and minialchemy's SQL functions in scope,
        as SQLAlchemy does; a plain name is an attribute of this relationship's class."""
        from minialchemy.sql import elements, schema, selectable, types

        registry = self.parent.registry
        namespace: dict[str, Any] = {}
        for module in (elements, selectable, schema, types):  # desc(), func, and_(), Integer...
            namespace.update((name, getattr(module, name)) for name in module.__all__)
        metadata = self.parent.local_table.metadata
        if metadata is not None:
            namespace.update(metadata.tables)
        namespace.update(registry._class_registry)
        if text.isidentifier() and text not in namespace and text in self.parent._props:
            return getattr(self.parent.class_, text)
        try:
            return eval(text, {"__builtins__": {}}, namespace)  # noqa: S307 - SQLAlchemy's rule
        except Exception as error:
            raise InvalidRequestError(
                f"relationship {self._owner_name()}: could not evaluate {text!r} ({error}); "
                f"name a mapped class and attribute, such as \"Child.name\""
            ) from error

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

    @property
    def order_by_clauses(self) -> list[Any]:
        """``order_by=`` as clauses (strings and callables evaluated): how a collection loads."""
        self._resolve()
        return self._order_by_clauses

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
                collection._read_default = True  # not loaded: the flush drops it unchanged
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
            collection._mark_committed()
            value = collection
        elif self.direction != MANYTOONE:  # one-to-one seen from the parent: the child, if any
            value = value[0] if value else None
        d[self.key] = value
        return value

    def _loaded_value_before_change(self, obj: Any, state: Any) -> Any:
        """The current value before an assignment replaces it.  A persistent object's unloaded
        collection (or one-to-one child) is loaded first, without autoflush, as SQLAlchemy
        does: the flush must know which children lost their parent."""
        d = obj.__dict__
        if self.key in d or state.key is None or state.session is None or self.direction == MANYTOONE:
            return d.get(self.key)
        with state.session.no_autoflush:
            return getattr(obj, self.key)

    @property
    def reverse_property(self) -> "RelationshipProperty | None":
        """The relationship named by ``back_populates`` (on the target class), or None."""
        if not self.back_populates:
            return None
        self._resolve()
        return self._target_mapper._props[self.back_populates]

    # -- setting ---------------------------------------------------------------------------------

    def _set(self, obj: Any, value: Any) -> None:
        self._resolve()
        instrumentation = _accel.instrumentation
        state = instrumentation.instance_state(obj)
        d = obj.__dict__
        if self.uselist:
            for item in value or ():
                _check_cascade_target(state, item, self)
            old = self._loaded_value_before_change(obj, state)
            _record_committed_members(state, self.key, old)
            new = InstrumentedList(obj, self)
            if isinstance(old, InstrumentedList):
                new._committed = old._committed
                new._removed = list(old._removed)
            d[self.key] = new
            if old is not None:
                for item in list(old):
                    new._removed_item(item)
            for item in value or ():
                new.append(item)
            return
        if self.direction == ONETOMANY:
            self._set_one_to_one_child(obj, state, value)
            return
        old = d.get(self.key)
        if self.key not in d and state.key is not None and self.back_populates:
            # its collection loses obj, loaded or not; an expired foreign key is not loaded
            # for it (no SQL, no autoflush: SQLAlchemy's set does not fetch the old value)
            old = _held_reference(state, self.key)
        if value is not None and value is not old:
            _check_cascade_target(state, value, self)  # a refused assignment changes nothing
        elif value is not None:
            _check_not_marked(state, value, self)  # the same object again: refused all the same
        _record_committed_reference(state, self.key)
        d[self.key] = value
        _touch(state)
        reverse = self.reverse_property
        if reverse is not None and not reverse.uselist:
            _set_one_to_one_reverse(self, obj, old, value)
        elif reverse is not None:
            # the other side's collection changes (when loaded); either way its owner counts
            # as changed (session.dirty), as in SQLAlchemy
            if old is not None and old is not value:
                old_collection = old.__dict__.get(self.back_populates)
                if isinstance(old_collection, InstrumentedList) and _contains(old_collection, obj):
                    old_collection._before_change()
                    list.remove(old_collection, obj)
                    old_collection._removed.append(obj)
                _touch(instrumentation.instance_state(old))
            if value is not None and value is not old:
                collection = value.__dict__.get(self.back_populates)
                if collection is None and instrumentation.instance_state(value).key is None:
                    collection = getattr(value, self.back_populates)
                if isinstance(collection, InstrumentedList) and not _contains(collection, obj):
                    collection._before_change()
                    list.append(collection, obj)
                    collection._back_in(obj)  # no longer a removal (differential seed 73)
                _touch(instrumentation.instance_state(value))
        if value is not None and value is not old:
            # the object it already holds again: no cascade, as in SQLAlchemy (a transient user
            # the backref set it to stays out of the session: differential seed 71)
            _cascade_add(state, value, self)

    def _set_one_to_one_child(self, obj: Any, state: Any, value: Any) -> None:
        """``person.passport = passport`` (a one-to-many with ``uselist=False``): the old child,
        if any, is remembered for the flush (its foreign key cleared, or with delete-orphan
        the child deleted), and ``passport.person`` follows."""
        instrumentation = _accel.instrumentation
        old = self._loaded_value_before_change(obj, state)
        obj.__dict__[self.key] = value
        _touch(state)
        back = self.back_populates
        if old is not None and old is not value:
            _replaced_children.add(obj, self.key, old)
            if back and old.__dict__.get(back) is obj:
                old.__dict__[back] = None
            _touch(instrumentation.instance_state(old))
        if value is not None:
            _replaced_children.discard(obj, self.key, value)
            if back:
                previous = value.__dict__.get(back)
                if previous is not None and previous is not obj and previous.__dict__.get(self.key) is value:
                    previous.__dict__[self.key] = None
                    _touch(instrumentation.instance_state(previous))
                value.__dict__[back] = obj
            _touch(instrumentation.instance_state(value))
            _cascade_add(state, value, self)

    def __repr__(self) -> str:
        owner = self.parent.class_.__name__ if self.parent is not None else "?"
        return f"<Relationship {owner}.{self.key}>"


def relationship(argument: Any = None, **kwargs: Any) -> RelationshipProperty:
    """Declare a relationship: ``relationship(back_populates="user")``,
    ``relationship("Address", cascade="all, delete-orphan")``."""
    return RelationshipProperty(argument, **kwargs)


def configure_mappers() -> None:
    """Configure every relationship of every registry now (they configure themselves at first
    use anyway): a configuration mistake is raised here, naming the class and attribute."""
    from minialchemy.orm.decl_api import registry

    for reg in list(registry._all):
        reg.configure()


def _as_column(item: Any) -> Column:
    """A Column from what a ``remote_side`` / ``foreign_keys`` list may hold: a Column, a class
    attribute (``Node.id``) or, inside the class body, the ``mapped_column()`` itself."""
    if isinstance(item, Column):
        return item
    column = getattr(item, "column", None)  # a MappedColumn once its class is mapped
    if isinstance(column, Column):
        return column
    clause = getattr(item, "__clause_element__", None)
    if clause is not None:
        return clause()
    raise ArgumentError(f"expected a column or mapped attribute, got {item!r}")


def _column_names(columns: Iterable[Column]) -> str:
    return "[" + ", ".join(f"{c.table.name}.{c.name}" for c in columns) + "]"


def _fk_names(pairs: Iterable[tuple[Column, Column]]) -> str:
    return ", ".join(f"{many.table.name}.{many.name} -> {one.table.name}.{one.name}" for one, many in pairs)


def _similar(a: str, b: str) -> bool:
    """Close enough to be a typo (``usr`` for ``user``)."""
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.6


def _contains(items: Iterable[Any], obj: Any) -> bool:
    return any(item is obj for item in items)


def _set_one_to_one_reverse(prop: RelationshipProperty, obj: Any, old: Any, value: Any) -> None:
    """``passport.person = sandy`` where ``Person.passport`` is one-to-one: ``sandy.passport``
    becomes ``passport`` (the passport it replaces is remembered for the flush, as when the
    parent side is assigned), and the old person's ``passport`` is cleared."""
    instrumentation = _accel.instrumentation
    back = prop.back_populates
    if old is not None and old is not value and old.__dict__.get(back) is obj:
        old.__dict__[back] = None
        _replaced_children.add(old, back, obj)
        _touch(instrumentation.instance_state(old))
    if value is not None:
        previous = value.__dict__.get(back)
        if previous is not obj:
            if previous is not None:
                _replaced_children.add(value, back, previous)
            value.__dict__[back] = obj
            _replaced_children.discard(value, back, obj)
            _touch(instrumentation.instance_state(value))


class _ReplacedChildren:
    """One-to-one children replaced (or set to None) since the last flush, per parent object
    and attribute: the flush clears their foreign key, or deletes them (delete-orphan).  The
    scalar counterpart of :attr:`InstrumentedList._removed`.  Keyed by ``id(parent)`` with a
    weak reference, so a parent that goes away takes its entry with it."""

    def __init__(self) -> None:
        self._by_parent: dict[int, tuple[Any, dict[str, list[Any]]]] = {}

    def add(self, parent: Any, key: str, child: Any) -> None:
        entry = self._by_parent.get(id(parent))
        if entry is None:
            ident = id(parent)
            ref = weak_ref(parent, lambda _ref, ident=ident: self._by_parent.pop(ident, None))
            entry = self._by_parent[ident] = (ref, {})
        children = entry[1].setdefault(key, [])
        if not _contains(children, child):
            children.append(child)

    def discard(self, parent: Any, key: str, child: Any) -> None:
        entry = self._by_parent.get(id(parent))
        if entry is not None and key in entry[1]:
            entry[1][key] = [c for c in entry[1][key] if c is not child]

    def of(self, parent: Any, key: str) -> list[Any]:
        """The children replaced under ``parent.<key>`` since the last flush."""
        entry = self._by_parent.get(id(parent))
        return list(entry[1].get(key, ())) if entry is not None else []

    def clear(self, parent: Any) -> None:
        self._by_parent.pop(id(parent), None)


_replaced_children = _ReplacedChildren()


def replaced_children(parent: Any, key: str) -> list[Any]:
    """One-to-one children replaced under ``parent.<key>`` since the last flush."""
    return _replaced_children.of(parent, key)


def is_read_default(value: Any) -> bool:
    """Whether ``value`` is the empty list a read of a new object's collection gave, unchanged."""
    return isinstance(value, InstrumentedList) and value._read_default


def _add_to_reverse_collection(item: Any, key: str, owner: Any) -> None:
    """Many-to-many ``back_populates``: ``tag.posts`` gains ``post`` when ``post.tags`` gains
    ``tag`` -- if ``tag.posts`` is loaded (or ``tag`` is new); an unloaded collection will
    load it from the association rows after the flush."""
    instrumentation = _accel.instrumentation
    collection = item.__dict__.get(key)
    if collection is None and instrumentation.instance_state(item).key is None:
        collection = getattr(item, key)
    if isinstance(collection, InstrumentedList) and not _contains(collection, owner):
        collection._before_change()
        list.append(collection, owner)
        _touch(instrumentation.instance_state(item))


def _remove_from_reverse_collection(item: Any, key: str, owner: Any) -> None:
    collection = item.__dict__.get(key)
    if isinstance(collection, InstrumentedList):
        for index, existing in enumerate(collection):
            if existing is owner:
                collection._before_change()
                list.__delitem__(collection, index)
                _touch(_accel.instrumentation.instance_state(item))
                return


def _record_committed_reference(state: Any, key: str) -> None:
    """Before the first change of a many-to-one reference of a persistent object since it was
    loaded or flushed: remember the loaded one (NO_VALUE if it was not loaded), for its history
    (:mod:`minialchemy.orm.attributes`).  A target found expired in the identity map does not
    count as known, as in SQLAlchemy (it is not taken without SQL): setting the reference to
    it is then a change.

    An object not in the database yet records what it holds too, as SQLAlchemy does: nothing
    (NO_VALUE) on its first set, but what a flush left in it when a rollback made it transient
    again (the flush started its history again): ``add()``'s cascade still reaches the user an
    address left since (differential seed 28)."""
    committed = state.committed_state
    if key in committed:
        return
    d = state.dict
    if key in d or state.key is None:
        committed[key] = d.get(key, _accel.instrumentation.NO_VALUE)
        return
    found = _reference_in_identity_map(state, key, against_committed=True)
    if found is not None and found is not _accel.instrumentation.NO_VALUE:
        if _accel.instrumentation.instance_state(found).expired:
            found = _accel.instrumentation.NO_VALUE
    committed[key] = found


def _held_reference(state: Any, key: str) -> Any:
    """The object a many-to-one that is not loaded refers to, when the session holds it
    (found by the foreign key in the identity map, without SQL: an expired foreign key is not
    loaded for it, as SQLAlchemy's set and backref events do not fetch); else None."""
    if state.session_id is None:
        return None
    found = _reference_in_identity_map(state, key, against_committed=True)
    if found is _accel.instrumentation.NO_VALUE or found is None:
        return None
    if _accel.instrumentation.instance_state(found).expired_attributes:
        return None  # an expired object does not count as known, as in SQLAlchemy
    return found


def _reference_in_identity_map(state: Any, key: str, against_committed: bool = False) -> Any:
    """The object a many-to-one that is not loaded refers to, if its foreign key is loaded and
    the target is in the identity map (no SQL); None for a NULL foreign key; else NO_VALUE.

    ``against_committed``: by the foreign key as it was before any change since the last load
    or flush, as SQLAlchemy finds the old value when the reference is set: a key set while
    expired counts as None there (SQLAlchemy's committed value of an unknown one; differential
    seed 43), a key changed since counts as the one it replaced."""
    no_value = _accel.instrumentation.NO_VALUE
    prop = state.mapper._props[key]
    prop._resolve()
    d = state.dict
    target = prop.mapper
    pairs = prop.fk_attr_keys()
    committed = state.committed_state if against_committed else {}
    values = {}
    for one, many in pairs:
        if many in committed:
            value = committed[many]
            values[one] = None if value is no_value else value
        elif many in d:
            values[one] = d[many]
        else:
            return no_value
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
    members (none for a collection not loaded), for its history.  An object not in the database
    yet remembers them too: none on a new object, those a rolled-back flush left in it after a
    rollback made it transient again (SQLAlchemy's cascade still reaches one removed since)."""
    committed = state.committed_state
    if key not in committed:
        committed[key] = list(members) if members is not None else []


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
        session._check_not_deleted(owner_state.obj(), owner_state)  # either side: docs/differences.md
        session._check_cascade_target(target)


def _check_not_marked(owner_state: Any, target: Any, prop: RelationshipProperty) -> None:
    """``address.user = user`` when ``address.user`` is ``user`` already: refused all the same
    when either object is marked for deletion, or the owner is deleted (docs/differences.md)."""
    if "save-update" not in prop.cascade or owner_state.session_id is None:
        return
    session = owner_state.session
    if session is not None:
        session._check_not_deleted(owner_state.obj(), owner_state)
        target_state = _accel.instrumentation.instance_state(target)
        if target_state.session_id == session.hash_key and not target_state.deleted_flag:
            session._check_not_deleted(target, target_state)


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
    """A one-to-many or many-to-many collection: a list that keeps the other side
    (``back_populates``), the session (save-update cascade) and the flush (removed children;
    for a many-to-many, what it held when last loaded or flushed) informed."""

    __slots__ = ("_owner", "_prop", "_removed", "_committed", "_read_default")

    def __init__(self, owner: Any, prop: RelationshipProperty, items: Iterable[Any] = ()) -> None:
        super().__init__()
        self._owner = weak_ref(owner)
        self._prop = prop
        #: children removed since the last flush (their foreign key is cleared, or with
        #: delete-orphan they are deleted)
        self._removed: list[Any] = []
        #: many-to-many only: the members when last loaded or flushed; the flush inserts an
        #: association row for each member added since, and deletes one for each member gone
        self._committed: tuple[Any, ...] | None = () if getattr(prop, "direction", None) == MANYTOMANY else None
        #: the empty list a read of a new object's collection gave, not changed since: it
        #: stands for "nothing yet", not for a loaded collection (as in SQLAlchemy), so the
        #: flush that INSERTs the owner drops it (the next read loads from the database) and the owner does not count as modified for it
        self._read_default = False
        for item in items:
            self.append(item)

    def _mark_committed(self) -> None:
        """The members are what the database holds now (after a load or a flush)."""
        if self._committed is not None:
            self._committed = tuple(self)
        self._removed.clear()

    # events ----------------------------------------------------------------------------------

    def _before_change(self) -> None:
        """Called before each change: the first one since load or flush records the members
        (``inspect(user).attrs.addresses.history`` compares with them)."""
        owner = self._owner()
        if owner is not None:
            if self._read_default:
                # the first change makes it the owner's collection (again, if a flush dropped it)
                self._read_default = False
                owner.__dict__.setdefault(self._prop.key, self)
            _record_committed_members(_accel.instrumentation.instance_state(owner), self._prop.key, self)

    def _back_in(self, item: Any) -> None:
        """``item`` is a member again: a removal of it since the last flush no longer counts."""
        self._removed = [r for r in self._removed if r is not item]

    def _added_item(self, item: Any) -> None:
        owner = self._owner()
        if owner is None:
            return
        instrumentation = _accel.instrumentation
        prop = self._prop
        self._back_in(item)
        item_state = instrumentation.instance_state(item)
        owner_state = instrumentation.instance_state(owner)
        _cascade_add(owner_state, item, prop)  # first: a re-attached item's old parent is then found
        if prop.back_populates and prop.direction == MANYTOMANY:
            _add_to_reverse_collection(item, prop.back_populates, owner)
        elif prop.back_populates:
            previous = item.__dict__.get(prop.back_populates)
            if previous is None and item_state.key is not None and prop.back_populates not in item.__dict__:
                previous = _held_reference(item_state, prop.back_populates)  # no SQL on a backref
            if previous is not None and previous is not owner:
                other = previous.__dict__.get(prop.key)
                if isinstance(other, InstrumentedList) and _contains(other, item):
                    other._before_change()
                    list.remove(other, item)
                    other._removed.append(item)  # a net change of the previous owner (is_modified)
                _touch(instrumentation.instance_state(previous))  # it lost a member (session.dirty)
            _record_committed_reference(item_state, prop.back_populates)
            item.__dict__[prop.back_populates] = owner
        _touch(item_state)
        _touch(owner_state)

    def _removed_item(self, item: Any) -> None:
        owner = self._owner()
        if owner is None:
            return
        instrumentation = _accel.instrumentation
        prop = self._prop
        if prop.back_populates and prop.direction == MANYTOMANY:
            _remove_from_reverse_collection(item, prop.back_populates, owner)
        elif prop.back_populates and item.__dict__.get(prop.back_populates, owner) is owner:
            # (not loaded: it refers to the owner all the same, and now to nothing)
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
