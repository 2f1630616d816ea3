"""The SQL a relationship stands for in a query: its ON clause, ``any()`` / ``has()``, and
``with_parent()``.

``User.addresses`` links ``user_account.id`` to ``address.user_id``; that pair of columns is the
relationship's *join condition*.  A query uses it in three ways:

- ``select(User).join(User.addresses)``: ``JOIN address ON user_account.id = address.user_id``
  (the Core's ``join()`` asks the attribute through its ``_join_target_and_onclause()`` hook);
- ``User.addresses.any(Address.email_address.like("%@x"))``: ``EXISTS (SELECT 1 FROM address
  WHERE user_account.id = address.user_id AND ...)``, correlated to the enclosing SELECT, and
  ``Address.user.has(User.name == "sandy")`` the same from the other side;
- ``with_parent(sandy, User.addresses)``: the lazy loader's own criterion, ``? = address.user_id``
  with sandy's key bound.

With :func:`~minialchemy.orm.aliased` entities on either side (``aliased(User)``, or
``User.addresses.of_type(address_alias)``), the columns of that side are taken from the alias.

Where it sits: used by relationship attributes (``User.addresses``, and those of an alias), by
:func:`with_parent`, and by the joined eager loader; builds Core expressions only.
"""

from __future__ import annotations

from minialchemy.exc import ArgumentError, InvalidRequestError
from minialchemy.sql.elements import and_, literal_column
from minialchemy.sql.selectable import Exists, corresponding_column, select

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any

__all__ = [
    "AliasedRelationship",
    "RelationshipComparator",
    "any_",
    "has",
    "join_target_and_onclause",
    "onclause",
    "with_parent",
]


def _side_columns(prop: Any) -> list[tuple[Any, Any]]:
    """(parent-side column, target-side column) for each column pair of ``prop``."""
    from minialchemy.orm.relationships import MANYTOONE, ONETOMANY

    prop._resolve()
    if prop.direction == ONETOMANY:
        return [(one, many) for one, many in prop.pairs]
    if prop.direction == MANYTOONE:
        return [(many, one) for one, many in prop.pairs]
    raise InvalidRequestError(
        f"{prop!r}: join() along a many-to-many relationship is not supported yet; join its "
        f"association table and then the target explicitly: .join({prop.secondary_table.name}, "
        f"<ON clause>).join({prop.mapper.class_.__name__}, <ON clause>)"
    )


def _adapt(column: Any, from_: Any) -> Any:
    if from_ is None:
        return column
    found = corresponding_column(from_, column)
    return found if found is not None else column


def onclause(prop: Any, parent_from: Any = None, target_from: Any = None) -> Any:
    """``user_account.id = address.user_id`` for ``User.addresses``: the column on the "one"
    side first, as SQLAlchemy writes it; each side taken from its alias when one is given."""
    from minialchemy.orm.relationships import ONETOMANY

    terms = []
    for parent_column, target_column in _side_columns(prop):
        parent_column = _adapt(parent_column, parent_from)
        target_column = _adapt(target_column, target_from)
        if prop.direction == ONETOMANY:
            terms.append(parent_column == target_column)
        else:
            terms.append(target_column == parent_column)
    return terms[0] if len(terms) == 1 else and_(*terms)


def join_target_and_onclause(prop: Any, parent_from: Any = None, target_from: Any = None) -> tuple[Any, Any]:
    """What ``select(...).join(User.addresses)`` joins: the target's FROM and the ON clause."""
    target = target_from if target_from is not None else prop.mapper.local_table
    return target, onclause(prop, parent_from, target_from)


def secondary_onclauses(prop: Any, parent_from: Any = None, target_from: Any = None, secondary_from: Any = None) -> tuple[Any, Any]:
    """A many-to-many's two join conditions, through its association table:
    ``post.id = post_tag.post_id`` and ``tag.id = post_tag.tag_id``."""
    parent_terms = [_adapt(p, parent_from) == _adapt(a, secondary_from) for p, a in prop.secondary_pairs]
    target_terms = [_adapt(t, target_from) == _adapt(a, secondary_from) for t, a in prop.secondary_target_pairs]
    return and_(*parent_terms) if len(parent_terms) > 1 else parent_terms[0], (
        and_(*target_terms) if len(target_terms) > 1 else target_terms[0]
    )


def _exists(prop: Any, parent_from: Any, target_from: Any, criterion: Any, kwargs: dict[str, Any]) -> Exists:
    from minialchemy.orm.relationships import MANYTOMANY

    target = target_from if target_from is not None else prop.mapper.local_table
    if prop.direction == MANYTOMANY:
        through_parent, through_target = secondary_onclauses(prop, parent_from, target_from)
        criteria = [through_parent, through_target]
        froms = [prop.secondary_table, target]
    else:
        criteria = [onclause(prop, parent_from, target_from)]
        froms = [target]
    if criterion is not None:
        criteria.append(criterion)
    for key, value in kwargs.items():
        column = target.columns.get(prop.mapper._props[key].column.key) if key in prop.mapper.attrs else None
        if column is None:
            raise ArgumentError(f"{prop.mapper.class_.__name__} has no column attribute {key!r}")
        criteria.append(column == value)
    return Exists(select(literal_column("1")).select_from(*froms).where(*criteria))


def any_(prop: Any, criterion: Any = None, parent_from: Any = None, target_from: Any = None, **kwargs: Any) -> Exists:
    """``User.addresses.any(...)``: an EXISTS that is true for users with a matching address."""
    if not prop.uselist:
        raise InvalidRequestError(
            f"any() is for collections; {prop.parent.class_.__name__}.{prop.key} is a scalar "
            f"relationship: use has()"
        )
    return _exists(prop, parent_from, target_from, criterion, kwargs)


def has(prop: Any, criterion: Any = None, parent_from: Any = None, target_from: Any = None, **kwargs: Any) -> Exists:
    """``Address.user.has(...)``: an EXISTS that is true for addresses whose user matches."""
    if prop.uselist:
        raise InvalidRequestError(
            f"has() is for scalar (many-to-one) relationships; {prop.parent.class_.__name__}."
            f"{prop.key} is a collection: use any()"
        )
    return _exists(prop, parent_from, target_from, criterion, kwargs)


def with_parent(instance: Any, attribute: Any) -> Any:
    """``select(Address).where(with_parent(sandy, User.addresses))``: the rows the relationship
    holds for ``instance``, by the lazy loader's own criterion (``? = address.user_id``)."""
    from minialchemy.orm import loading
    from minialchemy.orm.mapper import object_mapper

    prop = getattr(attribute, "prop", None)
    if prop is None or not getattr(prop, "is_relationship", False):
        raise ArgumentError(f"with_parent() takes a relationship attribute such as User.addresses, not {attribute!r}")
    mapper = object_mapper(instance)
    if mapper is not prop.parent:
        raise ArgumentError(
            f"with_parent(): {type(instance).__name__} is not the parent class of {attribute!r} "
            f"({prop.parent.class_.__name__})"
        )
    criteria = loading.relationship_criteria(prop, instance)
    if criteria is None:
        from minialchemy.sql.elements import false

        return false()  # a NULL foreign key: nothing is related
    return criteria[0] if len(criteria) == 1 else and_(*criteria)


def _from_of(entity: Any) -> Any:
    """The FROM an entity stands for: an alias's (``aliased(Address)``), or the class's table."""
    clause_element = getattr(entity, "__clause_element__", None)
    if clause_element is not None and not hasattr(entity, "__mapper__"):
        return clause_element()
    mapper = getattr(entity, "__mapper__", None)
    return mapper.local_table if mapper is not None else entity


class RelationshipComparator:
    """The query side of a relationship attribute (``User.addresses``): joins along it,
    ``any()`` / ``has()``, ``of_type()``.  ``_parent_from`` / ``_target_from`` are the aliases of
    either side (None: the tables themselves)."""

    prop: Any
    _parent_from: Any = None
    _target_from: Any = None

    def _join_target_and_onclause(self) -> tuple[Any, Any]:
        """The Core's hook for ``select(...).join(User.addresses)``."""
        return join_target_and_onclause(self.prop, self._parent_from, self._target_from)

    def of_type(self, entity: Any) -> "AliasedRelationship":
        """The same relationship, aimed at an alias of its target:
        ``select(User).join(User.addresses.of_type(a2))``."""
        return AliasedRelationship(self.prop, self._parent_from, _from_of(entity), repr(self).strip("<>"))

    def any(self, criterion: Any = None, **kwargs: Any) -> Exists:
        """``User.addresses.any(Address.email_address == x)``: EXISTS a related row (matching)."""
        return any_(self.prop, criterion, self._parent_from, self._target_from, **kwargs)

    def has(self, criterion: Any = None, **kwargs: Any) -> Exists:
        """``Address.user.has(User.name == "sandy")``: EXISTS the related row (matching)."""
        return has(self.prop, criterion, self._parent_from, self._target_from, **kwargs)


class AliasedRelationship(RelationshipComparator):
    """A relationship attribute seen from an alias (``boss.reports``), or aimed at one
    (``User.addresses.of_type(a2)``): the same relationship, with one or both sides renamed."""

    def __init__(self, prop: Any, parent_from: Any = None, target_from: Any = None, name: str = "") -> None:
        self.prop = prop
        self.key = prop.key
        self._parent_from = parent_from
        self._target_from = target_from
        self._name = name or f"{prop.parent.class_.__name__}.{prop.key}"

    @property
    def property(self) -> Any:
        return self.prop

    def __repr__(self) -> str:
        return f"<{self._name}>"
