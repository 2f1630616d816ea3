"""The ORM layer: Session, mapping, unit of work, loading (see DESIGN.md).

Names as in ``sqlalchemy.orm``: ``DeclarativeBase``, ``Mapped``, ``mapped_column``,
``relationship``, ``registry``, ``Session``, ``sessionmaker``.  The hot paths (identity map,
instrumentation) are twins chosen by :mod:`minialchemy._accel`.
"""

from minialchemy.orm import exc
from minialchemy.orm.aliased import aliased
from minialchemy.orm.decl_api import DeclarativeBase, Mapped, MappedColumn, mapped_column, registry
from minialchemy.orm.mapper import Mapper, class_mapper, object_mapper
from minialchemy.orm.relationship_clauses import with_parent
from minialchemy.orm.relationships import configure_mappers, relationship
from minialchemy.orm.session import Session, SessionTransaction, make_transient, object_session, sessionmaker
from minialchemy.orm.strategy_options import (
    Load,
    contains_eager,
    joinedload,
    lazyload,
    noload,
    raiseload,
    selectinload,
)

__all__ = [
    "DeclarativeBase",
    "Load",
    "Mapped",
    "MappedColumn",
    "Mapper",
    "Session",
    "SessionTransaction",
    "aliased",
    "class_mapper",
    "configure_mappers",
    "contains_eager",
    "exc",
    "joinedload",
    "lazyload",
    "make_transient",
    "mapped_column",
    "noload",
    "object_mapper",
    "object_session",
    "raiseload",
    "registry",
    "relationship",
    "selectinload",
    "sessionmaker",
    "with_parent",
]
