"""``inspect()``: one door to look inside minialchemy's objects, through a registry.

- ``inspect(User)`` -> the class's :class:`~minialchemy.orm.mapper.Mapper` (Data Mapper pattern:
  the mapping is an object of its own, not hidden in the class);
- ``inspect(user)`` -> the object's :class:`~minialchemy.orm.instrumentation.InstanceState`
  (``.transient``, ``.pending``, ``.persistent``, ``.deleted``, ``.detached``, ``.identity`` ...);
- ``inspect(engine)`` -> an :class:`Inspector` listing tables and columns in the database.

This module sits below every layer and imports none of them: each layer registers what it
knows how to inspect (:func:`_inspects`), the engine its Engine and Connection, the ORM mapped
classes and their instances.  That is also how the SQL layer accepts ``select(User)`` without
knowing what a mapper is: it inspects the class and asks the result for its table
(``__clause_element__()``); only the ORM, which registered the hook, knows the answer.
"""

from __future__ import annotations

from minialchemy.exc import ArgumentError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Callable

__all__ = ["inspect", "Inspector"]

#: type -> function(subject) returning its inspection object, or None when it has none
_registrars: dict[type, Callable[[Any], Any]] = {}


def _inspects(*types: type) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Decorator: register a function as the inspector of subjects of ``types`` (and their
    subclasses).  Called by each layer for its own types, at import."""

    def register(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
        for type_ in types:
            _registrars[type_] = function
        return function

    return register


def inspect(subject: Any, raiseerr: bool = True) -> Any:
    """Return the inspection object for ``subject`` (see the module docstring).

    Walks the subject's type and its bases; the first registered function that returns
    something answers.  None (``raiseerr=False``) or ArgumentError when none does."""
    for type_ in type(subject).__mro__:
        registrar = _registrars.get(type_)
        if registrar is not None:
            found = registrar(subject)
            if found is not None:
                return found
    if raiseerr:
        raise ArgumentError(
            f"No inspection system is available for object of type {type(subject).__name__} "
            f"(inspect() takes a mapped class, a mapped object or an Engine)"
        )
    return None


class Inspector:
    """Reads the database's own catalogue (``sqlite_master``, ``PRAGMA table_info``).

    ``bind`` is an Engine (a connection is opened for each question) or a Connection."""

    def __init__(self, bind: Any) -> None:
        self.bind = bind

    def _run(self, sql: str) -> list[tuple[Any, ...]]:
        if hasattr(self.bind, "exec_driver_sql"):  # a Connection
            return self.bind.exec_driver_sql(sql).all()
        with self.bind.connect() as conn:  # an Engine
            return conn.exec_driver_sql(sql).all()

    def get_table_names(self) -> list[str]:
        """Names of the tables in the database, sorted."""
        rows = self._run("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        return [row[0] for row in rows]

    def has_table(self, name: str) -> bool:
        return name in self.get_table_names()

    def get_columns(self, table_name: str) -> list[dict[str, Any]]:
        """``[{"name", "type", "nullable", "default", "primary_key"}]`` for each column."""
        quoted = table_name.replace('"', '""')
        rows = self._run(f'PRAGMA table_info("{quoted}")')
        return [
            {"name": r[1], "type": r[2], "nullable": not r[3], "default": r[4], "primary_key": r[5]}
            for r in rows
        ]
