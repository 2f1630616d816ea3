"""Loader options: ``select(User).options(selectinload(User.addresses))``.

An option says *how* a relationship is loaded for the objects one statement returns, overriding
the relationship's own ``lazy=`` setting for that statement only (Fowler's Lazy Load, and its
opposite, eager loading):

==================  ==========================================================================
``lazyload``        on first access, one SELECT per parent object (the default, ``lazy="select"``)
``selectinload``    right after the parents: one more SELECT ``... WHERE fk IN (...)`` for all
``joinedload``      in the same SELECT: ``LEFT OUTER JOIN`` the related table
``contains_eager``  from a JOIN the statement already has (``.join(User.addresses)``)
``raiseload``       never: reading the attribute raises ``InvalidRequestError``
``noload``          never: the attribute reads as empty (``[]`` or ``None``)
==================  ==========================================================================

Options chain along a path: ``selectinload(User.addresses).joinedload(Address.user)`` loads the
addresses with an IN query, and each address's user in that same query by a join.

This module only *describes* loading; :mod:`minialchemy.orm.strategies` does it.

Where it sits: built by users, stored on the statement by ``Select.options()`` (or given to
``Session.get(..., options=[...])``), read by the loader after the rows become objects.
"""

from __future__ import annotations

from minialchemy.exc import ArgumentError
from minialchemy.sql.elements import ClauseElement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any

__all__ = [
    "Load",
    "LOADER_STRATEGIES",
    "contains_eager",
    "joinedload",
    "lazyload",
    "noload",
    "raiseload",
    "selectinload",
]

#: the ``lazy=`` values a relationship accepts, and the loader each one means
LOADER_STRATEGIES = ("select", "selectin", "joined", "raise", "raise_on_sql", "noload")

_OPTION_NAMES = {
    "select": "lazyload",
    "selectin": "selectinload",
    "joined": "joinedload",
    "raise": "raiseload",
    "raise_on_sql": "raiseload",
    "noload": "noload",
    "contains_eager": "contains_eager",
}


def _relationship_of(attribute: Any, option: str) -> Any:
    """The RelationshipProperty behind ``User.addresses``, or an ArgumentError that says what
    was given instead."""
    if isinstance(attribute, str):
        raise ArgumentError(
            f"{option}({attribute!r}): strings are not accepted for attribute names in loader "
            f"options; pass the class-bound attribute itself, e.g. {option}(User.addresses)"
        )
    prop = getattr(attribute, "prop", None) if not isinstance(attribute, ClauseElement) else None
    if prop is None or not getattr(prop, "is_relationship", False):
        raise ArgumentError(
            f"{option}({attribute!r}): {attribute!r} is not a relationship attribute; loader "
            f"options name relationships (such as User.addresses), not columns"
        )
    return prop


class Load:
    """A loader option: a path of relationships, each with the strategy that loads it.

    ``path`` holds ``(relationship, strategy, alias or None)`` from the statement's entity
    outwards (the alias of ``User.addresses.of_type(a)``); the methods of the same names as the
    module's functions extend the path by one relationship.
    """

    __slots__ = ("path",)

    def __init__(self, path: tuple[tuple[Any, str, Any], ...]) -> None:
        self.path = path

    def _extend(self, attribute: Any, strategy: str) -> "Load":
        prop = _relationship_of(attribute, _OPTION_NAMES[strategy])
        target_from = getattr(attribute, "_target_from", None)
        if self.path:
            last = self.path[-1][0]
            if prop.parent is not last.mapper:
                raise ArgumentError(
                    f"{_OPTION_NAMES[strategy]}({attribute!r}) cannot follow {last!r}: "
                    f"{prop!r} is not a relationship of {last.mapper.class_.__name__}"
                )
        return Load((*self.path, (prop, strategy, target_from)))

    def lazyload(self, attribute: Any) -> "Load":
        return self._extend(attribute, "select")

    def selectinload(self, attribute: Any) -> "Load":
        return self._extend(attribute, "selectin")

    def joinedload(self, attribute: Any) -> "Load":
        return self._extend(attribute, "joined")

    def raiseload(self, attribute: Any, sql_only: bool = False) -> "Load":
        return self._extend(attribute, "raise_on_sql" if sql_only else "raise")

    def noload(self, attribute: Any) -> "Load":
        return self._extend(attribute, "noload")

    def contains_eager(self, attribute: Any) -> "Load":
        return self._extend(attribute, "contains_eager")

    @property
    def entity(self) -> type:
        """The class the path starts from (``User`` for ``selectinload(User.addresses)``)."""
        return self.path[0][0].parent.class_

    def __repr__(self) -> str:
        steps = [f"{_OPTION_NAMES[strategy]}({prop.parent.class_.__name__}.{prop.key})" for prop, strategy, _ in self.path]
        return ".".join(steps)


def lazyload(attribute: Any) -> Load:
    """Load ``attribute`` on first access, one SELECT per object (``lazy="select"``)."""
    return Load(()).lazyload(attribute)


def selectinload(attribute: Any) -> Load:
    """Load ``attribute`` for all the statement's objects with one more SELECT using IN."""
    return Load(()).selectinload(attribute)


def joinedload(attribute: Any) -> Load:
    """Load ``attribute`` in the same SELECT, through a LEFT OUTER JOIN."""
    return Load(()).joinedload(attribute)


def raiseload(attribute: Any, sql_only: bool = False) -> Load:
    """Never load ``attribute``: reading it raises ``InvalidRequestError`` (with ``sql_only``,
    only when that would send SQL: a many-to-one found in the identity map is still given)."""
    return Load(()).raiseload(attribute, sql_only=sql_only)


def noload(attribute: Any) -> Load:
    """Never load ``attribute``: it reads as an empty collection, or None."""
    return Load(()).noload(attribute)


def contains_eager(attribute: Any) -> Load:
    """Fill ``attribute`` from the columns of a JOIN the statement already makes
    (``select(User).join(User.addresses).options(contains_eager(User.addresses))``)."""
    return Load(()).contains_eager(attribute)
