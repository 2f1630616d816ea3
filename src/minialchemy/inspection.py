"""``inspect()``: one door to look inside minialchemy's objects.

- ``inspect(User)`` -> the class's :class:`~minialchemy.orm.mapper.Mapper` (Data Mapper pattern:
  the mapping is an object of its own, not hidden in the class);
- ``inspect(user)`` -> the object's :class:`~minialchemy.orm.instrumentation.InstanceState`
  (``.transient``, ``.pending``, ``.persistent``, ``.deleted``, ``.detached``, ``.identity`` ...);
- ``inspect(engine)`` -> an :class:`Inspector` listing tables and columns in the database.
"""

from __future__ import annotations

from typing import Any

from minialchemy.exc import ArgumentError

__all__ = ["inspect", "Inspector"]


def inspect(subject: Any, raiseerr: bool = True) -> Any:
    """Return the inspection object for ``subject`` (see the module docstring)."""
    from minialchemy.engine.base import Connection, Engine

    if isinstance(subject, type):
        mapper = subject.__dict__.get("__mapper__") or getattr(subject, "__mapper__", None)
        if mapper is not None:
            return mapper
    elif isinstance(subject, (Engine, Connection)):
        return Inspector(subject)
    else:
        from minialchemy.orm.instrumentation import STATE_KEY

        state = getattr(subject, "__dict__", {}).get(STATE_KEY) if hasattr(subject, "__dict__") else None
        if state is not None:
            return state
        mapper = getattr(type(subject), "__mapper__", None)
        if mapper is not None:
            return mapper._state_for(subject)
        if hasattr(subject, "mapper") and hasattr(subject, "class_"):
            return subject  # a Mapper inspects to itself
    if raiseerr:
        raise ArgumentError(
            f"No inspection system is available for object of type {type(subject).__name__} "
            f"(inspect() takes a mapped class, a mapped object or an Engine)"
        )
    return None


class Inspector:
    """Reads the database's own catalogue (``sqlite_master``, ``PRAGMA table_info``)."""

    def __init__(self, bind: Any) -> None:
        self.bind = bind

    def _run(self, sql: str) -> list[tuple[Any, ...]]:
        from minialchemy.engine.base import Engine

        if isinstance(self.bind, Engine):
            with self.bind.connect() as conn:
                return conn.exec_driver_sql(sql).all()
        return self.bind.exec_driver_sql(sql).all()

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
