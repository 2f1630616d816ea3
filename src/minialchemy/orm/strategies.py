"""Loader strategies: how a relationship gets its value (Fowler's Lazy Load, and eager loading).

After a statement's rows have become objects (:mod:`minialchemy.orm.loading`), this module
visits each relationship of the loaded class and does what its strategy says, the strategy being
the statement's loader option for it (:mod:`minialchemy.orm.strategy_options`) or else the
relationship's ``lazy=`` setting:

- ``"select"`` (lazy): nothing now; the first read of the attribute sends one SELECT for that
  object (``Session._lazy_load``).  N parents read in a loop cost 1 + N statements: the N+1
  problem (:mod:`minialchemy.orm.n_plus_one` points it out).
- ``"selectin"``: one more SELECT for all parents at once, ``WHERE address.user_id IN (?, ?, ...)``
  (500 keys per statement at most), whose rows are shared out to the parents' collections.
  Parents whose collection is loaded already are left out (no SELECT at all if that is all of
  them; SQLAlchemy sends one and discards what it finds).
- ``"joined"``: the related rows came in the same SELECT (a LEFT OUTER JOIN); see
  :func:`populate_joined`.
- ``"raise"`` / ``"raise_on_sql"``: reading the attribute raises; ``"noload"``: it reads empty.

An eager loader never overwrites what an object already has: a collection loaded (or changed)
before is kept, unless the statement asked for ``populate_existing``.  Related objects come
through the identity map like any other row, so ``user.addresses[0]`` *is* the object that
``session.get(Address, 1)`` returns.

Where it sits: called by :mod:`minialchemy.orm.loading` for every ORM SELECT; it builds Core
``select()`` statements and never writes SQL text.
"""

from __future__ import annotations

import weakref
from typing import Any, Iterable, Sequence

from minialchemy import _accel
from minialchemy.exc import InvalidRequestError
from minialchemy.sql.elements import and_, or_
from minialchemy.sql.selectable import select

__all__ = [
    "SELECTIN_BATCH_SIZE",
    "JoinedEager",
    "LoadNode",
    "build_load_tree",
    "plan_joined",
    "populate_joined",
    "load_related",
    "lazy_strategy",
    "raise_not_available",
]

#: parent keys per ``IN (...)`` of a selectin load, as SQLAlchemy does (SQLite accepts many more
#: bound parameters; 500 keeps each statement readable in the echo log and cheap to compile)
SELECTIN_BATCH_SIZE = 500

#: per-object strategies set by a statement's options that differ from the relationship's
#: default (``raiseload(User.addresses)`` on objects whose relationship is lazy by default);
#: read when the attribute is first accessed.  Kept beside the state, weakly, so the
#: instrumentation twins need no field for it.
_object_strategies: "weakref.WeakKeyDictionary[Any, dict[str, str]]" = weakref.WeakKeyDictionary()

#: the relationships of a mapper that load eagerly by default (``lazy="selectin"`` and so on)
_default_eager: "weakref.WeakKeyDictionary[Any, tuple[Any, ...]]" = weakref.WeakKeyDictionary()


class LoadNode:
    """One relationship of a statement's loading plan: its strategy (None: the relationship's
    own default) and the nodes for the relationships of the objects it loads."""

    __slots__ = ("strategy", "children", "target_from")

    def __init__(self) -> None:
        self.strategy: str | None = None
        self.children: dict[Any, LoadNode] = {}
        #: ``contains_eager(User.addresses.of_type(alias))``: the alias the columns come from
        self.target_from: Any = None

    def __repr__(self) -> str:
        return f"LoadNode({self.strategy!r}, {self.children!r})"


def build_load_tree(options: Iterable[Any]) -> dict[Any, LoadNode]:
    """The statement's options as a tree, relationship by relationship from its entity."""
    tree: dict[Any, LoadNode] = {}
    for option in options:
        level = tree
        for prop, strategy, target_from in option.path:
            node = level.get(prop)
            if node is None:
                node = level[prop] = LoadNode()
            if strategy is not None:
                node.strategy = strategy
            if target_from is not None:
                node.target_from = target_from
            level = node.children
    return tree


def _eager_defaults(mapper: Any) -> tuple[Any, ...]:
    found = _default_eager.get(mapper)
    if found is None:
        found = tuple(p for p in mapper.relationships if p.lazy != "select")
        _default_eager[mapper] = found
    return found


def load_related(
    session: Any,
    mapper: Any,
    objects: Sequence[Any],
    tree: dict[Any, LoadNode] | None,
    populate_existing: bool = False,
    path: tuple[Any, ...] = (),
) -> None:
    """Apply the loading plan to ``objects`` (all of ``mapper``'s class) just loaded.

    Relationships named in ``tree`` follow their option; the others their ``lazy=`` default,
    except that a default eager load does not follow a relationship already on ``path`` (a
    self-referential ``lazy="selectin"`` would otherwise load the whole tree, level by level).
    """
    if not tree and not _eager_defaults(mapper):
        return
    objects = [o for o in objects if o is not None]
    if not objects:
        return
    props = list(tree) if tree else []
    for prop in _eager_defaults(mapper):
        if (not tree or prop not in tree) and prop not in path:
            props.append(prop)
    for prop in props:
        if prop.parent is not mapper:
            continue
        node = tree.get(prop) if tree else None
        strategy = node.strategy if node is not None and node.strategy is not None else prop.lazy
        children = node.children if node is not None else {}
        if strategy == "selectin":
            related = _load_selectin(session, prop, objects, populate_existing)
            load_related(session, prop.mapper, related, children, populate_existing, (*path, prop))
        elif strategy in ("joined", "contains_eager"):
            # the rows were loaded by the statement itself (populate_joined); their own
            # relationships still follow the plan
            related = _loaded_values(prop, objects)
            load_related(session, prop.mapper, related, children, populate_existing, (*path, prop))
        elif strategy == "noload":
            _set_empty(prop, objects, populate_existing)
        if node is not None and node.strategy is not None and node.strategy != prop.lazy:
            _remember_strategy(prop, objects, node.strategy)


def _loaded_values(prop: Any, objects: Sequence[Any]) -> list[Any]:
    related: list[Any] = []
    key = prop.key
    for obj in objects:
        value = obj.__dict__.get(key)
        if value is None:
            continue
        if prop.uselist:
            related.extend(value)
        else:
            related.append(value)
    return related


def _remember_strategy(prop: Any, objects: Sequence[Any], strategy: str) -> None:
    if strategy not in ("select", "raise", "raise_on_sql", "noload"):
        return
    instance_state = _accel.instrumentation.instance_state
    for obj in objects:
        state = instance_state(obj)
        per_object = _object_strategies.get(state)
        if per_object is None:
            per_object = _object_strategies[state] = {}
        per_object[prop.key] = strategy


def lazy_strategy(state: Any, prop: Any) -> str:
    """The strategy for reading an unloaded relationship of one object: the one its loading
    statement's options set, else the relationship's ``lazy=``."""
    per_object = _object_strategies.get(state)
    if per_object is not None:
        strategy = per_object.get(prop.key)
        if strategy is not None:
            return strategy
    return prop.lazy


def raise_not_available(prop: Any, strategy: str) -> None:
    """``raiseload``: the attribute was read, and must not be."""
    raise InvalidRequestError(
        f"'{prop.parent.class_.__name__}.{prop.key}' is not available due to lazy={strategy!r} "
        f"(load it with an option such as selectinload({prop.parent.class_.__name__}.{prop.key}) "
        f"in the statement that loads the objects)"
    )


def _set_empty(prop: Any, objects: Sequence[Any], populate_existing: bool) -> None:
    from minialchemy.orm.relationships import InstrumentedList

    key = prop.key
    for obj in objects:
        d = obj.__dict__
        if key not in d or populate_existing:
            d[key] = InstrumentedList(obj, prop) if prop.uselist else None


# -- selectin loading ------------------------------------------------------------------------


def _batches(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), SELECTIN_BATCH_SIZE):
        yield values[start : start + SELECTIN_BATCH_SIZE]


def _in_criteria(columns: Sequence[Any], keys: list[tuple[Any, ...]]) -> Any:
    """``col IN (...)`` for one column; ``(a = ? AND b = ?) OR ...`` for a composite key."""
    if len(columns) == 1:
        return columns[0].in_([k[0] for k in keys])
    return or_(*[and_(*[c == v for c, v in zip(columns, key)]) for key in keys])


def _cause(prop: Any, number: int, batches: int) -> str:
    name = f"{prop.parent.class_.__name__}.{prop.key}"
    if batches == 1:
        return f"selectinload of {name}"
    return f"selectinload of {name}, batch {number} of {batches}"


def _load_selectin(session: Any, prop: Any, parents: Sequence[Any], populate_existing: bool) -> list[Any]:
    """Load ``prop`` for every parent without it; returns the related objects loaded."""
    from minialchemy.orm.relationships import MANYTOMANY, MANYTOONE

    prop._resolve()
    key = prop.key
    wanting = [p for p in parents if populate_existing or key not in p.__dict__]
    if not wanting:
        return []
    if prop.direction == MANYTOONE:
        return _load_selectin_many_to_one(session, prop, wanting, populate_existing)
    if prop.direction == MANYTOMANY:
        return _load_selectin_many_to_many(session, prop, wanting, populate_existing)
    return _load_selectin_one_to_many(session, prop, wanting, populate_existing)


def _load_selectin_one_to_many(session: Any, prop: Any, parents: list[Any], populate_existing: bool) -> list[Any]:
    from minialchemy.orm import loading
    from minialchemy.orm.relationships import InstrumentedList

    target = prop.mapper
    pairs = prop.fk_attr_keys()  # [(parent key attribute, child foreign-key attribute)]
    parent_attrs = [one for one, _ in pairs]
    fk_columns = [target._props[many].column for _, many in pairs]
    by_key: dict[tuple[Any, ...], list[Any]] = {}
    for parent in parents:
        d = parent.__dict__
        parent_key = tuple([d.get(a) for a in parent_attrs])
        if None not in parent_key:
            by_key.setdefault(parent_key, [])
    keys = list(by_key)
    batches = list(_batches(keys))
    loaded: list[Any] = []
    order = prop.order_by_clauses
    for number, batch in enumerate(batches, 1):
        # the foreign-key columns come once more at the end of each row: which parent a row
        # belongs to, as the database says (the object's attribute may have been changed since)
        statement = select(target.class_, *fk_columns).where(_in_criteria(fk_columns, batch))
        if order:
            statement = statement.order_by(*order)
        objects, rows = loading.load_entity_rows(session, statement, target, _cause(prop, number, len(batches)), populate_existing)
        width = len(fk_columns)
        for obj, row in zip(objects, rows):
            by_key[tuple(row[-width:])].append(obj)
        loaded.extend(objects)
    for parent in parents:
        d = parent.__dict__
        children = by_key.get(tuple([d.get(a) for a in parent_attrs]))
        if not prop.uselist:  # one-to-one: the child, if any
            d[prop.key] = children[0] if children else None
            continue
        collection = InstrumentedList(parent, prop)
        if children:
            list.extend(collection, children)
        d[prop.key] = collection
    return loaded


def _load_selectin_many_to_many(session: Any, prop: Any, parents: list[Any], populate_existing: bool) -> list[Any]:
    """``selectinload(Post.tags)``: ``SELECT tag.*, post_tag.post_id FROM tag, post_tag WHERE
    tag.id = post_tag.tag_id AND post_tag.post_id IN (...)``, the association table's column
    telling which post each row belongs to."""
    from minialchemy.orm import loading
    from minialchemy.orm.relationships import InstrumentedList

    target = prop.mapper
    parent_attrs = [prop.parent._col_to_attr[parent_column] for parent_column, _ in prop.secondary_pairs]
    link_columns = [column for _, column in prop.secondary_pairs]
    join = [target_column == column for target_column, column in prop.secondary_target_pairs]
    by_key: dict[tuple[Any, ...], list[Any]] = {}
    for parent in parents:
        parent_key = tuple([parent.__dict__.get(a) for a in parent_attrs])
        if None not in parent_key:
            by_key.setdefault(parent_key, [])
    batches = list(_batches(list(by_key)))
    loaded: list[Any] = []
    for number, batch in enumerate(batches, 1):
        statement = select(target.class_, *link_columns).where(*join, _in_criteria(link_columns, batch))
        if prop.order_by_clauses:
            statement = statement.order_by(*prop.order_by_clauses)
        objects, rows = loading.load_entity_rows(session, statement, target, _cause(prop, number, len(batches)), populate_existing)
        width = len(link_columns)
        for obj, row in zip(objects, rows):
            by_key[tuple(row[-width:])].append(obj)
        loaded.extend(objects)
    for parent in parents:
        d = parent.__dict__
        collection = InstrumentedList(parent, prop)
        list.extend(collection, by_key.get(tuple([d.get(a) for a in parent_attrs]), ()))
        collection._mark_committed()
        d[prop.key] = collection
    return loaded


def _load_selectin_many_to_one(session: Any, prop: Any, parents: list[Any], populate_existing: bool) -> list[Any]:
    from minialchemy.orm import loading

    target = prop.mapper
    pairs = prop.fk_attr_keys()  # [(target key attribute, parent foreign-key attribute)]
    target_attrs = [one for one, _ in pairs]
    fk_attrs = [many for _, many in pairs]
    # every referenced row is selected, even one whose object is in the identity map already
    # (as SQLAlchemy does): the load then also tells which ones are gone
    found: dict[tuple[Any, ...], Any] = {}
    for parent in parents:
        d = parent.__dict__
        fk = tuple([d.get(a) for a in fk_attrs])
        if None not in fk:
            found[fk] = None
    loaded: list[Any] = []
    target_columns = [target._props[a].column for a in target_attrs]
    batches = list(_batches(list(found)))
    for number, batch in enumerate(batches, 1):
        statement = select(target.class_).where(_in_criteria(target_columns, batch))
        objects, _ = loading.load_entity_rows(session, statement, target, _cause(prop, number, len(batches)), populate_existing)
        for obj in objects:
            found[tuple([obj.__dict__.get(a) for a in target_attrs])] = obj
        loaded.extend(objects)
    for parent in parents:
        d = parent.__dict__
        fk = tuple([d.get(a) for a in fk_attrs])
        d[prop.key] = None if None in fk else found.get(fk)
    return loaded


# -- joined loading ----------------------------------------------------------------------------


class JoinedEager:
    """One relationship loaded in the statement's own rows: ``LEFT OUTER JOIN address AS
    address_1`` (``joinedload``), or the columns of a JOIN the statement has (``contains_eager``).

    ``parent_slot`` says which object of the row is the parent (the statement's entities first,
    then the objects of the eager loads before this one); the related row's columns start at
    ``offset``."""

    __slots__ = ("prop", "parent_slot", "offset")

    def __init__(self, prop: Any, parent_slot: int, offset: int) -> None:
        self.prop = prop
        self.parent_slot = parent_slot
        self.offset = offset

    def __repr__(self) -> str:
        return f"<JoinedEager {self.prop!r} from slot {self.parent_slot} at column {self.offset}>"


def plan_joined(
    statement: Any, entities: Sequence[tuple[Any, Any]], tree: dict[Any, LoadNode] | None, width: int
) -> tuple[Any, list[JoinedEager]]:
    """Add the joins and columns that ``joinedload`` / ``contains_eager`` (and ``lazy="joined"``)
    need to ``statement``, after its ``width`` columns.  ``entities`` gives, for each entity the
    statement selects, its mapper and its FROM (table or alias)."""
    from minialchemy.orm import relationship_clauses

    loaders: list[JoinedEager] = []

    def visit(mapper: Any, parent_from: Any, parent_slot: int, children: dict[Any, LoadNode], path: tuple[Any, ...]) -> None:
        nonlocal statement, width
        props = [p for p in children if p.parent is mapper]
        props += [p for p in _eager_defaults(mapper) if p not in children and p not in path and p.lazy == "joined"]
        for prop in props:
            node = children.get(prop)
            strategy = node.strategy if node is not None and node.strategy is not None else prop.lazy
            if strategy == "joined":
                target_from = prop.mapper.local_table.alias()
                on = relationship_clauses.onclause(prop, parent_from, target_from)
                statement = statement.join_from(parent_from, target_from, on, isouter=True)
            elif strategy == "contains_eager":
                target_from = node.target_from if node is not None and node.target_from is not None else prop.mapper.local_table
            else:
                continue
            statement = statement.add_columns(target_from)
            loaders.append(JoinedEager(prop, parent_slot, width))
            width += len(prop.mapper._column_attr_keys)
            slot = len(entities) + len(loaders) - 1
            visit(prop.mapper, target_from, slot, node.children if node is not None else {}, (*path, prop))

    for index, (mapper, from_) in enumerate(entities):
        visit(mapper, from_, index, tree or {}, ())
    return statement, loaders


def populate_joined(
    session: Any,
    loaders: list[JoinedEager],
    parents_per_row: Sequence[Sequence[Any]],
    rows: Sequence[Sequence[Any]],
    populate_existing: bool,
) -> None:
    """Share the joined rows out: each related row becomes an object (through the identity
    map) and joins its parent's collection, once however many rows repeat it.  A relationship
    the parent had loaded already is left as it was, unless ``populate_existing``."""
    from minialchemy.orm.relationships import InstrumentedList

    load_instance = _accel.instrumentation.load_instance
    identity_map = session.identity_map
    session_id = session.hash_key
    #: per loader: id(parent) -> (parent, related objects in row order, their ids)
    found: list[dict[int, tuple[Any, list[Any], set[int]]]] = [{} for _ in loaders]
    for parents, row in zip(parents_per_row, rows):
        slots = list(parents)
        for number, loader in enumerate(loaders):
            parent = slots[loader.parent_slot]
            child = None
            if parent is not None:
                mapper = loader.prop.mapper
                keys = mapper._column_attr_keys
                chunk = row[loader.offset : loader.offset + len(keys)]
                pk = tuple([chunk[i] for i in mapper._pk_positions])
                if None not in pk:
                    child = load_instance(mapper, identity_map, session_id, (mapper.class_, pk, None), keys, chunk)
                entry = found[number].get(id(parent))
                if entry is None:
                    entry = found[number][id(parent)] = (parent, [], set())
                if child is not None and id(child) not in entry[2]:
                    entry[2].add(id(child))
                    entry[1].append(child)
            slots.append(child)
    for loader, by_parent in zip(loaders, found):
        prop = loader.prop
        key = prop.key
        for parent, children, _ in by_parent.values():
            d = parent.__dict__
            if key in d and not populate_existing:
                continue
            if prop.uselist:
                collection = InstrumentedList(parent, prop)
                list.extend(collection, children)
                d[key] = collection
            else:
                d[key] = children[0] if children else None
