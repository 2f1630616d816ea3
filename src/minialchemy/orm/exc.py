"""Errors of the ORM, named as SQLAlchemy's (``sqlalchemy.orm.exc``).

Each message says what happened, to which object (``<User at 0x...>``, never the object's own
``__repr__``, which could itself need the database), and what to do about it.
"""

from __future__ import annotations

from minialchemy.exc import (
    InvalidRequestError,
    MultipleResultsFound,
    NoResultFound,
    SQLAlchemyError,
)

__all__ = [
    "DetachedInstanceError",
    "ObjectDeletedError",
    "UnmappedInstanceError",
    "UnmappedClassError",
    "FlushError",
    "StaleDataError",
    "UnevaluatableError",
    "NoResultFound",
    "MultipleResultsFound",
]


class DetachedInstanceError(SQLAlchemyError):
    """An attribute needs loading, but the object is in no Session to load it from."""


class ObjectDeletedError(InvalidRequestError):
    """An expired object's row is gone from the database (deleted by someone else)."""


class UnmappedInstanceError(InvalidRequestError):
    """An object of a class that is not mapped was given to the ORM."""


class UnmappedClassError(InvalidRequestError):
    """A class that is not mapped was given where a mapped class is needed."""


class FlushError(SQLAlchemyError):
    """The unit of work found an inconsistency it cannot flush."""


class StaleDataError(SQLAlchemyError):
    """An UPDATE or DELETE of the flush matched a different number of rows than expected."""


class UnevaluatableError(InvalidRequestError):
    """``synchronize_session="evaluate"`` met criteria it cannot evaluate in Python."""
