"""``aliased(User)``: a mapped class read a second time in one query, under another name.

A self-join needs the same table twice (``user_account`` and ``user_account AS user_account_1``),
and so does comparing two addresses of one user.  ``aliased(Address)`` returns an object that
stands for the class over an alias of its table:

- its column attributes are the alias's columns (``a2.email_address`` renders as
  ``address_1.email_address``);
- its relationship attributes join from the alias (``select(u).join(u.addresses)``);
- selected (``select(User, a2)``), its rows become ordinary ``Address`` objects, through the
  identity map: the alias is a name in SQL, never a different kind of object.

Where it sits: built by users; the Core sees it as a FROM through ``__clause_element__()`` (the
alias), the loader as an entity through ``_aliased_mapper``.
"""

from __future__ import annotations

from minialchemy.orm.mapper import class_mapper
from minialchemy.orm.relationship_clauses import AliasedRelationship

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any

__all__ = ["AliasedClass", "aliased"]


class AliasedClass:
    """What :func:`aliased` returns: the class's attributes, over an alias of its table."""

    def __init__(self, entity: Any, name: str | None = None) -> None:
        mapper = class_mapper(entity)
        self._aliased_mapper = mapper
        self._alias = mapper.local_table.alias(name)
        #: the result key of this entity in a row (``row.User``, or ``row.boss``)
        self.__name__ = name or mapper.class_.__name__
        columns = self._alias.columns
        for prop in mapper.column_attrs:
            setattr(self, prop.key, columns[prop.column.key])
        for prop in mapper.relationships:
            setattr(self, prop.key, AliasedRelationship(prop, self._alias, None, f"{self.__name__}.{prop.key}"))

    def __clause_element__(self) -> Any:
        return self._alias

    def __repr__(self) -> str:
        return f"<AliasedClass of {self._aliased_mapper.class_.__name__} as {self._alias.name!r}>"


def aliased(entity: Any, name: str | None = None) -> AliasedClass:
    """``aliased(User)``, ``aliased(User, name="boss")``: the class under another name in SQL."""
    return AliasedClass(entity, name)
