"""The Mapper: which class maps to which table, attribute by attribute (Fowler's Data Mapper).

A :class:`Mapper` is an object of its own, reachable as ``inspect(User)`` or
``User.__mapper__``: the class stays a plain Python class with descriptors installed on it, and
everything about the mapping (columns, primary key, relationships) lives here.  Declarative
classes (:mod:`minialchemy.orm.decl_api`) are sugar over ``registry.map_imperatively``, which
builds a Mapper for any class.

Where it sits: built at class creation; read by the session, the loader and the unit of work.
"""

from __future__ import annotations

from minialchemy import _accel
from minialchemy.exc import ArgumentError, InvalidRequestError
from minialchemy.inspection import _inspects
from minialchemy.orm.base import Generic, TypeVar  # typing's, or run-time stand-ins (see there)
from minialchemy.sql.elements import ColumnElement, ColumnOperators
from minialchemy.sql.schema import Column, Table

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Iterator

__all__ = ["Mapper", "ColumnProperty", "QueryableAttribute", "AttributeStates"]


_T = TypeVar("_T")


class QueryableAttribute(ColumnOperators, Generic[_T]):
    """What ``User.name`` is on the class: a column you can compare (``User.name == "sandy"``),
    that knows which class and attribute it came from.  ``QueryableAttribute[str]`` for type
    checkers (``Mapped[str]`` on the class, :mod:`minialchemy.orm.base`)."""

    __slots__ = ("class_", "key", "property", "_column")

    def __init__(self, class_: type, key: str, prop: "ColumnProperty") -> None:
        self.class_ = class_
        self.key = key
        self.property = prop
        self._column = prop.column

    def __clause_element__(self) -> Column:
        return self._column

    @property
    def expression(self) -> Column:
        return self._column

    @property
    def type(self) -> Any:
        return self._column.type

    def _operate(self, op: Any, other: Any) -> ColumnElement:
        return self._column._operate(op, other)

    def _reverse_operate(self, op: Any, other: Any) -> ColumnElement:
        return self._column._reverse_operate(op, other)

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<{self.class_.__name__}.{self.key}>"

    def __str__(self) -> str:
        return f"{self.class_.__name__}.{self.key}"

    if TYPE_CHECKING:  # a relationship on the class (User.addresses, also a Mapped[...]) has these

        def any(self, criterion: Any = None, **kwargs: Any) -> Any: ...

        def has(self, criterion: Any = None, **kwargs: Any) -> Any: ...

        def of_type(self, entity: Any) -> Any: ...


class ColumnProperty:
    """A mapped column attribute: attribute key <-> table column."""

    is_relationship = False

    def __init__(self, key: str, column: Column) -> None:
        self.key = key
        self.column = column
        self.columns = [column]
        self.parent: Mapper | None = None

    def __repr__(self) -> str:
        return f"ColumnProperty({self.key!r} -> {self.column})"


class _Properties:
    """A read-only, ordered view of mapper properties: by key, by attribute, iterable."""

    def __init__(self, props: dict[str, Any]) -> None:
        self._props = props

    def __getitem__(self, key: str) -> Any:
        return self._props[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._props[key]
        except KeyError:
            raise AttributeError(key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._props

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._props.values()))

    def __len__(self) -> int:
        return len(self._props)

    def keys(self) -> list[str]:
        return list(self._props)

    def values(self) -> list[Any]:
        return list(self._props.values())

    def items(self) -> list[tuple[str, Any]]:
        return list(self._props.items())

    def __repr__(self) -> str:
        return f"<Properties {list(self._props)}>"


class Mapper:
    """The mapping of ``class_`` to ``local_table``.

    Attributes a learner can read: ``class_``, ``local_table``, ``columns``, ``primary_key``,
    ``attrs`` (every mapped attribute), ``column_attrs``, ``relationships``.
    """

    def __init__(self, class_: type, local_table: Table, properties: dict[str, Any] | None, registry: Any) -> None:
        if not isinstance(local_table, Table):
            raise ArgumentError(f"Mapper for {class_.__name__} needs a Table, got {local_table!r}")
        pk = list(local_table.primary_key.columns)
        if not pk:
            raise ArgumentError(
                f"Mapper Mapper[{class_.__name__}({local_table.name})] could not assemble any "
                f"primary key columns for mapped table '{local_table.name}' "
                f"(give one column primary_key=True)"
            )
        self.class_ = class_
        self.local_table = local_table
        self.persist_selectable = local_table
        self.registry = registry
        self.primary_key: tuple[Column, ...] = tuple(pk)
        self._props: dict[str, Any] = {}
        properties = dict(properties or {})
        from minialchemy.orm.relationships import RelationshipProperty

        # columns: every table column, under its key unless a property names it otherwise
        column_to_key: dict[int, str] = {}
        for key, prop in properties.items():
            if isinstance(prop, Column):
                column_to_key[id(prop)] = key
            elif isinstance(prop, ColumnProperty):
                column_to_key[id(prop.column)] = key
        for column in local_table.columns:
            key = column_to_key.get(id(column), column.key)
            self._props[key] = ColumnProperty(key, column)
        for key, prop in properties.items():
            if isinstance(prop, RelationshipProperty):
                prop.key = key
                self._props[key] = prop
            elif not isinstance(prop, (Column, ColumnProperty)):
                raise ArgumentError(f"Property {key!r} of {class_.__name__} is not a column or relationship: {prop!r}")
        for prop in self._props.values():
            prop.parent = self

        self._column_props = [p for p in self._props.values() if not p.is_relationship]
        #: attribute keys of the column attributes, in table column order
        self._column_attr_keys: tuple[str, ...] = tuple(p.key for p in self._column_props)
        self._column_attr_keys_set = frozenset(self._column_attr_keys)
        self._relationship_keys: tuple[str, ...] = tuple(p.key for p in self._props.values() if p.is_relationship)
        self._col_to_attr: dict[Column, str] = {p.column: p.key for p in self._column_props}
        self._pk_attr_keys: tuple[str, ...] = tuple(self._col_to_attr[c] for c in self.primary_key)
        self._pk_positions = tuple(self._column_attr_keys.index(k) for k in self._pk_attr_keys)
        self._sort_key = 0
        self._install()

    # -- installing instrumentation on the class ----------------------------------------------

    def _install(self) -> None:
        """Put the attribute descriptors (and, if needed, a constructor) on the class.

        A class deriving from ``InstrumentedObject`` (every declarative class) gets non-data
        :class:`ColumnAttribute` descriptors: its base class tracks writes, and reads of loaded
        values never call a descriptor.  A plain class (``map_imperatively``) gets
        :class:`PlainClassColumnAttribute` data descriptors, which track writes themselves, and
        the keyword constructor unless it has its own ``__init__``.
        """
        instrumentation = _accel.instrumentation
        cls = self.class_
        instrumented = issubclass(cls, instrumentation.InstrumentedObject)
        descriptor = instrumentation.ColumnAttribute if instrumented else instrumentation.PlainClassColumnAttribute
        for index, prop in enumerate(self._column_props):
            comparator = QueryableAttribute(cls, prop.key, prop)
            setattr(cls, prop.key, descriptor(prop.key, comparator, index))
        for prop in self._props.values():
            if prop.is_relationship:
                prop._install(cls)
        cls.__mapper__ = self  # type: ignore[attr-defined]
        cls.__table__ = self.local_table  # type: ignore[attr-defined]
        if not instrumented and not _has_own_init(cls):
            cls.__init__ = _declarative_constructor  # type: ignore[misc]

    # -- public view ---------------------------------------------------------------------------

    @property
    def attrs(self) -> _Properties:
        """Every mapped attribute (columns and relationships), in order."""
        return _Properties(self._props)

    @property
    def column_attrs(self) -> _Properties:
        return _Properties({p.key: p for p in self._column_props})

    @property
    def relationships(self) -> _Properties:
        return _Properties({p.key: p for p in self._props.values() if p.is_relationship})

    @property
    def columns(self) -> Any:
        """The mapped columns, by attribute key (``inspect(User).columns.name``)."""
        from minialchemy.sql.schema import ColumnCollection

        collection = ColumnCollection()
        for prop in self._column_props:
            collection._columns[prop.key] = prop.column
        return collection

    c = columns

    @property
    def mapper(self) -> "Mapper":
        return self

    @property
    def entity(self) -> type:
        return self.class_

    def get_property(self, key: str) -> Any:
        try:
            return self._props[key]
        except KeyError:
            raise InvalidRequestError(f"Mapper for {self.class_.__name__} has no property {key!r}") from None

    # -- identity ------------------------------------------------------------------------------

    def identity_key_from_primary_key(self, pk: tuple[Any, ...]) -> tuple[Any, ...]:
        """The identity-map key of the row with primary key ``pk``: ``(User, (4,), None)``."""
        return (self.class_, tuple(pk), None)

    def primary_key_from_instance(self, obj: Any) -> tuple[Any, ...]:
        d = obj.__dict__
        return tuple(d.get(k) for k in self._pk_attr_keys)

    def _normalize_identity(self, ident: Any) -> tuple[Any, ...]:
        """``session.get(User, 4)`` / ``(4,)`` / ``{"id": 4}`` -> ``(4,)``, checking arity."""
        if isinstance(ident, dict):
            try:
                return tuple(ident[k] for k in self._pk_attr_keys)
            except KeyError as missing:
                raise InvalidRequestError(
                    f"Incorrect names of values in identifier formed from a dictionary: "
                    f"{missing} is missing (primary key attributes of {self.class_.__name__}: "
                    f"{', '.join(self._pk_attr_keys)})"
                ) from None
        values = tuple(ident) if isinstance(ident, (tuple, list)) else (ident,)
        if len(values) != len(self.primary_key):
            raise InvalidRequestError(
                f"Incorrect number of values in identifier formed from argument collection: "
                f"{self.class_.__name__} has a primary key of {len(self.primary_key)} column(s) "
                f"({', '.join(self._pk_attr_keys)}), got {len(values)} value(s): {values!r}"
            )
        return values

    def _state_for(self, obj: Any) -> Any:
        return _accel.instrumentation.instance_state(obj)

    def __clause_element__(self) -> Table:
        """The table this mapper writes and reads: how the SQL layer turns ``select(User)`` or
        ``insert(User)`` into SQL without knowing about mappers (it inspects ``User``, gets
        this mapper through the hook registered below, and asks for its clause element)."""
        return self.local_table

    # -- loading expired attributes -----------------------------------------------------------

    def _load_expired(self, state: Any, key: str) -> None:
        """Reload an object's expired attributes through its session (called by descriptors)."""
        from minialchemy.orm.exc import DetachedInstanceError

        if state.key is not None and self._written_null_by_insert(state, key):
            # in the session or not: the descriptor reads None without SQL, as SQLAlchemy does
            # (its value is known; a SELECT would see any change made behind the session's back)
            return
        session = state.session
        if session is None:
            obj = state.obj()
            raise DetachedInstanceError(
                f"Instance {_instance_str(obj)} is not bound to a Session; attribute refresh "
                f"operation cannot proceed (attribute {key!r}; call session.add(obj) to re-attach "
                f"it, or use Session(expire_on_commit=False) to keep values after commit)"
            )
        if state.key is None:
            from minialchemy.exc import InvalidRequestError

            raise InvalidRequestError(
                f"Instance {_instance_str(state.obj())} cannot be refreshed - it is not persistent "
                f"and does not have a full primary key (attribute {key!r} was expired before a "
                f"rollback() undid its INSERT; set it again)"
            )
        session._load_expired_state(state, key)

    def _written_null_by_insert(self, state: Any, key: str) -> bool:
        """Whether column attribute ``key`` of an object with a row is one its INSERT wrote as
        NULL: never held, not expired, and no server default (the INSERT writes every column
        it has no value for as NULL, except those the database fills).  Its value is known,
        so reading it gives None: no SELECT in the session, no DetachedInstanceError outside
        it (differential seed 15)."""
        if key not in self._column_attr_keys_set:
            return False
        if key in state.expired_attributes:
            return False
        column = self._props[key].column
        return column.server_default is None and not column.is_autoincrement_pk

    def __repr__(self) -> str:
        return f"<Mapper at 0x{id(self):x}; {self.class_.__name__}>"


def _instance_str(obj: Any) -> str:
    """``<User at 0x7f...>``: how errors name an object without calling its ``__repr__`` (which
    could itself touch expired attributes)."""
    if obj is None:
        return "<(collected)>"
    return f"<{type(obj).__name__} at 0x{id(obj):x}>"


def _identity_str(obj: Any) -> str:
    """``User(id=4)``: how the echo log names an object, by class and primary key (its identity
    key's, or the attributes' before its INSERT: ``User(id=None)``)."""
    if obj is None:
        return "<(collected)>"
    mapper = type(obj).__mapper__
    state = obj.__dict__.get(_accel.instrumentation.STATE_KEY)
    if state is not None and state.key is not None:
        values = state.key[1]
    else:
        values = tuple(obj.__dict__.get(key) for key in mapper._pk_attr_keys)
    shown = ", ".join(f"{key}={value!r}" for key, value in zip(mapper._pk_attr_keys, values))
    return f"{type(obj).__name__}({shown})"


def _has_own_init(cls: type) -> bool:
    """True if the class (or a non-mapping base) defines ``__init__`` itself."""
    for klass in cls.__mro__:
        if klass is object:
            return False
        init = klass.__dict__.get("__init__")
        if init is not None:
            return init is not _declarative_constructor
    return False


def _declarative_constructor(self: Any, **kwargs: Any) -> None:
    """The ``__init__`` given to a plain mapped class: keyword arguments named after attributes
    (``InstrumentedObject.__init__`` is the same constructor for declarative classes)."""
    cls = type(self)
    for key, value in kwargs.items():
        if not hasattr(cls, key):
            raise TypeError(f"{key!r} is an invalid keyword argument for {cls.__name__}")
        setattr(self, key, value)


_declarative_constructor.__name__ = "__init__"


class AttributeState:
    """``inspect(obj).attrs.name``: one attribute's value and history."""

    def __init__(self, state: Any, key: str) -> None:
        self.state = state
        self.key = key

    @property
    def value(self) -> Any:
        return getattr(self.state.obj(), self.key)

    @property
    def loaded_value(self) -> Any:
        return self.state.dict.get(self.key, _accel.instrumentation.NO_VALUE)

    @property
    def history(self) -> Any:
        """``History(added, unchanged, deleted)`` of this attribute (:mod:`minialchemy.orm.attributes`)."""
        from minialchemy.orm.attributes import attribute_history

        return attribute_history(self.state, self.key)


class AttributeStates:
    """``inspect(obj).attrs``: attribute states by key."""

    def __init__(self, state: Any) -> None:
        self._state = state

    def __getattr__(self, key: str) -> AttributeState:
        if key not in self._state.mapper.attrs:
            raise AttributeError(key)
        return AttributeState(self._state, key)

    __getitem__ = __getattr__

    def keys(self) -> list[str]:
        return self._state.mapper.attrs.keys()


def class_mapper(cls: type) -> Mapper:
    """The mapper of a mapped class, or a clear error for an unmapped one."""
    mapper = getattr(cls, "__mapper__", None)
    if mapper is None:
        from minialchemy.orm.exc import UnmappedClassError

        raise UnmappedClassError(f"Class {cls.__module__}.{cls.__name__} is not mapped")
    return mapper


def object_mapper(obj: Any) -> Mapper:
    """The mapper of a mapped object's class, or a clear error for an unmapped object."""
    mapper = getattr(type(obj), "__mapper__", None)
    if mapper is None:
        from minialchemy.orm.exc import UnmappedInstanceError

        raise UnmappedInstanceError(
            f"Class {type(obj).__module__}.{type(obj).__name__} is not mapped; "
            f"{object.__repr__(obj)} cannot be used with a Session"
        )
    return mapper



# -- inspect(): what the ORM registers (see minialchemy.inspection) -----------------------------


@_inspects(type)
def _inspect_class(cls: type) -> Mapper | None:
    """``inspect(User)``: the class's mapper (None for a class that is not mapped)."""
    mapper = cls.__dict__.get("__mapper__") or getattr(cls, "__mapper__", None)
    return mapper if isinstance(mapper, Mapper) else None


@_inspects(Mapper)
def _inspect_mapper(mapper: Mapper) -> Mapper:
    """``inspect(mapper)``: a mapper inspects to itself."""
    return mapper


@_inspects(object)
def _inspect_instance(obj: Any) -> Any:
    """``inspect(user)``: the object's InstanceState (None for an object of an unmapped class).

    An object of a mapped class is asked for its state without reading its ``__dict__``: the
    compiled twin finds it in a C field, so inspecting a loaded object leaves it without a
    dict (docs/how_it_works.md, "Where a loaded object's bytes go")."""
    mapper = getattr(type(obj), "__mapper__", None)
    if isinstance(mapper, Mapper):
        return mapper._state_for(obj)
    d = getattr(obj, "__dict__", None)
    return d.get(_accel.instrumentation.STATE_KEY) if d is not None else None
