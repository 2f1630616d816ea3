"""Declarative mapping: ``class User(Base)`` with ``Mapped[...]`` annotations.

Declarative is sugar.  For each subclass of your ``Base`` that names a ``__tablename__``, it
reads the class body -- ``id: Mapped[int] = mapped_column(primary_key=True)``,
``fullname: Mapped[Optional[str]]``, ``addresses: Mapped[List["Address"]] = relationship()`` --
builds a :class:`~minialchemy.sql.schema.Table` from it, and hands class and table to
:meth:`registry.map_imperatively`, exactly what you could write by hand for a plain class.

The annotation decides what a bare attribute means: ``Mapped[int]`` is an INTEGER column that
is NOT NULL, ``Mapped[Optional[str]]`` a nullable VARCHAR, ``Mapped[List["Address"]]`` (with
``relationship()``) a one-to-many collection.

Where it sits: runs once per class, at class creation; produces a Mapper.
"""

from __future__ import annotations

import datetime
import sys
import types

from minialchemy import _accel
from minialchemy.exc import ArgumentError, InvalidRequestError
from minialchemy.orm.base import Mapped, TypeVar  # TypeVar: typing's, or a run-time stand-in (see there)
from minialchemy.orm.mapper import Mapper
from minialchemy.orm.relationships import RelationshipProperty, relationship
from minialchemy.orm.weakmaps import WeakIdentitySet
from minialchemy.sql import types as sqltypes
from minialchemy.sql.schema import Column, ForeignKey, MetaData, Table

__all__ = ["DeclarativeBase", "Mapped", "mapped_column", "registry", "relationship", "MappedColumn", "default_repr"]

T = TypeVar("T")

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # the active twin's class, as a type checker can see it; typing for annotations only
    from typing import Any

    from minialchemy.orm.instrumentation import InstrumentedObject as _InstrumentedObject
else:
    _InstrumentedObject = _accel.instrumentation.InstrumentedObject


class MappedColumn(Mapped[T]):
    """What ``mapped_column(...)`` returns: the arguments of a Column still waiting for the
    attribute's name and annotation to be complete.  A ``Mapped`` for type checkers, so that
    ``id: Mapped[int] = mapped_column(primary_key=True)`` checks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        args_list = list(args)
        self.name = args_list.pop(0) if args_list and isinstance(args_list[0], str) else None
        self.type: Any = None
        self.foreign_keys: list[ForeignKey] = []
        for arg in args_list:
            if isinstance(arg, ForeignKey):
                self.foreign_keys.append(arg)
            elif isinstance(arg, sqltypes.TypeEngine) or (isinstance(arg, type) and issubclass(arg, sqltypes.TypeEngine)):
                self.type = sqltypes.to_instance(arg)
            else:
                raise ArgumentError(f"mapped_column() got an unexpected positional argument {arg!r}")
        # dataclass-style options are accepted and have no effect here
        for ignored in ("init", "repr", "compare", "kw_only", "default_factory", "sort_order", "insert_default"):
            value = kwargs.pop(ignored, None)
            if ignored in ("default_factory", "insert_default") and value is not None:
                kwargs.setdefault("default", value)
        self.kwargs = kwargs

    def build_column(self, key: str, annotation_nullable: bool | None, annotation_type: Any) -> Column:
        kwargs = dict(self.kwargs)
        if "nullable" not in kwargs and not kwargs.get("primary_key") and annotation_nullable is not None:
            kwargs["nullable"] = annotation_nullable
        type_ = self.type if self.type is not None else annotation_type
        args: list[Any] = [self.name or key]
        if type_ is not None:
            args.append(type_)
        args.extend(fk.copy() for fk in self.foreign_keys)
        # mapped_column("select"): the column is named (and keyed, in table.c) "select"; the
        # mapper still maps it to the attribute ``key``
        #: the Column built (``relationship(remote_side=[id])`` in the class body names this)
        self.column = Column(*args, key=key if self.name is None else self.name, **kwargs)
        return self.column


def mapped_column(*args: Any, **kwargs: Any) -> MappedColumn[Any]:
    """Declare a mapped column: ``mapped_column(String(30), primary_key=True)``,
    ``mapped_column("select")`` (a column name that differs from the attribute),
    ``mapped_column(ForeignKey("user_account.id"))``.  Nullability follows the annotation
    (``Optional[...]`` is nullable) unless ``nullable=`` is given."""
    return MappedColumn(*args, **kwargs)


_PYTHON_TYPES: dict[Any, type[sqltypes.TypeEngine]] = {
    int: sqltypes.Integer,
    str: sqltypes.String,
    float: sqltypes.Float,
    bool: sqltypes.Boolean,
    datetime.datetime: sqltypes.DateTime,
    datetime.date: sqltypes.Date,
}
_TYPE_NAMES = {"int": int, "str": str, "float": float, "bool": bool, "datetime": datetime.datetime,
               "datetime.datetime": datetime.datetime, "date": datetime.date, "datetime.date": datetime.date}


class _Annotation:
    """What a ``Mapped[...]`` annotation says: the inner type (a Python type, a class, or a
    class name still to resolve), whether it is Optional, whether it is a collection."""

    def __init__(self, inner: Any, optional: bool, collection: bool) -> None:
        self.inner = inner
        self.optional = optional
        self.collection = collection


def _parse_annotation(annotation: Any, cls: type) -> _Annotation | None:
    if isinstance(annotation, str):
        return _parse_annotation_text(annotation, cls)
    if _origin(annotation) is not Mapped:
        return None
    return _analyse_inner(_args(annotation)[0])


# ``typing.get_origin``/``get_args``, read from the attributes they read: ``Mapped[int]`` (a
# ``types.GenericAlias``) is understood without importing typing (issue 12)
def _origin(annotation: Any) -> Any:
    """``list`` for ``list[int]`` or ``List[int]``, ``Mapped`` for ``Mapped[int]``; else None."""
    return getattr(annotation, "__origin__", None)


def _args(annotation: Any) -> tuple[Any, ...]:
    """``(int,)`` for ``list[int]``; ``()`` for a bare ``List``."""
    return getattr(annotation, "__args__", ())


def _is_union(annotation: Any) -> bool:
    """``X | None`` (a ``types.UnionType``) or ``Optional[X]``/``Union[...]`` (typing's: then
    the annotation's author imported typing, and it is in ``sys.modules``)."""
    typing = sys.modules.get("typing")
    return isinstance(annotation, types.UnionType) or (
        typing is not None and _origin(annotation) is typing.Union
    )


def _analyse_inner(inner: Any) -> _Annotation:
    optional = False
    if _is_union(inner):
        members = [a for a in _args(inner) if a is not type(None)]
        optional = len(members) < len(_args(inner))
        inner = members[0] if len(members) == 1 else inner
    collection = False
    if _origin(inner) in (list, set):  # also typing's List[X] and Set[X]
        collection = True
        args = _args(inner)
        inner = args[0] if args else object  # a bare ``List``: objects of any class
    inner = getattr(inner, "__forward_arg__", inner)  # typing.ForwardRef("Address"): the class name
    return _Annotation(inner, optional, collection)


# regular expressions as text, compiled (and cached) by ``re`` on first use: only string
# annotations need them, and importing re costs more than most modules here (issue 12)
_MAPPED_TEXT = r"(?s)^\s*(?:[\w.]+\.)?Mapped\[(.*)\]\s*$"
_OPTIONAL_TEXT = r"(?s)^(?:[\w.]+\.)?Optional\[(.*)\]$"
_COLLECTION_TEXT = r"(?s)^(?:[\w.]+\.)?(?:List|list|Set|set)\[(.*)\]$"


def _parse_annotation_text(text: str, cls: type) -> _Annotation | None:
    """A string annotation (``from __future__ import annotations`` or a forward reference):
    evaluate it if every name is known, else read it as text."""
    import re  # deferred: see _MAPPED_TEXT

    match = re.match(_MAPPED_TEXT, text)
    if match is None:
        return None
    namespace = dict(vars(sys.modules.get(cls.__module__, types.ModuleType("_"))))
    namespace["Mapped"] = Mapped
    if "Optional" in text or "typing" in text:
        import typing  # deferred: only an annotation naming it needs typing (issue 12)

        namespace.update({"Optional": typing.Optional, "typing": typing})
    try:
        return _parse_annotation(eval(text, namespace, dict(vars(cls))), cls)  # noqa: S307 - the class's own annotation
    except Exception:  # a name defined later (a forward reference): read the text instead
        pass
    inner = match.group(1).strip()
    optional = False
    opt = re.match(_OPTIONAL_TEXT, inner)
    if opt:
        inner, optional = opt.group(1).strip(), True
    elif "|" in inner:
        parts = [p.strip() for p in inner.split("|")]
        if "None" in parts:
            optional = True
            parts.remove("None")
            inner = parts[0]
    collection = False
    coll = re.match(_COLLECTION_TEXT, inner)
    if coll:
        inner, collection = coll.group(1).strip(), True
    inner = inner.strip("'\"")
    return _Annotation(_TYPE_NAMES.get(inner, inner), optional, collection)


def _sql_type_for(python_type: Any, type_map: dict[Any, Any]) -> Any:
    if python_type in type_map:
        return sqltypes.to_instance(type_map[python_type])
    sql_type = _PYTHON_TYPES.get(python_type)
    return sql_type() if sql_type is not None else None


class registry:  # noqa: N801 - SQLAlchemy's name
    """Holds mapped classes (by name, for string references like ``relationship("Address")``)
    and their MetaData; ``map_imperatively`` maps any plain class to a Table."""

    def __init__(self, metadata: MetaData | None = None, type_annotation_map: dict[Any, Any] | None = None) -> None:
        self.metadata = metadata if metadata is not None else MetaData()
        self.type_annotation_map = dict(type_annotation_map or {})
        self._class_registry: dict[str, type] = {}
        self.mappers: list[Mapper] = []
        #: mappers whose relationships are not configured yet (see :meth:`configure`)
        self._unconfigured: list[Mapper] = []
        registry._all.add(self)

    #: every live registry, for ``configure_mappers()``
    _all: "WeakIdentitySet" = WeakIdentitySet()

    def configure(self, cascade: bool = False) -> None:
        """Configure the relationships of the classes mapped so far: target class, direction,
        join columns, ``secondary``, ``remote_side``, ``back_populates``.  Runs by itself at
        the first use of any relationship; a mistake raises here, naming class, attribute and
        fix (and raises again at the next use until it is fixed)."""
        while self._unconfigured:
            mapper = self._unconfigured[0]
            for key in mapper._relationship_keys:
                prop = mapper._props[key]
                if not prop._resolved:
                    prop._setup()
            self._unconfigured.pop(0)

    def map_imperatively(self, class_: type, local_table: Table, properties: dict[str, Any] | None = None) -> Mapper:
        """Map ``class_`` to ``local_table``; ``properties`` adds relationships (and renames
        columns: ``{"user_name": table.c.name}``)."""
        if "__mapper__" in class_.__dict__:
            raise ArgumentError(f"Class {class_.__name__} is already mapped")
        mapper = Mapper(class_, local_table, properties, self)
        self._class_registry[class_.__name__] = class_
        self.mappers.append(mapper)
        if mapper._relationship_keys:
            self._unconfigured.append(mapper)
        return mapper

    def _resolve(self, name: str, context: str) -> type:
        try:
            return self._class_registry[name]
        except KeyError:
            raise ArgumentError(
                f"{context}: no mapped class named {name!r} in this registry "
                f"(known: {', '.join(sorted(self._class_registry)) or 'none'})"
            ) from None

    def dispose(self) -> None:
        self._class_registry.clear()
        self.mappers.clear()
        self._unconfigured.clear()


class DeclarativeBase(_InstrumentedObject):
    """Subclass once (``class Base(DeclarativeBase): pass``) to get a ``registry`` and a
    ``metadata``; subclass that again with a ``__tablename__`` to map a class.

    It derives from the active twin's ``InstrumentedObject``, whose ``__setattr__`` tracks
    changes to column attributes and whose ``__init__`` is the keyword constructor
    (``User(name="sandy")``); see :mod:`minialchemy.orm.instrumentation`.
    """

    registry: registry
    metadata: MetaData
    __table__: Table
    __mapper__: Mapper

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if DeclarativeBase in cls.__bases__:
            reg = cls.__dict__.get("registry")
            if not isinstance(reg, registry):
                reg = registry(
                    metadata=cls.__dict__.get("metadata"),
                    type_annotation_map=cls.__dict__.get("type_annotation_map"),
                )
            cls.registry = reg
            cls.metadata = reg.metadata
            return
        if cls.__dict__.get("__abstract__", False):
            return
        if "__tablename__" in cls.__dict__ or "__table__" in cls.__dict__:
            _map_declarative(cls)
        elif getattr(cls, "__mapper__", None) is None:
            raise InvalidRequestError(
                f"Class {cls.__name__} does not have a __table__ or __tablename__ specified and "
                f"does not inherit from an existing table-mapped class: add "
                f"__tablename__ = \"{cls.__name__.lower()}\" to map it to a table, or "
                f"__abstract__ = True if it is a base for other mapped classes"
            )

    def __repr__(self) -> str:
        """``User(id=4, name='squidward', fullname=<expired>)``: the column attributes as they
        are in memory, for classes that define no ``__repr__`` of their own.  It never loads an
        attribute or flushes: an expired value shows as ``<expired>``."""
        return default_repr(self)


def default_repr(obj: Any) -> str:
    """The default ``__repr__`` of a mapped object: each column attribute's value in memory,
    ``<expired>`` for an expired one, ``<not loaded>`` for one never loaded, and ``None`` for
    one never set on an object not yet INSERTed (what reading it would return).  Reads only
    ``__dict__``: no SQL, and safe on a detached or deleted object."""
    mapper = type(obj).__mapper__
    d = obj.__dict__
    state = d.get(_accel.instrumentation.STATE_KEY)
    parts = []
    for key in mapper._column_attr_keys:
        if key in d:
            shown = repr(d[key])
        elif state is not None and key in state.expired_attributes:
            shown = "<expired>"
        elif state is not None and state.key is not None:
            shown = "<not loaded>"
        else:
            shown = "None"
        parts.append(f"{key}={shown}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def _ordered_members(cls: type, annotations: dict[str, Any]) -> list[str]:
    """Attribute names in definition order: annotations keep their order, and an assignment
    without an annotation (``user_id = mapped_column(...)``) goes where it was written."""
    body = [k for k, v in cls.__dict__.items() if isinstance(v, (MappedColumn, Column, RelationshipProperty))]
    order: list[str] = []
    for key in annotations:
        if key in body:
            for earlier in body[: body.index(key)]:
                if earlier not in annotations and earlier not in order:
                    order.append(earlier)
        order.append(key)
    order.extend(k for k in body if k not in order)
    return order


def _map_declarative(cls: type) -> None:
    reg: registry = cls.registry  # type: ignore[attr-defined]
    annotations = cls.__dict__.get("__annotations__", {})
    properties: dict[str, Any] = {}
    columns: list[Column] = []
    explicit_table = cls.__dict__.get("__table__")
    for key in _ordered_members(cls, annotations):
        value = cls.__dict__.get(key)
        parsed = _parse_annotation(annotations[key], cls) if key in annotations else None
        if key in annotations and parsed is None and value is None:
            continue  # a plain (non-Mapped) annotation: not mapped
        if isinstance(value, RelationshipProperty) or (
            value is None and parsed is not None and not _is_python_type(parsed.inner, reg)
        ):
            prop = value if isinstance(value, RelationshipProperty) else relationship()
            if parsed is not None:
                prop._apply_annotation(parsed)
            properties[key] = prop
            continue
        if explicit_table is not None:
            continue
        if isinstance(value, Column):
            column = value
            if column.name is None:
                column.name = key
            column.key = key
            if parsed is not None and column._type is None:
                column._type = _sql_type_for(parsed.inner, reg.type_annotation_map)
        else:
            mapped = value if isinstance(value, MappedColumn) else MappedColumn()
            annotation_nullable = None if parsed is None else parsed.optional
            annotation_type = None if parsed is None else _sql_type_for(parsed.inner, reg.type_annotation_map)
            if parsed is not None and annotation_type is None and mapped.type is None and not mapped.foreign_keys:
                raise ArgumentError(
                    f"Could not locate SQL type for Python type {parsed.inner!r} of attribute "
                    f"{cls.__name__}.{key} (give mapped_column() a type, or add it to type_annotation_map)"
                )
            column = mapped.build_column(key, annotation_nullable, annotation_type)
        columns.append(column)
        properties[key] = column
    if explicit_table is not None:
        table = explicit_table
        properties = {k: v for k, v in properties.items() if isinstance(v, RelationshipProperty)}
    else:
        table_args = cls.__dict__.get("__table_args__", ())
        if isinstance(table_args, dict):
            table_args = ()
        elif table_args and isinstance(table_args[-1], dict):
            table_args = table_args[:-1]
        table = Table(cls.__dict__["__tablename__"], reg.metadata, *columns, *table_args)
    # remove the declarations from the class body; the mapper installs descriptors instead
    for key in properties:
        if key in cls.__dict__:
            delattr(cls, key)
    reg.map_imperatively(cls, table, properties)


def _is_python_type(inner: Any, reg: registry) -> bool:
    if inner in reg.type_annotation_map or inner in _PYTHON_TYPES:
        return True
    if isinstance(inner, str):
        return inner in _TYPE_NAMES
    return not (isinstance(inner, type) and hasattr(inner, "__mapper__") or isinstance(inner, type) and issubclass(inner, DeclarativeBase))
