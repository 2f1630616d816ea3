"""Exceptions of minialchemy, named and arranged as SQLAlchemy's.

Errors raised by the sqlite3 driver never escape raw: the engine wraps each one in the
matching :class:`DBAPIError` subclass (``IntegrityError``, ``OperationalError``, ...), keeps the
driver's exception as ``.orig`` and shows the statement and parameters that caused it, so a
learner sees *which* SQL failed and with *what* values.

Where it sits: raised by every layer; the ORM's own errors live in :mod:`minialchemy.orm.exc`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any


__all__ = [
    "SAWarning",
    "SQLAlchemyError",
    "ArgumentError",
    "NoForeignKeysError",
    "AmbiguousForeignKeysError",
    "CompileError",
    "CircularDependencyError",
    "InvalidRequestError",
    "NoResultFound",
    "MultipleResultsFound",
    "PendingRollbackError",
    "ResourceClosedError",
    "NoSuchColumnError",
    "NoSuchTableError",
    "InsertManyValuesError",
    "NoReferencedTableError",
    "StatementError",
    "DBAPIError",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
    "NPlusOneWarning",
]


class SQLAlchemyError(Exception):
    """Base of every error minialchemy raises (the name is SQLAlchemy's, kept for portability)."""


class ArgumentError(SQLAlchemyError):
    """A construct was given arguments it cannot work with (for example a mapped class without a
    primary key)."""


class NoForeignKeysError(ArgumentError):
    """A join without an ON clause found no foreign key between its two sides."""


class AmbiguousForeignKeysError(ArgumentError):
    """A join without an ON clause found several foreign keys between its two sides."""


class CompileError(SQLAlchemyError):
    """A statement could not be rendered as SQL."""


class CircularDependencyError(SQLAlchemyError):
    """The unit of work found rows that depend on each other in a circle (``a.parent = b``,
    ``b.parent = a``, both new): no order of INSERTs (or DELETEs) can satisfy the foreign keys.
    ``cycles`` holds the objects involved."""

    def __init__(self, message: str, cycles: Any = (), edges: Any = ()) -> None:
        super().__init__(message)
        self.cycles = cycles
        self.edges = edges


class InvalidRequestError(SQLAlchemyError):
    """The request cannot be carried out in the current state of the objects involved."""


class NoResultFound(InvalidRequestError):
    """``one()`` / ``scalar_one()`` found no row."""


class MultipleResultsFound(InvalidRequestError):
    """``one()`` / ``scalar_one()`` / ``one_or_none()`` found more than one row."""


class PendingRollbackError(InvalidRequestError):
    """A previous flush failed; the session refuses work until ``session.rollback()`` is called."""


class ResourceClosedError(InvalidRequestError):
    """The connection, session or result was already closed."""


class NoSuchColumnError(InvalidRequestError, KeyError):
    """A result was asked for a column it does not have (``result.columns("nope")``)."""


class NoSuchTableError(InvalidRequestError):
    """A table named in the metadata does not exist."""


class InsertManyValuesError(InvalidRequestError):
    """A batched ``INSERT ... RETURNING`` got back keys it cannot tie to its parameter rows
    (see :mod:`minialchemy.engine.insertmanyvalues`); raised alike for the ORM's flush and for
    Core's ``execute(insert(t).returning(...), [...])``."""


class NoReferencedTableError(InvalidRequestError):
    """A ``ForeignKey`` names a table the ``MetaData`` does not hold."""


class StatementError(SQLAlchemyError):
    """An error raised while executing a statement; carries the statement and its parameters.

    ``str(error)`` shows the original message, then ``[SQL: ...]`` and ``[parameters: ...]``.
    """

    def __init__(
        self,
        message: str,
        statement: str | None = None,
        params: Any = None,
        orig: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.statement = statement
        self.params = params
        self.orig = orig
        #: lines of context added by the layer above (the ORM's flush: which step, which object)
        self.detail: list[str] = []

    def add_detail(self, text: str) -> None:
        """Add a line of context, shown after the statement (SQLAlchemy's name)."""
        self.detail.append(text)

    def __str__(self) -> str:
        lines = [self.message]
        if self.statement is not None:
            lines.append(f"[SQL: {self.statement}]")
        if self.params is not None:
            lines.append(f"[parameters: {_truncate_params(self.params)}]")
        lines.extend(f"[{line}]" for line in self.detail)
        return "\n".join(lines)

    def __reduce__(self):
        return (type(self), (self.message, self.statement, self.params, self.orig))

    @classmethod
    def from_exception(cls, orig: BaseException, statement: str | None, params: Any) -> "StatementError":
        """Wrap an exception raised while preparing a statement's parameters (a value its column
        type refuses, a failing column default): the original is ``.orig`` and the message
        starts with its class, ``(builtins.TypeError) Not a boolean value: 'false'``."""
        return cls(_exception_label(orig), statement, params, orig)


def _exception_label(orig: BaseException) -> str:
    return f"({type(orig).__module__}.{type(orig).__name__}) {orig}"


def _truncate_params(params: Any, limit: int = 300) -> str:
    """Show parameters, shortening long values so a 1 MB string does not flood a traceback."""
    text = repr(params)
    if len(text) <= limit:
        return text
    return text[: limit - 40] + f" ... ({len(text) - limit + 40} characters truncated)"


class DBAPIError(StatementError):
    """Wraps an exception raised by the DBAPI driver (``sqlite3``); the original is ``.orig``."""

    @classmethod
    def instance(cls, statement: str | None, params: Any, orig: BaseException) -> "DBAPIError":
        """Build the wrapper whose class matches ``orig`` (``sqlite3.IntegrityError`` ->
        :class:`IntegrityError`, and so on)."""
        wrapper = cls
        for klass in type(orig).__mro__:
            candidate = _DBAPI_WRAPPERS.get(klass.__name__)
            if candidate is not None:
                wrapper = candidate
                break
        return wrapper(_exception_label(orig), statement, params, orig)


class InterfaceError(DBAPIError):
    """Wraps ``sqlite3.InterfaceError`` (misuse of the driver, e.g. an unsupported parameter type)."""


class DatabaseError(DBAPIError):
    """Wraps ``sqlite3.DatabaseError``."""


class DataError(DatabaseError):
    """Wraps ``sqlite3.DataError``."""


class OperationalError(DatabaseError):
    """Wraps ``sqlite3.OperationalError`` (no such table, database is locked, ...)."""


class IntegrityError(DatabaseError):
    """Wraps ``sqlite3.IntegrityError`` (UNIQUE, NOT NULL, FOREIGN KEY constraint failed)."""


class InternalError(DatabaseError):
    """Wraps ``sqlite3.InternalError``."""


class ProgrammingError(DatabaseError):
    """Wraps ``sqlite3.ProgrammingError`` (wrong number of bindings, closed connection, ...)."""


class NotSupportedError(DatabaseError):
    """Wraps ``sqlite3.NotSupportedError``."""


class SAWarning(RuntimeWarning):
    """Something the ORM went on with but you should know about (SQLAlchemy's name): for
    example a flush that displaced another object from the identity map."""


class NPlusOneWarning(UserWarning):
    """One session lazy loaded the same relationship for many different objects, one SELECT
    each (the N+1 problem); the message names the loader option that would use one SELECT."""


_DBAPI_WRAPPERS: dict[str, type[DBAPIError]] = {
    "InterfaceError": InterfaceError,
    "DatabaseError": DatabaseError,
    "DataError": DataError,
    "OperationalError": OperationalError,
    "IntegrityError": IntegrityError,
    "InternalError": InternalError,
    "ProgrammingError": ProgrammingError,
    "NotSupportedError": NotSupportedError,
    "Error": DBAPIError,
}
