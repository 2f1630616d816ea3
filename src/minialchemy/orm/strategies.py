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


from minialchemy import _accel
from minialchemy.exc import InvalidRequestError
from minialchemy.orm.weakmaps import WeakKeyMap
from minialchemy.sql.compiler import compile_element
from minialchemy.sql.elements import and_, or_
from minialchemy.sql.selectable import select

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Iterable, Sequence

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
    "set_loaded",
]

#: parent keys per ``IN (...)`` of a selectin load, as SQLAlchemy does (SQLite accepts many more
#: bound parameters; 500 keeps each statement readable in the echo log and cheap to compile)
SELECTIN_BATCH_SIZE = 500

#: per-object strategies set by a statement's options that differ from the relationship's
#: default (``raiseload(User.addresses)`` on objects whose relationship is lazy by default);
#: read when the attribute is first accessed.  Kept beside the state, weakly, so the
#: instrumentation twins need no field for it.
_object_strategies: "WeakKeyMap" = WeakKeyMap()

#: compiled selectin statements: relationship -> (number of keys, extra columns) -> Compiled
_compiled_in_batches: "WeakKeyMap" = WeakKeyMap()

#: the relationships of a mapper that load eagerly by default (``lazy="selectin"`` and so on)
_default_eager: "WeakKeyMap" = WeakKeyMap()


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


def set_loaded(parent: Any, prop: Any, related: Sequence[Any]) -> None:
    """Give ``parent`` its loaded relationship, as the database holds it: a collection (whose
    members are then the committed ones, for a many-to-many's flush), or for a scalar
    relationship the one related object or None."""
    from minialchemy.orm.relationships import InstrumentedList

    if prop.uselist:
        collection = InstrumentedList(parent, prop)
        if related:
            list.extend(collection, related)
        collection._mark_committed()
        parent.__dict__[prop.key] = collection
    else:
        parent.__dict__[prop.key] = related[0] if related else None


def _set_empty(prop: Any, objects: Sequence[Any], populate_existing: bool) -> None:
    key = prop.key
    for obj in objects:
        if key not in obj.__dict__ or populate_existing:
            set_loaded(obj, prop, ())


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


def _run_in_batches(
    session: Any,
    prop: Any,
    target: Any,
    key_columns: list[Any],
    extra_columns: list[Any],
    keys: list[tuple[Any, ...]],
    populate_existing: bool,
    criteria: Sequence[Any] = (),
) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """``SELECT target, *extra_columns WHERE key_columns IN (keys) AND criteria``, 500 keys a
    statement: the objects and the raw rows.  A statement is compiled once per relationship and
    number of keys and reused with the next batch's values (the batches of a large load all
    have 500)."""
    from minialchemy.orm import loading

    order = prop.order_by_clauses
    cache = _compiled_in_batches.get(prop)
    if cache is None:
        cache = _compiled_in_batches[prop] = {}
    batches = list(_batches(keys))
    objects: list[Any] = []
    rows: list[tuple[Any, ...]] = []
    for number, batch in enumerate(batches, 1):
        cache_key = (len(batch), tuple(extra_columns))
        compiled = cache.get(cache_key)
        if compiled is None:
            statement = select(target.class_, *extra_columns).where(*criteria, _in_criteria(key_columns, batch))
            if order:
                statement = statement.order_by(*order)
            compiled = cache[cache_key] = compile_element(statement, dialect="sqlite")
        values = [value for key in batch for value in key]
        params = compiled.construct_params({name: value for (name, _), value in zip(compiled.binds, values)})
        found, found_rows = loading.load_compiled_rows(session, compiled, params, target, _cause(prop, number, len(batches)), populate_existing)
        objects.extend(found)
        rows.extend(found_rows)
    return objects, rows


def _load_selectin_one_to_many(session: Any, prop: Any, parents: list[Any], populate_existing: bool) -> list[Any]:
    """``SELECT address.*, address.user_id FROM address WHERE address.user_id IN (...)``."""
    target = prop.mapper
    pairs = prop.fk_attr_keys()  # [(parent key attribute, child foreign-key attribute)]
    fk_columns = [target._props[many].column for _, many in pairs]
    return _load_selectin_collections(session, prop, parents, [one for one, _ in pairs], fk_columns, (), populate_existing)


def _load_selectin_many_to_many(session: Any, prop: Any, parents: list[Any], populate_existing: bool) -> list[Any]:
    """``SELECT tag.*, post_tag.post_id FROM tag, post_tag WHERE tag.id = post_tag.tag_id AND
    post_tag.post_id IN (...)``: one related object may belong to several parents."""
    parent_attrs = [prop.parent._col_to_attr[parent_column] for parent_column, _ in prop.secondary_pairs]
    association_columns = [association_column for _, association_column in prop.secondary_pairs]
    through = [target_column == association_column for target_column, association_column in prop.secondary_target_pairs]
    loaded = _load_selectin_collections(session, prop, parents, parent_attrs, association_columns, through, populate_existing)
    return list({id(obj): obj for obj in loaded}.values())


def _load_selectin_collections(
    session: Any,
    prop: Any,
    parents: list[Any],
    parent_attrs: list[str],
    key_columns: list[Any],
    through: Sequence[Any],
    populate_existing: bool,
) -> list[Any]:
    """Fill each parent's collection from rows selected by ``key_columns IN (parent keys)``.

    The key columns come once more at the end of each row: which parent a row belongs to, as
    the database says (an object's attribute may have been changed since)."""
    by_key: dict[tuple[Any, ...], list[Any]] = {}
    for parent in parents:
        d = parent.__dict__
        parent_key = tuple([d.get(a) for a in parent_attrs])
        if None not in parent_key:
            by_key[parent_key] = []
    objects, rows = _run_in_batches(session, prop, prop.mapper, key_columns, key_columns, list(by_key), populate_existing, through)
    width = len(key_columns)
    for obj, row in zip(objects, rows):
        by_key[row[-width:]].append(obj)
    for parent in parents:
        d = parent.__dict__
        set_loaded(parent, prop, by_key.get(tuple([d.get(a) for a in parent_attrs]) if width > 1 else (d.get(parent_attrs[0]),)))
    return objects


def _load_selectin_many_to_one(session: Any, prop: Any, parents: list[Any], populate_existing: bool) -> list[Any]:
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
    target_columns = [target._props[a].column for a in target_attrs]
    loaded, _ = _run_in_batches(session, prop, target, target_columns, [], list(found), populate_existing)
    for obj in loaded:
        found[tuple([obj.__dict__.get(a) for a in target_attrs])] = obj
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
    from minialchemy.orm.relationships import MANYTOMANY

    loaders: list[JoinedEager] = []

    def visit(mapper: Any, parent_from: Any, parent_slot: int, children: dict[Any, LoadNode], path: tuple[Any, ...]) -> None:
        nonlocal statement, width
        props = [p for p in children if p.parent is mapper]
        props += [p for p in _eager_defaults(mapper) if p not in children and p not in path and p.lazy == "joined"]
        for prop in props:
            node = children.get(prop)
            strategy = node.strategy if node is not None and node.strategy is not None else prop.lazy
            if strategy == "joined":
                if prop.uselist and (statement._limit is not None or statement._offset is not None):
                    name = f"{prop.parent.class_.__name__}.{prop.key}"
                    raise InvalidRequestError(
                        f"joinedload({name}) cannot be combined with LIMIT/OFFSET here: the limit "
                        f"would count joined rows, not {prop.parent.class_.__name__} objects, and cut "
                        f"collections short (SQLAlchemy wraps the statement in a subquery; "
                        f"minialchemy does not yet). Use selectinload({name}) instead."
                    )
                target_from = prop.mapper.local_table.alias()
                if prop.direction == MANYTOMANY:  # through an alias of the association table
                    secondary_from = prop.secondary_table.alias()
                    to_secondary, to_target = relationship_clauses.secondary_onclauses(prop, parent_from, target_from, secondary_from)
                    statement = statement.join_from(parent_from, secondary_from, to_secondary, isouter=True)
                    statement = statement.join_from(secondary_from, target_from, to_target, isouter=True)
                else:
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
            if key not in parent.__dict__ or populate_existing:
                set_loaded(parent, prop, children)
