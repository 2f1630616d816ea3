"""minialchemy: a teaching ORM with SQLAlchemy 2.x names, on the stdlib ``sqlite3``.

Core names live here (``create_engine``, ``select``, ``insert``, ``update``, ``delete``,
``text``, the column types, ``ForeignKey``, ``inspect``); the ORM is in :mod:`minialchemy.orm`,
exceptions in :mod:`minialchemy.exc` and :mod:`minialchemy.orm.exc`.

``ACCELERATED`` tells whether the compiled (Cython) identity map and instrumentation are in use;
``python -m minialchemy info`` says why.

``insert``, ``update`` and ``delete`` are imported on first use (:func:`__getattr__`): a program
that only queries never loads the DML module.
"""

from minialchemy import exc
from minialchemy._accel import ACCELERATED, import_lazy_name
from minialchemy.engine import Connection, Engine, create_engine
from minialchemy.inspection import inspect
from minialchemy.sql.elements import (
    and_,
    asc,
    bindparam,
    case,
    cast,
    desc,
    distinct,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    text,
    true,
)
from minialchemy.sql.schema import Column, ForeignKey, MetaData, Table, UniqueConstraint
from minialchemy.sql.selectable import (
    alias,
    except_,
    exists,
    intersect,
    join,
    outerjoin,
    select,
    union,
    union_all,
)
from minialchemy.sql.types import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Text,
)

__version__ = "0.1.0"

__all__ = [
    "ACCELERATED",
    "BigInteger",
    "Boolean",
    "Column",
    "Connection",
    "Date",
    "DateTime",
    "Engine",
    "Float",
    "ForeignKey",
    "Integer",
    "MetaData",
    "String",
    "Table",
    "Text",
    "UniqueConstraint",
    "alias",
    "and_",
    "asc",
    "bindparam",
    "case",
    "cast",
    "create_engine",
    "delete",
    "desc",
    "distinct",
    "exc",
    "except_",
    "exists",
    "false",
    "func",
    "insert",
    "inspect",
    "intersect",
    "join",
    "literal",
    "literal_column",
    "not_",
    "null",
    "or_",
    "outerjoin",
    "select",
    "text",
    "true",
    "union",
    "union_all",
    "update",
]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # type checkers see the lazy names as the plain imports they stand for
    from minialchemy.sql.dml import delete, insert, update

#: names imported on first use (PEP 562): name -> the module that defines it
_LAZY_NAMES = {"delete": "minialchemy.sql.dml", "insert": "minialchemy.sql.dml", "update": "minialchemy.sql.dml"}


def __getattr__(name: str) -> object:
    """``minialchemy.insert`` and the like, imported on first use (issue 12's import time)."""
    return import_lazy_name(globals(), _LAZY_NAMES, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))
