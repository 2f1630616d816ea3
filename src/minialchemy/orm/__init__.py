"""The ORM layer: Session, mapping, unit of work, loading (see DESIGN.md).

Names as in ``sqlalchemy.orm``: ``DeclarativeBase``, ``Mapped``, ``mapped_column``,
``relationship``, ``registry``, ``Session``, ``sessionmaker``.  The hot paths (identity map,
instrumentation) are twins chosen by :mod:`minialchemy._accel`.

The loader options (``selectinload``, ``joinedload``, ``Load``...) and ``aliased`` are imported
on first use (:func:`__getattr__`): a program that uses none of them never loads their module.
"""

from minialchemy._accel import import_lazy_name
from minialchemy.orm import exc
from minialchemy.orm.decl_api import DeclarativeBase, Mapped, MappedColumn, mapped_column, registry
from minialchemy.orm.mapper import Mapper, class_mapper, object_mapper
from minialchemy.orm.relationship_clauses import with_parent
from minialchemy.orm.relationships import configure_mappers, relationship
from minialchemy.orm.session import Session, SessionTransaction, make_transient, object_session, sessionmaker

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

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # type checkers see the lazy names as the plain imports they stand for
    from minialchemy.orm.aliased import aliased
    from minialchemy.orm.strategy_options import (
        Load,
        contains_eager,
        joinedload,
        lazyload,
        noload,
        raiseload,
        selectinload,
    )

#: names imported on first use (PEP 562): name -> the module that defines it
_LAZY_NAMES = dict.fromkeys(
    ("Load", "contains_eager", "joinedload", "lazyload", "noload", "raiseload", "selectinload"),
    "minialchemy.orm.strategy_options",
)
_LAZY_NAMES["aliased"] = "minialchemy.orm.aliased"


def __getattr__(name: str) -> object:
    """``minialchemy.orm.selectinload``, the other loader options and ``aliased``, imported on
    first use (issue 12's import time)."""
    return import_lazy_name(globals(), _LAZY_NAMES, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))
