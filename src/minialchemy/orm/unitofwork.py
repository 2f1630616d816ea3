"""The Unit of Work: the session's pending changes become a plan, and the plan is what runs.

Pattern: Fowler's *Unit of Work* -- "maintains a list of objects affected by a business
transaction and coordinates the writing out of changes".  A flush goes in two phases:

1. **Plan** (:func:`plan_flush`).  Read the session (``new``, ``dirty``, ``deleted``) and
   decide everything a flush will write, changing nothing: which objects each table INSERTs,
   UPDATEs and DELETEs, with which strategy, in which order, and the Core statements (compiled
   SQL) each step will send.  The result is a :class:`FlushPlan`: a numbered list of small step
   objects, each with the objects it covers and the dependency that put it where it is
   ("why").  Deciding may need to read: a deleted parent's collection is loaded to know its
   children (logged with that cause), and a table about to take a batched INSERT is asked
   whether a rowid is already at 2**63-1.
2. **Run** (:func:`flush`): execute exactly those steps, in order.  Nothing a flush writes is
   decided outside the plan; ``session.explain_flush()`` returns the same plan without
   running it.

The kinds of step, in the order a plan uses them:

- :class:`ProcessDeletedParents`: children of deleted parents are deleted too (``cascade=
  "delete"``) or get their foreign key set to NULL; children removed from a collection are
  deleted (``delete-orphan``), expunged (pending ones) or get NULL.
- for each table, parents first (foreign keys decide the order):
  :class:`SyncForeignKeys` (copy the parents' primary keys, new ones included, into the
  children's foreign-key attributes), :class:`InsertRows` (one step per strategy: primary keys
  given -> ``executemany``; keys SQLite assigns -> batched ``RETURNING`` or one row per
  statement), :class:`UpdateRows`;
- for each table, children first: :class:`DeleteRows`.

Each step changes the objects' states as its rows are written: INSERTed objects become
persistent (identity key, identity map), UPDATEd ones clean, DELETEd ones deleted.  So a change
made *during* the flush (by a column default, a callback) to an object whose row was already
written is tracked again, and an object added during the flush is still pending: the flush then
plans and runs again until nothing is left (at most :data:`MAX_FLUSH_ROUNDS` times), so work
added during a flush is written, never dropped.  If a statement fails, the keys this flush
filled in are taken back and the session refuses work until ``rollback()``.

Where it sits: called by ``Session._flush`` and ``Session.explain_flush``; the statements are
built and run by :mod:`minialchemy.orm.persistence` through the engine's public Connection
methods, with each step's name as the cause in the echo log.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings

from minialchemy import _accel
from minialchemy.engine import insertmanyvalues
from minialchemy.exc import CircularDependencyError, SAWarning, StatementError
from minialchemy.orm import loading, persistence
from minialchemy.orm.exc import FlushError, StaleDataError
from minialchemy.orm.mapper import _identity_str, _instance_str
from minialchemy.orm.relationships import (
    MANYTOMANY,
    MANYTOONE,
    ONETOMANY,
    InstrumentedList,
    _reference_in_identity_map,
    _replaced_children,
    replaced_children,
)
from minialchemy.sql.compiler import compile_element
from minialchemy.sql.dml import delete as delete_statement
from minialchemy.sql.dml import insert as insert_statement
from minialchemy.sql.elements import bindparam

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any, Iterator, Sequence
    from minialchemy.engine.base import Connection
    from minialchemy.orm.mapper import Mapper
    from minialchemy.orm.relationships import RelationshipProperty
    from minialchemy.orm.session import Session

__all__ = [
    "FlushPlan",
    "FlushStep",
    "ProcessDeletedParents",
    "SyncForeignKeys",
    "InsertRows",
    "UpdateRows",
    "DeleteRows",
    "DeleteAssociationRows",
    "InsertAssociationRows",
    "plan_flush",
    "flush",
    "MAX_FLUSH_ROUNDS",
]

#: a flush plans and runs again while work was added during it; more rounds than this mean a
#: callback adds work on every flush (SQLAlchemy's commit() stops at the same number)
MAX_FLUSH_ROUNDS = 100

#: the foreign-key value of a child whose parent is new and gets its key from SQLite
_UNKNOWN_KEY = object()
_MISSING = object()


def _state(obj: Any) -> Any:
    return obj.__dict__[_accel.instrumentation.STATE_KEY]


def _relationships(mapper: Mapper, direction: str) -> list[RelationshipProperty]:
    props = [mapper._props[key] for key in mapper._relationship_keys]
    for prop in props:
        prop._resolve()
    return [prop for prop in props if prop.direction == direction and not prop.viewonly]


# -- relationship patterns: one-to-one values, trees, association rows ------------------------

def _as_list(value: Any) -> list[Any]:
    """A relationship's value as a list: a collection, or a one-to-one's object (or nothing)."""
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [value]


def _has_other_parent(prop: Any, child: Any, parent: Any) -> bool:
    """The removed child now belongs to another parent (through ``back_populates``): not an
    orphan."""
    if not prop.back_populates:
        return False
    other = child.__dict__.get(prop.back_populates)
    return other is not None and other is not parent


# -- self-referential tables: rows in dependency order ------------------------------------------


def _self_referential(mapper: Any) -> list[Any]:
    """The relationships of ``mapper`` to itself (an adjacency list), configured."""
    props = [mapper._props[key] for key in mapper._relationship_keys]
    for prop in props:
        prop._resolve()
    return [p for p in props if p.mapper is mapper and p.direction in (MANYTOONE, ONETOMANY) and not p.viewonly]


def _parent_edges(props: list[Any], objects: list[Any], among: list[Any]) -> list[tuple[Any, Any]]:
    """``(parent, child)`` pairs between objects of ``among`` (the new ones), from the
    relationships ``props`` of a self-referential mapper as they are in memory: a child's
    many-to-one, or a parent's one-to-many collection (``objects``: every saved object)."""
    ids = {id(o) for o in among}
    edges = []
    for obj in objects:
        d = obj.__dict__
        for prop in props:
            if prop.key not in d:
                continue
            if prop.direction == MANYTOONE:
                parent = d[prop.key]
                if parent is not None and id(obj) in ids and id(parent) in ids:
                    edges.append((parent, obj))
            elif id(obj) in ids:
                edges.extend((obj, child) for child in _as_list(d[prop.key]) if id(child) in ids)
    return edges


def _levels(objects: list[Any], edges: list[tuple[Any, Any]], what: str) -> list[list[Any]]:
    """Topological sort by levels: level 0 has no parent among ``objects``, level n only
    parents in the levels before it; each level keeps the order of ``objects``.  Rows that
    depend on each other in a circle raise CircularDependencyError."""
    parents_left = {id(o): 0 for o in objects}
    children: dict[int, list[Any]] = {}
    for parent, child in edges:
        if parent is child:
            parents_left[id(child)] += 1
            continue
        parents_left[id(child)] += 1
        children.setdefault(id(parent), []).append(child)
    levels = []
    current = [o for o in objects if parents_left[id(o)] == 0]
    placed = 0
    while current:
        levels.append(current)
        placed += len(current)
        released = set()
        for parent in current:
            for child in children.get(id(parent), ()):
                parents_left[id(child)] -= 1
                if parents_left[id(child)] == 0:
                    released.add(id(child))
        current = [o for o in objects if id(o) in released]
    if placed != len(objects):
        from minialchemy.orm.mapper import _instance_str

        stuck = [o for o in objects if parents_left[id(o)] > 0]
        names = ", ".join(_instance_str(o) for o in stuck[:6]) + (" ..." if len(stuck) > 6 else "")
        raise CircularDependencyError(
            f"Circular dependency detected: {len(stuck)} {what} depend on each other in a circle "
            f"({names}); no order of statements satisfies their foreign keys.  Break the cycle "
            f"(set one of these parents to None) before flushing.",
            cycles=stuck,
            edges=[(p, c) for p, c in edges if id(c) in {id(o) for o in stuck}],
        )
    return levels


def insert_levels(mapper: Any, new: list[Any], saved: list[Any]) -> list[list[Any]]:
    """The new objects of a self-referential ``mapper`` in INSERT order, as levels of the
    tree: parents (level 0) before their children (level 1) before theirs.  Each level can be
    one batch: its parents' primary keys exist when its foreign keys are copied."""
    props = _self_referential(mapper)
    if not props or len(new) < 2:
        return [new]
    # (``saved``: every object the flush saves of this mapper, new or not: a persistent
    # parent's collection may list new children)
    return _levels(new, _parent_edges(props, saved, new), f"new {mapper.class_.__name__} objects")


def delete_levels(session: Any, mapper: Any, deleted: list[Any]) -> list[list[Any]]:
    """The deleted objects of a self-referential ``mapper`` in DELETE order: leaves first,
    then their parents.  Ordered by the foreign-key values the rows hold."""
    props = _self_referential(mapper)
    if not props or len(deleted) < 2:
        return [deleted]
    pairs = props[0].pairs
    one_keys = [mapper._col_to_attr[one] for one, _ in pairs]
    many_keys = [mapper._col_to_attr[many] for _, many in pairs]
    with session.no_autoflush:
        by_key = {tuple(getattr(o, k) for k in one_keys): o for o in deleted}
        edges = []
        for obj in deleted:
            parent = by_key.get(tuple(getattr(obj, k) for k in many_keys))
            if parent is not None:
                edges.append((parent, obj))
    levels = _levels(deleted, edges, f"deleted {mapper.class_.__name__} objects")
    levels.reverse()
    return levels


# -- many-to-many: association rows -------------------------------------------------------------


class AssociationRows:
    """The association-table rows a flush inserts and deletes (many-to-many ``secondary=``),
    each once even when both sides of the relationship show the change."""

    def __init__(self) -> None:
        self.to_insert: dict[Any, dict[tuple[Any, ...], dict[Any, Any]]] = {}
        self.to_delete: dict[Any, dict[tuple[Any, ...], dict[Any, Any]]] = {}

    @staticmethod
    def _row(prop: Any, owner: Any, item: Any) -> dict[Any, Any]:
        row = {}
        for parent_column, column in prop.secondary_pairs:
            row[column] = getattr(owner, prop.parent._col_to_attr[parent_column])
        for target_column, column in prop.secondary_target_pairs:
            row[column] = getattr(item, prop.mapper._col_to_attr[target_column])
        return row

    def _add(self, into: dict[Any, Any], prop: Any, owner: Any, item: Any) -> None:
        row = self._row(prop, owner, item)
        table = prop.secondary_table
        key = tuple(row.get(c) for c in table.columns)
        into.setdefault(table, {})[key] = row

    def insert(self, prop: Any, owner: Any, item: Any) -> None:
        self._add(self.to_insert, prop, owner, item)

    def delete(self, prop: Any, owner: Any, item: Any) -> None:
        self._add(self.to_delete, prop, owner, item)

    def __bool__(self) -> bool:
        return bool(self.to_insert or self.to_delete)


def _many_to_many(mapper: Any) -> list[Any]:
    props = [mapper._props[key] for key in mapper._relationship_keys]
    for prop in props:
        prop._resolve()
    return [p for p in props if p.direction == MANYTOMANY and not p.viewonly]



# -- the plan --------------------------------------------------------------------------------


class _FlushRun:
    """What the steps of one running flush share: the session, the connection, the cause, and
    what to undo if a statement fails (the primary keys filled in)."""

    def __init__(self, session: Session, connection: Connection, cause: str, plan: FlushPlan) -> None:
        self.session = session
        self.connection = connection
        self.cause = cause
        self.plan = plan
        self.filled: list[persistence.FilledKeys] = []
        #: set once a step ran that may have changed objects' values since the plan was made
        self.objects_changed = False
        #: the objects of each INSERT step, in order (the steps' own lists, not one list of
        #: every object: see persistence.runs_by_columns on what a list of them costs)
        self.inserted: list[Sequence[Any]] = []
        #: objects written whose collections hold what the database holds once the flush ends
        self.written_with_relationships: list[Any] = []
        self.direct_writes = plan.direct_writes

    def cause_of(self, step: FlushStep) -> str:
        """The echo log's cause for the statements of ``step``: the flush and the plan step."""
        return f"{self.cause}, step {step.number} of {len(self.plan)}: {step.operation} {step.table}"


class FlushStep:
    """One step of a :class:`FlushPlan`.

    ``operation`` says what it does (``"INSERT"``, ``"UPDATE"``, ``"DELETE"`` for the steps
    that send statements; ``"PROCESS"``, ``"SYNC"`` for the ones that prepare them), ``table``
    the table's name, ``strategy`` how its statements go, ``objects`` the objects it covers,
    ``why`` the dependency that put it at this place, ``sql`` the SQL of its (first) statement
    and ``statements`` all of them, in the order the flush sends them.
    """

    operation = ""
    #: what a learner calls this kind of step
    title = ""
    #: whether running the step may change attribute values of objects that later steps write
    #: (then an UPDATE step works out its rows again instead of sending the planned ones)
    may_change_objects = False

    def __init__(self, mapper: Mapper, objects: Sequence[Any], why: str) -> None:
        self.mapper = mapper
        self.table: str = mapper.local_table.name
        self.objects: list[Any] = list(objects)
        self.why = why
        self.strategy: str | None = None
        self.number = 0  # its place in the plan, from 1

    @property
    def statements(self) -> list[str]:
        """The SQL text of every statement this step sends, in order (none for preparing steps)."""
        return []

    @property
    def sql(self) -> str | None:
        """The SQL of the step's first statement (None when it sends none)."""
        statements = self.statements
        return statements[0] if statements else None

    @property
    def row_count(self) -> int:
        return len(self.objects)

    def execute(self, run: _FlushRun) -> None:  # pragma: no cover - every step overrides it
        raise NotImplementedError

    def _detail(self) -> str:
        return f"{self.row_count} object{'s' if self.row_count != 1 else ''}"

    def _shown_sql(self) -> str | None:
        statements = self.statements
        if not statements:
            return None
        shown = statements[0]
        if len(statements) > 1:
            shown += f"   [{len(statements)} statements]"
        return shown

    def describe(self) -> str:
        """The step as ``str(plan)`` prints it."""
        head = f"{self.number}. {self.operation} {self.table}: {self.title}"
        lines = [head, f"   {self._detail()}", f"   why here: {self.why}"]
        shown = self._shown_sql()
        if shown is not None:
            lines.append(f"   SQL: {shown}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.number}: {self.operation} {self.table} ({len(self.objects)} objects)>"


class FlushPlan:
    """The steps of one flush, in the order they run: iterate it, index it, print it."""

    def __init__(
        self,
        steps: Sequence[FlushStep],
        direct_writes: set[tuple[int, str]] | None = None,
        key_switched: set[int] | None = None,
    ) -> None:
        self.steps: list[FlushStep] = list(steps)
        for number, step in enumerate(self.steps, 1):
            step.number = number
        #: ``(id(object), attribute)`` of foreign keys set by hand (they win over the sync)
        self.direct_writes: set[tuple[int, str]] = direct_writes or set()
        #: ids of the persistent objects whose primary key the flush changes (their loaded
        #: children follow in memory only, as with SQLAlchemy's passive_updates)
        self.key_switched: set[int] = key_switched or set()

    def __iter__(self) -> Iterator[FlushStep]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index: int) -> FlushStep:
        return self.steps[index]

    def __bool__(self) -> bool:
        return bool(self.steps)

    @property
    def statements(self) -> list[str]:
        """The SQL of every statement the flush will send, in order."""
        return [sql for step in self.steps for sql in step.statements]

    def __str__(self) -> str:
        if not self.steps:
            return "nothing to flush"
        header = f"flush plan: {len(self.steps)} step{'s' if len(self.steps) != 1 else ''}"
        return "\n".join([header, *(step.describe() for step in self.steps)])

    def __repr__(self) -> str:
        return f"<FlushPlan of {len(self.steps)} steps>"


class ProcessDeletedParents(FlushStep):
    """Children of deleted parents, children removed from collections: deleted with their parent
    (``cascade="delete"``, ``delete-orphan``), expunged (a pending orphan), or their foreign key
    set to NULL.  Runs first: it decides rows the later steps write."""

    operation = "PROCESS"
    title = "process children of deleted parents and removed children"
    may_change_objects = True

    def __init__(
        self,
        mapper: Mapper,
        deletes: list[Any],
        nulls: list[tuple[Any, RelationshipProperty, Any]],
        expunges: list[Any],
    ) -> None:
        super().__init__(
            mapper,
            [*deletes, *(child for child, _, _ in nulls), *expunges],
            "first: what happens to the children of a deleted parent (or of a collection they "
            "left) decides which rows the later steps INSERT, UPDATE and DELETE",
        )
        self.table = ", ".join(dict.fromkeys(type(o).__mapper__.local_table.name for o in self.objects))
        self.deletes = deletes
        self.nulls = nulls
        self.expunges = expunges

    def _detail(self) -> str:
        return f"{len(self.deletes)} deleted with their parent, {len(self.nulls)} foreign keys set to NULL, {len(self.expunges)} pending orphans expunged"

    def execute(self, run: _FlushRun) -> None:
        session = run.session
        for child in self.deletes:
            session.delete(child)
        for child, prop, parent in self.nulls:
            for _, many in prop.fk_attr_keys():
                setattr(child, many, None)
        for child in self.expunges:
            if _state(child).session_id == session.hash_key:
                session.expunge(child)


class SyncForeignKeys(FlushStep):
    """Copy parents' primary keys into the foreign-key attributes of one table's objects (a new
    parent's key exists by now: its table was INSERTed first)."""

    operation = "SYNC"
    title = "sync foreign keys from parents"
    may_change_objects = True

    def __init__(self, mapper: Mapper, objects: Sequence[Any], why: str, saved: dict[Mapper, list[Any]]) -> None:
        super().__init__(mapper, objects, why)
        self.saved = saved

    def _detail(self) -> str:
        pairs = []
        for prop in _relationships(self.mapper, MANYTOONE):
            parent = prop.mapper
            pairs += [f"{self.table}.{many} = {parent.local_table.name}.{one}" for one, many in prop.fk_attr_keys()]
        for parent in self.saved:
            for prop in _relationships(parent, ONETOMANY):
                if prop.mapper is self.mapper:
                    pairs += [f"{self.table}.{many} = {parent.local_table.name}.{one}" for one, many in prop.fk_attr_keys()]
        shown = ", ".join(dict.fromkeys(pairs))
        return f"{super()._detail()}: {shown}" if shown else super()._detail()

    def execute(self, run: _FlushRun) -> None:
        _sync_foreign_keys(run.session, self.mapper, self.saved, run.direct_writes, run.plan.key_switched)


class InsertRows(FlushStep):
    """INSERT the new objects of one table with one strategy (``persistence`` has the three)."""

    operation = "INSERT"
    title = "insert new rows"

    def __init__(self, mapper: Mapper, objects: Sequence[Any], why: str, strategy: str, connection: Connection) -> None:
        super().__init__(mapper, objects, why)
        self.strategy = strategy
        # a column default is a callable of yours, run by this step
        self.may_change_objects = any(p.column.default is not None for p in mapper._column_props)
        engine = connection.engine
        statements = persistence.statements_for(mapper)
        #: rows per batched statement (the batched strategy only)
        self.batch_size: int | None = None
        if strategy == persistence.BATCHED:
            width = len(statements.columns_for(_planned_insert_dict(mapper, self.objects[0])))
            self.batch_size = insertmanyvalues.rows_per_statement(engine.dialect, width, engine.insertmanyvalues_page_size)
        self._supports_returning = engine.dialect.supports_returning
        # the statement shapes, fixed now (the objects' keys are filled in by the flush):
        # (columns written, number of rows, server-generated key columns read back)
        self._shapes: list[tuple[tuple[str, ...], int, tuple[str, ...]]] = []
        for keys, run in persistence.runs_by_columns(statements, self.objects, lambda obj: _planned_insert_dict(mapper, obj)):
            if strategy == persistence.PER_ROW and statements.server_key_keys:
                for obj in run:
                    d = obj.__dict__
                    self._shapes.append((keys, 1, tuple(k for k in statements.server_key_keys if d.get(k) is None)))
            else:
                self._shapes.append((keys, len(run), ()))

    def _detail(self) -> str:
        strategy = self.strategy
        if self.batch_size is not None:
            strategy = f"{strategy} ({self.batch_size} rows a statement)"
        return f"{strategy}, {self.row_count} row{'s' if self.row_count != 1 else ''}"

    @property
    def statements(self) -> list[str]:
        plan = persistence.statements_for(self.mapper)
        out: list[str] = []
        for keys, n_rows, generated in self._shapes:
            if self.strategy == persistence.CLIENT_KEYS:
                out.append(plan.insert(keys)[0].string)
            elif self.strategy == persistence.BATCHED and keys:
                compiled, _ = plan.insert(keys, returning=(plan.rowid_key,))
                key_column = plan.column(plan.rowid_key)
                size = self.batch_size or 1
                out += [compiled.insertmanyvalues_sql(min(size, n_rows - start), key_column) for start in range(0, n_rows, size)]
            elif not generated:
                out += [plan.insert(keys)[0].string] * n_rows
            elif self._supports_returning:
                out.append(plan.insert(keys, returning=generated)[0].string)
            else:
                out += [plan.insert(keys)[0].string, plan.select_by_rowid(generated).string]
        return out

    def _shown_sql(self) -> str | None:
        statements = self.statements
        if not statements:
            return None
        first_rows = min(self.batch_size or 1, self._shapes[0][1])
        shown = insertmanyvalues.abbreviated_sql(statements[0], first_rows) if self.batch_size else statements[0]
        if len(statements) > 1:
            shown += f"   [{len(statements)} statements]"
        return shown

    def execute(self, run: _FlushRun) -> None:
        mapper = self.mapper
        objects = self.objects
        _apply_python_defaults(mapper, objects)
        cause = run.cause_of(self)
        if self.strategy == persistence.CLIENT_KEYS or self.may_change_objects or run.objects_changed:
            # (the other strategies' objects had no key when planned; only your code, in a
            # column default or an earlier step, could have given them one since)
            _warn_if_identity_taken(run.session, mapper, objects)
        filled = persistence.FilledKeys()
        run.filled.append(filled)
        if self.strategy == persistence.CLIENT_KEYS:
            persistence.emit_insert_client_keys(run.connection, mapper, objects, cause)
        elif self.strategy == persistence.BATCHED:
            self._insert_batched(run, cause, filled)
        else:
            persistence.emit_insert_per_row(run.connection, mapper, objects, cause, filled)
        # pending -> persistent, now: a change made later in this flush is tracked again
        unmarked = filled.not_marked(objects)
        if unmarked:
            run.session._mark_flushed_inserts(mapper, unmarked)
        run.inserted.append(objects)
        if mapper._relationship_keys:
            run.written_with_relationships.extend(objects)


    def _insert_batched(self, run: _FlushRun, cause: str, filled: persistence.FilledKeys) -> None:
        """The batched strategy.  Each statement's objects get their keys and become persistent
        right after it (``mark_inserted_batch``: one pass over them while they are at hand,
        rather than a pass over the whole step's objects at its end); the session learns of
        them once the step's statements have all run (``Session._inserted_by_flush``).  A
        statement that fails later in the step fails the flush, which makes every new object
        transient again, those of earlier statements included, as after a failed later step."""
        session = run.session
        mapper = self.mapper
        states: list[Any] = []
        displaced: list[Any] = []

        def fill_batch(objects: list[Any], start: int, keys: range, attr_key: str) -> None:
            displaced.extend(_accel.instrumentation.mark_inserted_batch(
                mapper, session.identity_map, objects, start, keys, attr_key, states
            ))

        persistence.emit_insert_batched(run.connection, mapper, self.objects, cause, filled, fill_batch=fill_batch)
        session._inserted_by_flush(states, displaced)


class UpdateRows(FlushStep):
    """UPDATE the changed columns of one table's persistent objects (objects with the same
    changed columns share one ``executemany``)."""

    operation = "UPDATE"
    title = "update changed rows"

    def __init__(
        self,
        mapper: Mapper,
        objects: Sequence[Any],
        why: str,
        shapes: dict[tuple[str, ...], int],
        rows: persistence.UpdateGroups | None = None,
    ) -> None:
        super().__init__(mapper, objects, why)
        self.strategy = "executemany"
        #: the sets of changed columns the plan expects, each with its number of rows, in the
        #: order their statements go
        self._planned_shapes = shapes
        #: the rows themselves when the plan could work them out (``update_rows``); sent as
        #: they are unless a step before this one may have changed the objects
        self._planned_rows = rows

    @property
    def row_count(self) -> int:
        return sum(self._planned_shapes.values())

    def _detail(self) -> str:
        groups = len(self._planned_shapes)
        rows = self.row_count
        return f"{rows} row{'s' if rows != 1 else ''} in {groups} statement{'s' if groups != 1 else ''} (one executemany per set of changed columns)"

    @property
    def statements(self) -> list[str]:
        plan = persistence.statements_for(self.mapper)
        return [plan.update(keys)[0].string for keys in self._planned_shapes]

    def execute(self, run: _FlushRun) -> None:
        session = run.session
        # the planned rows, unless a step before this one may have changed the objects: then
        # the changes are found again
        rows = None if run.objects_changed else self._planned_rows
        if _load_expired_keys(session, self.mapper, self.objects, "UPDATE"):
            rows = None  # (loading changes no value the UPDATE writes; found again all the same)
        persistence.emit_update(run.connection, self.mapper, self.objects, run.cause_of(self), rows)
        # written: these values are the committed ones now, the objects no longer modified (a
        # changed primary key moves the identity key); a change made later in this flush marks
        # an object modified again (and is flushed), it is not swallowed
        session._mark_flushed_updates(self.objects)
        if self.mapper._relationship_keys:
            run.written_with_relationships.extend(self.objects)


class DeleteRows(FlushStep):
    """DELETE the rows of one table's deleted objects (one ``executemany``)."""

    operation = "DELETE"
    title = "delete rows"

    def __init__(self, mapper: Mapper, objects: Sequence[Any], why: str) -> None:
        super().__init__(mapper, objects, why)
        self.strategy = "executemany"

    @property
    def statements(self) -> list[str]:
        return [persistence.statements_for(self.mapper).delete().string]

    def execute(self, run: _FlushRun) -> None:
        session = run.session
        _load_expired_keys(session, self.mapper, self.objects, "DELETE")
        persistence.emit_delete(run.connection, self.mapper, self.objects, run.cause_of(self))
        for obj in self.objects:  # persistent -> deleted
            session._mark_deleted(obj, _state(obj))
            session._deleted.discard(obj)
            session._modified.discard(obj)


def _load_expired_keys(session: Session, mapper: Mapper, objects: Sequence[Any], operation: str) -> bool:
    """Load the expired attributes of each of ``objects`` whose primary key is expired (expired
    and then changed, or deleted, without a load), as SQLAlchemy does before it UPDATEs or
    DELETEs a row: ObjectDeletedError names an object whose row is gone (instead of a row
    count that does not match), and the object holds its values afterwards.  Return whether
    any was loaded.  (One pass over the objects, in C with the compiled twins, which makes no
    ``__dict__`` for a loaded object; nothing else in the common case.)"""
    stale = _accel.instrumentation.with_missing_values(objects, mapper._pk_attr_keys)
    for obj in stale:
        d = obj.__dict__
        expired = [key for key in mapper._column_attr_keys if key not in d]
        session._load_attributes(
            _state(obj), expired,
            cause=f"flush: load the expired key of {_instance_str(obj)} before its {operation}",
        )
    return bool(stale)


class _AssociationRowsStep(FlushStep):
    """The rows of a many-to-many association table (``secondary=``) a flush deletes or
    inserts: one row per link, written once even when both sides of the relationship show the
    change.  Runs after every INSERT (a link needs the keys of both its objects) and before the
    DELETEs of the rows it links."""

    def __init__(self, table: Any, links: list[tuple[Any, Any, Any]], why: str) -> None:
        prop = links[0][0]
        super().__init__(prop.parent, [owner for _, owner, _ in links], why)
        self.table = table.name
        self.association_table = table
        self.links = links
        self.strategy = "executemany"
        #: the association columns a row fills: the table's, in its order
        written = {column for _, column in prop.secondary_pairs} | {column for _, column in prop.secondary_target_pairs}
        self.columns = [c for c in table.columns if c in written]

    @property
    def row_count(self) -> int:
        # a link seen from both sides (post.tags and tag.posts) is one row
        return len({frozenset((id(owner), id(item))) for _, owner, item in self.links})

    def _detail(self) -> str:
        return f"{self.row_count} association row{'s' if self.row_count != 1 else ''}, one executemany"

    def _rows(self) -> list[dict[str, Any]]:
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        for prop, owner, item in self.links:
            row = AssociationRows._row(prop, owner, item)
            found.setdefault(tuple(row.get(c) for c in self.columns), {c.key: row[c] for c in self.columns})
        return list(found.values())


class DeleteAssociationRows(_AssociationRowsStep):
    """DELETE the association rows of links that went (``DELETE FROM post_tag WHERE
    post_tag.post_id = ? AND post_tag.tag_id = ?``)."""

    operation = "DELETE"
    title = "delete association rows"

    def __init__(self, table: Any, links: list[tuple[Any, Any, Any]]) -> None:
        super().__init__(
            table, links,
            f"links removed from many-to-many collections (or of deleted objects): their "
            f"{table.name} rows go before any row they link is deleted",
        )
        self.statement = delete_statement(table).where(*[c == bindparam(c.key) for c in self.columns])

    @property
    def statements(self) -> list[str]:
        return [compile_element(self.statement, dialect="sqlite").string]

    def execute(self, run: _FlushRun) -> None:
        rows = self._rows()
        result = run.connection.execute(self.statement, rows, execution_options={"cause": run.cause_of(self)})
        if result.rowcount != len(rows):
            raise StaleDataError(
                f"DELETE statement on table {self.table!r} expected to delete {len(rows)} row(s); "
                f"only {result.rowcount} were matched (were the association rows changed by "
                f"someone else?)"
            )


class InsertAssociationRows(_AssociationRowsStep):
    """INSERT the association rows of links added to many-to-many collections."""

    operation = "INSERT"
    title = "insert association rows"

    def __init__(self, table: Any, links: list[tuple[Any, Any, Any]]) -> None:
        super().__init__(
            table, links,
            f"after the INSERTs of the objects they link: a {table.name} row holds both of their "
            f"primary keys",
        )
        self.statement = insert_statement(table)

    @property
    def statements(self) -> list[str]:
        return [compile_element(self.statement, dialect="sqlite", column_keys=[c.key for c in self.columns]).string]

    def execute(self, run: _FlushRun) -> None:
        run.connection.execute(self.statement, self._rows(), execution_options={"cause": run.cause_of(self)})


# -- building the plan (reads the session, changes nothing) ----------------------------------


def _planned_insert_dict(mapper: Mapper, obj: Any) -> dict[str, Any]:
    """The values the INSERT of ``obj`` will see, as far as deciding its columns goes: its
    ``__dict__``, plus the Python-side defaults it will get."""
    d = obj.__dict__
    defaulted = [p.key for p in mapper._column_props if p.column.default is not None and p.key not in d]
    if not defaulted:
        return d
    return {**d, **{key: _MISSING for key in defaulted}}  # a value will be there (not None)


class _Planner:
    """Builds a :class:`FlushPlan` from a session's state (see the module docstring)."""

    def __init__(self, session: Session, connection_source: Any) -> None:
        self.session = session
        self._connection_source = connection_source
        self._connection: Connection | None = None
        # ids of the objects the flush DELETEs, and the objects in the order found
        self.deleted_ids: set[int] = set()
        self.deleted: list[Any] = []
        self._deletes_processed = 0
        self.cascade_deletes: list[Any] = []
        self.nulls: list[tuple[Any, RelationshipProperty, Any]] = []
        self.expunges: list[Any] = []
        #: id(object) -> {attribute: value} the plan's own steps will set (process, sync)
        self.planned_values: dict[int, dict[str, Any]] = {}
        #: ids of the objects whose foreign keys a sync step copies
        self.synced_ids: set[int] = set()
        #: ids of persistent objects whose primary key this flush changes
        self.key_switched: set[int] = set()
        #: mapper -> persistent children a sync step gives a parent's changed key in memory only
        self.sync_only: dict[Mapper, list[Any]] = {}

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self._connection_source()
        return self._connection

    # -- which objects ---------------------------------------------------------------------------

    def _mark_deleted(self, obj: Any) -> bool:
        if id(obj) in self.deleted_ids:
            return False
        self.deleted_ids.add(id(obj))
        self.deleted.append(obj)
        return True

    def _plan_deletes(self) -> None:
        """The objects to DELETE (with the children their cascades reach) and the children
        whose foreign key becomes NULL.  Loads a deleted parent's unloaded collection (with
        ``passive_deletes=True`` only the loaded children are seen to: the database's ON DELETE
        handles the rows).  Called again when orphans join the deleted objects."""
        session = self.session
        for obj in session._deleted:
            self._mark_deleted(obj)
        while self._deletes_processed < len(self.deleted):  # grows as cascades reach further
            obj = self.deleted[self._deletes_processed]
            self._deletes_processed += 1
            _take_references_from_identity_map(obj)
            for prop in _relationships(type(obj).__mapper__, ONETOMANY):
                if prop.passive_deletes:
                    children = _as_list(obj.__dict__.get(prop.key))
                else:
                    # may load: the decision needs it (no autoflush: planning); the log says why
                    what = "delete them" if "delete" in prop.cascade else (
                        f"set {', '.join(many for _, many in prop.fk_attr_keys())} NULL on them")
                    with session.no_autoflush, session.loading_because(
                        f"flush: load {type(obj).__name__}.{prop.key} to {what}, the children of deleted "
                        f"{_identity_str(obj)}"
                    ):
                        children = _as_list(getattr(obj, prop.key))
                for child in children:
                    if id(child) in self.deleted_ids or _state(child).session_id != session.hash_key:
                        continue  # (a child outside the session is none of this flush's business)
                    child_state = _state(child)
                    if "delete" in prop.cascade and child_state.key is not None:
                        self._mark_deleted(child)
                        self.cascade_deletes.append(child)
                    elif "delete" in prop.cascade:
                        self.expunges.append(child)  # a pending child of a deleted parent
                    else:
                        self._plan_null(child, prop, obj)

    def _plan_orphans(self, saved: dict[Mapper, list[Any]]) -> None:
        """Children removed from a loaded collection (or replaced in a one-to-one) since the
        last flush: deleted (``delete-orphan``, unless they moved to another parent), expunged
        (pending ones) or their foreign key set to NULL."""
        session = self.session
        for mapper, objects in saved.items():
            if not mapper._relationship_keys:
                continue
            for obj in objects:
                d = obj.__dict__
                for key in mapper._relationship_keys:
                    value = d.get(key)
                    if isinstance(value, InstrumentedList):
                        if not value._removed or value._committed is not None:  # many-to-many: association rows
                            continue
                        removed = value._removed
                    else:
                        removed = replaced_children(obj, key)
                        if not removed:
                            continue
                    prop = mapper._props[key]
                    for child in removed:
                        if child is value or (isinstance(value, InstrumentedList) and any(item is child for item in value)):
                            continue
                        if id(child) in self.deleted_ids:
                            continue
                        child_state = _state(child)
                        if "delete-orphan" in prop.cascade and not _has_other_parent(prop, child, obj):
                            if child_state.key is not None:
                                if self._mark_deleted(child):
                                    self.cascade_deletes.append(child)
                            elif child_state.session_id == session.hash_key:
                                self.expunges.append(child)
                            continue
                        if child_state.session_id != session.hash_key:
                            continue  # outside the session (transient, detached): nothing written, as SQLAlchemy
                        if _has_other_parent(prop, child, obj):
                            # it moved to another parent: that parent's key is written (by the
                            # many-to-one), or, for a parent outside the session, nothing: no
                            # NULL either, as SQLAlchemy (differential seed 37)
                            continue
                        child_d = child.__dict__
                        if all(child_d.get(many) == d.get(one) for one, many in prop.fk_attr_keys()):
                            self._plan_null(child, prop, None)

    def _plan_null(self, child: Any, prop: RelationshipProperty, parent: Any) -> None:
        self.nulls.append((child, prop, parent))
        values = self.planned_values.setdefault(id(child), {})
        for _, many in prop.fk_attr_keys():
            values[many] = None

    def _saved_by_mapper(self) -> dict[Mapper, list[Any]]:
        """The new and modified objects the flush saves, by mapper, in the order they joined
        the session (one pass, a C loop in the compiled twin: a flush of 100 000 objects
        spent most of its planning time here when it was a Python loop; the two sets are
        chained, not copied into a list first)."""
        session = self.session
        return _accel.instrumentation.group_by_mapper(itertools.chain(session._new, session._modified), self.deleted_ids)

    def _adjust_saved(self, saved: dict[Mapper, list[Any]]) -> None:
        """Orphans and deleted parents' children change what is saved: expunged pending orphans
        and cascade-deleted children leave it, children whose foreign key goes NULL join it."""
        leaving = {id(o) for o in self.expunges} | {id(o) for o in self.cascade_deletes}
        if leaving:
            for mapper, objects in list(saved.items()):
                saved[mapper] = [o for o in objects if id(o) not in leaving]
        for child, _, _ in self.nulls:
            group = saved.setdefault(type(child).__mapper__, [])
            if not any(o is child for o in group):
                group.append(child)

    # -- foreign keys the sync will copy ---------------------------------------------------------

    def _plan_sync(self, saved: dict[Mapper, list[Any]]) -> None:
        """Predict the values the sync steps copy (``_sync_foreign_keys``), so the plan knows
        which rows change; persistent children a sync changes join the UPDATE of their table."""
        session = self.session
        direct_writes = self.direct_writes
        planned = self.planned_values
        added: list[Any] = []
        saved_ids = {id(o) for objects in saved.values() for o in objects}
        deleting = bool(self.deleted_ids or session._txn_deleted)
        for mapper, objects in list(saved.items()):
            many_to_one = _relationships(mapper, MANYTOONE)
            for obj in objects if many_to_one else ():
                d = obj.__dict__
                for prop in many_to_one:
                    if prop.key not in d:
                        continue
                    parent = d[prop.key]
                    if deleting:
                        parent = _unless_deleted_since(session, obj, parent, prop, self.deleted_ids)
                    if not _may_sync(session, obj, parent, prop, direct_writes, self.deleted_ids):
                        continue
                    if self._keeps_written_key(obj, parent, prop):
                        continue
                    self.synced_ids.add(id(obj))
                    if parent is not None and id(parent) in self.key_switched and _state(obj).key is not None:
                        continue  # in memory only, as committed: no UPDATE of the child's row
                    for one, many in prop.fk_attr_keys():
                        planned.setdefault(id(obj), {})[many] = None if parent is None else _key_value(parent, one)
        for parent_mapper, parents in list(saved.items()):
            for prop in _relationships(parent_mapper, ONETOMANY):
                for parent in parents:
                    pd = parent.__dict__
                    collection = pd.get(prop.key)
                    if not collection:
                        continue
                    switched = id(parent) in self.key_switched
                    for child in _as_list(collection):
                        if id(child) in self.deleted_ids or not _may_sync(session, child, parent, prop, direct_writes, self.deleted_ids):
                            continue
                        if self._keeps_written_key(child, parent, prop):
                            continue
                        self.synced_ids.add(id(child))
                        # decided here: the sync step, run after the parent's INSERT gave it a
                        # key, must not find the direct write winning again (seed 72)
                        direct_writes.difference_update((id(child), many) for _, many in prop.fk_attr_keys())
                        if switched and _state(child).key is not None:
                            # in memory only, as committed: no UPDATE of the child's row
                            if id(child) not in saved_ids:
                                self.sync_only.setdefault(prop.mapper, []).append(child)
                            continue
                        for one, many in prop.fk_attr_keys():
                            planned.setdefault(id(child), {})[many] = _key_value(parent, one)
                        if id(child) not in saved_ids and _state(child).key is not None:
                            saved_ids.add(id(child))
                            added.append(child)
        for child in added:
            saved.setdefault(type(child).__mapper__, []).append(child)

    def _keeps_written_key(self, child: Any, parent: Any, prop: RelationshipProperty) -> bool:
        """Whether persistent ``child``'s loaded foreign key disagrees with ``parent`` (None:
        no parent) while the relationship is unchanged since the last flush: the key was
        written directly and flushed before (``a.user_id = None``, flushed, with ``a.user``
        still loaded).  As SQLAlchemy, which copies a parent's key only for a relationship
        changed since the last flush, the row keeps what was written (differential seed 9).
        It is then treated as a direct write of this flush too, so the sync steps leave it."""
        if _state(child).key is None or (parent is not None and id(parent) in self.key_switched):
            return False
        d = child.__dict__
        pairs = prop.fk_attr_keys()
        if parent is None:
            stale = any(d.get(many) is not None for _, many in pairs)
        else:
            pd = parent.__dict__
            if _state(parent).key is None or any(one not in pd for one, _ in pairs):
                return False
            stale = any(many in d and d[many] != pd[one] for one, many in pairs)
        if not stale or _relationship_changed(child, parent, prop):
            return False
        self.direct_writes.update((id(child), many) for _, many in pairs)
        return True

    def _predicted_changes(self, obj: Any) -> dict[str, Any]:
        """The columns the UPDATE of persistent ``obj`` will write, in column order."""
        state = _state(obj)
        d = obj.__dict__
        planned = self.planned_values.get(id(obj))
        changes = dict(_accel.instrumentation.update_params(state, d))
        if planned:
            committed = state.committed_state
            for key, value in planned.items():
                old = committed.get(key, d.get(key)) if committed else d.get(key)
                if value is _UNKNOWN_KEY or value != old:
                    changes[key] = value
                else:
                    changes.pop(key, None)
        if not changes:
            return changes
        order = state.mapper._column_attr_keys
        return {key: changes[key] for key in order if key in changes}

    def _predicted_updates(
        self, mapper: Mapper, persistent: list[Any]
    ) -> tuple[dict[tuple[str, ...], int], persistence.UpdateGroups | None]:
        """The sets of columns the UPDATEs of ``persistent`` will write, each with its number
        of rows, in statement order; and the rows, when nothing but the user's changes goes
        into them (no value planned by a sync or a deleted parent)."""
        planned = self.planned_values
        if not planned or not any(id(obj) in planned for obj in persistent):
            # the usual case: what the user changed (update_rows, one pass in C)
            rows = _accel.instrumentation.update_rows(mapper, persistent)
            return {keys: len(members) for keys, (members, _) in rows.items()}, rows
        shapes: dict[tuple[str, ...], int] = {}
        for obj in persistent:
            changed = self._predicted_changes(obj)
            if changed:
                shapes[tuple(changed)] = shapes.get(tuple(changed), 0) + 1
        return shapes, None

    # -- strategies ------------------------------------------------------------------------------

    def _insert_steps(self, mapper: Mapper, new: list[Any], why: str) -> list[FlushStep]:
        """One INSERT step per strategy: objects whose primary key is set (or will be, by the
        sync) first, in one ``executemany``; then the others, batched or one row a statement."""
        pk_keys = mapper._pk_attr_keys
        planned = self.planned_values
        if len(pk_keys) == 1 and not (planned and any(id(o) in planned for o in new)):
            pk = pk_keys[0]  # the common case, in one pass without a function call per object
            client = _accel.instrumentation.with_value(new, pk)
            if not client:
                server = new
            elif len(client) == len(new):
                server = []
            else:
                server = [o for o in new if o.__dict__.get(pk) is None]
        else:
            client, server = [], []
            for obj in new:
                values = planned.get(id(obj))
                d = obj.__dict__
                given = all((values.get(k, d.get(k)) if values else d.get(k)) is not None for k in pk_keys)
                (client if given else server).append(obj)
        steps: list[FlushStep] = []
        connection = self.connection
        if client:
            steps.append(InsertRows(
                mapper, client,
                why + ("; rows whose primary key is given go first, so a key SQLite picks cannot "
                       "collide with one you chose" if server else ""),
                persistence.CLIENT_KEYS, connection,
            ))
        if server:
            strategy = persistence.insert_strategy_for(connection, mapper, len(server))
            steps.append(InsertRows(mapper, server, why, strategy, connection))
        return steps

    # -- the plan --------------------------------------------------------------------------------

    def plan(self) -> FlushPlan:
        session = self.session
        if not (session._new or session._modified or session._deleted):
            return FlushPlan([])
        self.direct_writes = _direct_foreign_key_writes(session)
        self._plan_deletes()
        saved = self._saved_by_mapper()
        self._plan_orphans(saved)
        if len(self.deleted) > self._deletes_processed:
            self._plan_deletes()  # orphans deleted: their own children
        if self.expunges or self.cascade_deletes or self.nulls:
            self._adjust_saved(saved)
        if any(mapper._relationship_keys for mapper in saved):
            self.key_switched = {
                id(o) for objects in saved.values() for o in objects
                if _state(o).key is not None and _primary_key_switched(o)
            } if session._modified else set()
            self._plan_sync(saved)
        deleted: dict[Mapper, list[Any]] = {}
        for obj in self.deleted:
            deleted.setdefault(type(obj).__mapper__, []).append(obj)
        links = self._association_links(saved)
        ordered = _sorted_mappers([*saved, *deleted])
        written = {m.local_table for m in ordered if m in saved}
        steps: list[FlushStep] = []
        if self.cascade_deletes or self.nulls or self.expunges:
            first = type((self.cascade_deletes or [c for c, _, _ in self.nulls] or self.expunges)[0]).__mapper__
            steps.append(ProcessDeletedParents(first, self.cascade_deletes, self.nulls, self.expunges))
        for mapper in ordered:
            if saved.get(mapper):
                steps += self._save_steps(mapper, saved, written)
            elif self.sync_only.get(mapper):
                steps.append(SyncForeignKeys(
                    mapper, self.sync_only[mapper],
                    f"after the UPDATE of their parent's primary key: loaded {mapper.local_table.name} "
                    f"rows take the new key in memory only (the database cascades it, as with "
                    f"SQLAlchemy's passive_updates)",
                    saved,
                ))
        for action, step_class in (("delete", DeleteAssociationRows), ("insert", InsertAssociationRows)):
            for table, table_links in links[action].items():
                steps.append(step_class(table, table_links))
        for mapper in reversed(ordered):
            if deleted.get(mapper):
                steps += self._delete_steps(mapper, deleted[mapper], ordered)
        return FlushPlan(steps, self.direct_writes, self.key_switched)

    def _save_steps(self, mapper: Mapper, saved: dict[Mapper, list[Any]], written: set[Any]) -> list[FlushStep]:
        """Sync foreign keys, INSERT (a tree's rows level by level), UPDATE: one table."""
        objects = saved[mapper]
        table = mapper.local_table
        parents = [t.name for t in table.referenced_tables() if t in written]
        if parents:
            why = f"parents first: {table.name} refers to {', '.join(parents)}, written before it"
        else:
            why = f"{table.name} refers to no other table written in this flush"
        steps: list[FlushStep] = []
        synced = [o for o in objects if id(o) in self.synced_ids] if self.synced_ids else []
        if synced:
            steps.append(SyncForeignKeys(
                mapper, synced,
                f"before {table.name} is written: its foreign keys take the primary keys of "
                f"their parents{' (' + ', '.join(parents) + ', written by now)' if parents else ''}",
                saved,
            ))
        # one pass: pending objects are INSERTed, persistent ones UPDATEd
        new, persistent = _accel.instrumentation.split_pending(objects)
        self_referential = bool(new) and bool(mapper._relationship_keys) and bool(_self_referential(mapper))
        if new:
            levels = insert_levels(mapper, new, objects) if self_referential else [new]
            for number, level in enumerate(levels):
                level_why = why
                if len(levels) > 1:
                    level_why = (
                        f"level {number + 1} of {len(levels)} of the tree in {table.name}: parents' rows "
                        f"before their children's (rows of one table ordered row by row)"
                    )
                if number:
                    steps.append(SyncForeignKeys(
                        mapper, level,
                        f"the parents of tree level {number + 1} were inserted by the step before: "
                        f"their new keys go into {table.name}'s foreign keys",
                        saved,
                    ))
                steps += self._insert_steps(mapper, level, level_why)
        if persistent:
            if self_referential:
                moved = [o for o in persistent if id(o) in self.synced_ids]
                if moved:
                    steps.append(SyncForeignKeys(
                        mapper, moved,
                        f"existing rows of {table.name} moved under a new parent take its key, "
                        f"known since the INSERT above",
                        saved,
                    ))
            steps.append(UpdateRows(mapper, persistent, why, *self._predicted_updates(mapper, persistent)))
        return steps

    def _delete_steps(self, mapper: Mapper, objects: list[Any], ordered: list[Mapper]) -> list[FlushStep]:
        """DELETE one table's rows: after the tables that refer to it; a tree leaves first."""
        table = mapper.local_table
        children = [t.name for t in _tables_referring_to(table, ordered) if t is not table]
        why = (
            f"children first: {', '.join(children)} refer{'s' if len(children) == 1 else ''} to "
            f"{table.name}, so their rows go before it" if children else
            f"deletes run last, children before parents; nothing written in this flush refers to {table.name}"
        )
        levels = delete_levels(self.session, mapper, objects) if mapper._relationship_keys else [objects]
        if len(levels) == 1:
            return [DeleteRows(mapper, objects, why)]
        return [
            DeleteRows(mapper, level, f"tree in {table.name}, leaves first: level {len(levels) - number} of "
                                      f"{len(levels)} (a row goes before the row it refers to)")
            for number, level in enumerate(levels)
        ]

    def _association_links(self, saved: dict[Mapper, list[Any]]) -> dict[str, dict[Any, list[tuple[Any, Any, Any]]]]:
        """``{"insert"|"delete": {association table: [(relationship, owner, item)]}}``: a link
        per member added to or removed from a many-to-many collection since it was loaded (or
        flushed), and every link of a deleted object (its collections are loaded for it)."""
        links: dict[str, dict[Any, list[tuple[Any, Any, Any]]]] = {"insert": {}, "delete": {}}
        deleted_ids = self.deleted_ids
        for obj in self.deleted:
            for prop in _many_to_many(type(obj).__mapper__):
                with self.session.no_autoflush, self.session.loading_because(
                    f"flush: load {type(obj).__name__}.{prop.key} to delete the {prop.secondary_table.name} "
                    f"rows of deleted {_identity_str(obj)}"
                ):
                    collection = getattr(obj, prop.key)  # may load: the decision needs it
                committed = collection._committed if isinstance(collection, InstrumentedList) else None
                for item in committed if committed is not None else _as_list(collection):
                    links["delete"].setdefault(prop.secondary_table, []).append((prop, obj, item))
        for mapper, objects in saved.items():
            props = _many_to_many(mapper) if mapper._relationship_keys else []
            for obj in objects if props else ():
                d = obj.__dict__
                for prop in props:
                    collection = d.get(prop.key)
                    if not isinstance(collection, InstrumentedList) or collection._committed is None:
                        continue
                    committed = collection._committed
                    before = {id(item) for item in committed}
                    now = {id(item) for item in collection}
                    for item in collection:
                        if id(item) not in before and id(item) not in deleted_ids:
                            links["insert"].setdefault(prop.secondary_table, []).append((prop, obj, item))
                    for item in committed:
                        if id(item) not in now:
                            links["delete"].setdefault(prop.secondary_table, []).append((prop, obj, item))
        return links


def _key_value(parent: Any, key: str) -> Any:
    """A parent's key attribute as the sync will copy it: unknown until a new parent's INSERT."""
    value = _parent_key_value(parent, key)
    if value is None and _state(parent).key is None:
        return _UNKNOWN_KEY
    return value


def _parent_key_value(parent: Any, key: str) -> Any:
    """A parent's attribute ``key`` that the sync copies into its children's foreign keys.  An
    expired one (``expire_all()``, a commit) is loaded, as SQLAlchemy does: its row may be gone
    (ObjectDeletedError) and its key must not be written then."""
    d = parent.__dict__
    if key in d:
        return d[key]
    if _state(parent).key is None:
        return None
    return getattr(parent, key)


def _sorted_mappers(mappers: Sequence[Mapper]) -> list[Mapper]:
    """The mappers of the flush and those they relate to, parents first (by foreign keys)."""
    found: dict[int, Mapper] = {}
    for mapper in mappers:
        found[id(mapper)] = mapper
        for key in mapper._relationship_keys:
            prop = mapper._props[key]
            prop._resolve()
            found.setdefault(id(prop.mapper), prop.mapper)

    def sort_key(mapper: Mapper) -> tuple[int, int]:
        tables = mapper.local_table.metadata.sorted_tables
        return (id(mapper.local_table.metadata), tables.index(mapper.local_table))

    return sorted(found.values(), key=sort_key)


def _tables_referring_to(table: Any, mappers: Sequence[Mapper]) -> list[Any]:
    return [m.local_table for m in mappers if table in m.local_table.referenced_tables()]


def plan_flush(session: Session) -> FlushPlan:
    """The plan of the next flush of ``session``, without running it (``explain_flush``)."""
    return _Planner(session, session._connection_for_bind).plan()


# -- the sync, as the SyncForeignKeys step runs it --------------------------------------------


def _set_if_different(obj: Any, key: str, value: Any) -> None:
    if obj.__dict__.get(key, _MISSING) != value or key not in obj.__dict__:
        setattr(obj, key, value)


def _direct_foreign_key_writes(session: Session) -> set[tuple[int, str]]:
    """``(id(object), attribute)`` of foreign-key attributes the user set on persistent objects
    since the last flush (taken before this flush writes any itself)."""
    writes = set()
    for mapper, objects in _accel.instrumentation.group_by_mapper(session._modified, ()).items():
        fk_keys = [
            key
            for column in mapper.local_table.columns
            if column.foreign_keys and (key := mapper._col_to_attr.get(column)) is not None
        ]
        for obj in objects if fk_keys else ():  # (a table without foreign keys: nothing to look at)
            committed = _state(obj).committed_state
            for key in fk_keys:
                if key in committed:
                    writes.add((id(obj), key))
    return writes


def _take_references_from_identity_map(obj: Any) -> None:
    """The many-to-one references of deleted ``obj`` that are not loaded but whose target the
    identity map holds (its foreign key loaded, no SQL) are filled in, as SQLAlchemy's flush
    reads them to see whether they changed: ``address.user`` then still answers once the
    deleted address is detached (differential seed 34)."""
    d = obj.__dict__
    for prop in _relationships(type(obj).__mapper__, MANYTOONE):
        if prop.key in d or prop.passive_deletes:
            continue
        found = _reference_in_identity_map(_state(obj), prop.key)
        if found is not None and found is not _accel.instrumentation.NO_VALUE:
            d[prop.key] = found


def _relationship_changed(child: Any, parent: Any, prop: RelationshipProperty) -> bool:
    """Whether ``prop`` changed since the last flush in a way that links ``child`` to
    ``parent`` (``parent`` None: ``child``'s many-to-one was set to None): the many-to-one
    ``child.<prop>`` no longer holds what it held, or the collection ``parent.<prop>`` gained
    ``child`` (every member of a new parent's collection is new)."""
    if prop.direction == MANYTOONE:
        committed = _state(child).committed_state
        return prop.key in committed and committed[prop.key] is not parent
    if parent is None:
        return False
    parent_state = _state(parent)
    if parent_state.key is None:
        return True
    committed = parent_state.committed_state
    return prop.key in committed and not any(member is child for member in _as_list(committed[prop.key]))


def _may_sync(
    session: Session,
    child: Any,
    parent: Any,
    prop: RelationshipProperty,
    direct_writes: set[tuple[int, str]],
    deleted_ids: set[int] | None = None,
) -> bool:
    """Whether the flush copies ``parent``'s key into ``child``'s foreign key (as SQLAlchemy):
    not when the foreign key was set directly since the last flush (``a.user_id = None`` wins
    over a loaded, unchanged ``a.user``) -- unless the relationship changed too (``a.user =
    None`` or ``u.addresses.append(a)``, before or after the direct write: the relationship
    wins) -- nor from a parent outside this session or deleted."""
    if (
        direct_writes
        and any((id(child), many) in direct_writes for _, many in prop.fk_attr_keys())
        and not _relationship_changed(child, parent, prop)
    ):
        return False
    if _state(child).session_id != session.hash_key:
        return False  # a child outside the session is not written, so not changed either
    if parent is None:
        return True
    parent_state = _state(parent)
    if deleted_ids is not None and id(parent) in deleted_ids:
        return False
    return parent_state.session_id == session.hash_key and not parent_state.deleted_flag and parent not in session._deleted


def _unless_deleted_since(
    session: Session, child: Any, parent: Any, prop: RelationshipProperty, deleted_ids: set[int] | None = None
) -> Any:
    """``parent``, or None when this flush deletes it and ``child`` was related to it since the
    last flush (before ``session.delete(parent)``): its foreign key is then cleared, as that of
    a child the parent had in the database is.  SQLAlchemy writes the deleted parent's key
    (docs/differences.md)."""
    if parent is None:
        return None
    deleted = (deleted_ids is not None and id(parent) in deleted_ids) or _state(parent).deleted_flag or parent in session._deleted
    return None if deleted and _relationship_changed(child, parent, prop) else parent


def _sync_foreign_keys(
    session: Session,
    mapper: Mapper,
    saved: dict[Mapper, list[Any]],
    direct_writes: set[tuple[int, str]],
    key_switched: set[int],
) -> None:
    """Copy parents' primary keys into the foreign keys of ``mapper``'s objects (``saved``:
    the flush's objects by mapper; ``key_switched``: ids of the parents whose primary key this
    flush changes)."""
    # many-to-one: the object refers to its parent (address.user)
    many_to_one = _relationships(mapper, MANYTOONE)
    if many_to_one:
        deleting = bool(session._deleted or session._txn_deleted)
        for obj in saved.get(mapper, ()):
            d = obj.__dict__
            for prop in many_to_one:
                if prop.key not in d:
                    continue
                parent = d[prop.key]
                if deleting:
                    parent = _unless_deleted_since(session, obj, parent, prop)
                if not _may_sync(session, obj, parent, prop, direct_writes):
                    continue
                switched = parent is not None and id(parent) in key_switched
                for one, many in prop.fk_attr_keys():
                    value = None if parent is None else _parent_key_value(parent, one)
                    _sync_foreign_key(obj, many, value, switched)
    # one-to-many: a parent's collection lists the object (user.addresses.append(address))
    for parent_mapper, parents in saved.items():
        one_to_many = [p for p in _relationships(parent_mapper, ONETOMANY) if p.mapper is mapper]
        for parent in parents if one_to_many else ():
            pd = parent.__dict__
            switched = id(parent) in key_switched
            for prop in one_to_many:
                collection = pd.get(prop.key)
                if not collection:
                    continue
                for child in _as_list(collection):
                    if child in session._deleted or not _may_sync(session, child, parent, prop, direct_writes):
                        continue
                    for one, many in prop.fk_attr_keys():
                        _sync_foreign_key(child, many, _parent_key_value(parent, one), switched)


def _primary_key_switched(parent: Any) -> bool:
    """True when this flush changes ``parent``'s primary key (an UPDATE of its key column):
    its identity key still holds the old value (the plan asks before any step runs)."""
    state = _state(parent)
    if state.key is None:
        return False
    d = parent.__dict__
    # an expired key attribute (not in __dict__) is not a change
    return any(key in d and d[key] != old for key, old in zip(state.mapper._pk_attr_keys, state.key[1]))


def _sync_foreign_key(child: Any, key: str, value: Any, parent_key_switched: bool) -> None:
    """Give ``child``'s foreign key attribute ``key`` its parent's key ``value``.

    When the parent's own primary key changed and ``child`` is persistent, do as SQLAlchemy
    does by default (``passive_updates``): the UPDATE of the parent's key is the database's to
    cascade (``ForeignKey(..., onupdate="CASCADE")``), so the loaded child gets the new value
    in memory, as already committed, and no UPDATE of its own; children that are not loaded
    are left to the database too.
    """
    if parent_key_switched and _state(child).key is not None:
        _accel.instrumentation.set_committed_value(child, key, value)
    else:
        _set_if_different(child, key, value)


def _apply_python_defaults(mapper: Mapper, objects: list[Any]) -> None:
    """``mapped_column(default=7)``: a new object that never set the attribute gets the
    default (called, if it is a callable) at INSERT time, not in ``__init__``."""
    defaulted = [p for p in mapper._column_props if p.column.default is not None]
    for obj in objects if defaulted else ():
        d = obj.__dict__
        for prop in defaulted:
            if prop.key not in d:
                try:
                    d[prop.key] = prop.column.default_value()
                except Exception as error:  # as a Core INSERT reports it: StatementError
                    raise StatementError.from_exception(
                        error,
                        persistence.single_row_insert_sql(mapper, d),
                        {k: d.get(k) for k in mapper._column_attr_keys if k in d},
                    ) from error


# -- running the plan ----------------------------------------------------------------------------


def flush(session: Session, cause: str) -> None:
    """Run one flush of ``session``: plan, run the plan; again while work was added during it.

    A flush of many objects (:data:`minialchemy.orm.loading.COLLECTOR_PAUSE_ROWS` or more) runs
    with CPython's cyclic garbage collector paused, as a large load does, and for the same
    reason: it makes no garbage cycles, but every new identity-map entry is a new object the
    collector tracks, and the full collections those start would each walk every object alive
    (for 100 000 new objects, two of them took about a third of the flush).  The collector is
    switched back on at the end, failed or not.  A column default or a type's bind processor
    runs inside the pause; what garbage it makes is collected afterwards, as usual."""
    pending = len(session._new) + len(session._modified) + len(session._deleted)
    with loading.collector_paused() if pending >= loading.COLLECTOR_PAUSE_ROWS else contextlib.nullcontext():
        _flush_rounds(session, cause)


def _flush_rounds(session: Session, cause: str) -> None:
    for _ in range(MAX_FLUSH_ROUNDS):
        plan = _Planner(session, session._connection_for_bind).plan()
        if not plan:
            return
        _run(session, plan, cause)
        if not session._has_changes():
            return
        cause = f"{cause} (again: work added during the flush)"
    raise FlushError(
        f"Over {MAX_FLUSH_ROUNDS} subsequent flushes have occurred within one flush of {session!r}: "
        f"is a column default or callback adding or changing objects on every flush?"
    )


def _warn_if_identity_taken(session: Session, mapper: Mapper, objects: list[Any]) -> None:
    """A new object whose primary key the identity map already holds for another (loaded, not
    deleted) object: its INSERT will fail; say so first, naming the identity key, as
    SQLAlchemy does."""
    identity_map = session.identity_map
    cls = mapper.class_
    pk_keys = mapper._pk_attr_keys
    for obj in objects:
        d = obj.__dict__
        if d.get(pk_keys[0]) is None:
            continue  # the usual case: the database generates the key, nothing can clash
        pk = tuple([d.get(key) for key in pk_keys])
        if None in pk:
            continue
        held = identity_map.get((cls, pk, None))
        if held is None or held is obj or held in session._deleted or _state(held).expired:
            continue  # (an expired one may have lost its row: SQLAlchemy checks by loading it)
        warnings.warn(
            f"New instance {_instance_str(obj)} with identity key {(cls, pk, None)!r} conflicts "
            f"with persistent instance {_instance_str(held)}: the identity map already holds "
            f"{_identity_str(held)}, so unless its row was deleted behind the session's back the "
            f"database will refuse this INSERT of the same primary key. To change that row, change the object you have "
            f"(session.get({cls.__name__}, {pk[0] if len(pk) == 1 else pk!r})) instead of adding "
            f"a new one",
            SAWarning,
            stacklevel=6,
        )


def _failure_context(session: Session, plan: FlushPlan, step: FlushStep, error: StatementError) -> list[str]:
    """Lines saying what the flush was doing when a statement failed: the plan step, the object,
    and for a NOT NULL foreign key of a deleted parent's children, the cascade that fixes it."""
    name = step.mapper.class_.__name__
    objects = step.objects
    count = f"{len(objects)} {name} object{'s' if len(objects) != 1 else ''}"
    lines = [f"flush step {step.number} of {len(plan)}: {step.operation} {step.table}, {count}"]
    culprit = _failed_object(step.mapper, objects, error)
    if culprit is not None:
        lines.append(f"flush object: {_identity_str(culprit)}")
    message = str(getattr(error, "orig", None) or "")
    if step.operation == "UPDATE" and "NOT NULL constraint failed" in message:
        column = message.rsplit(".", 1)[-1].strip()
        for parent in session._deleted:
            parent_mapper = type(parent).__mapper__
            for key in parent_mapper._relationship_keys:
                prop = parent_mapper._props[key]
                if prop.direction != ONETOMANY or prop.mapper is not step.mapper or "delete" in prop.cascade:
                    continue
                if column in [many for _, many in prop.fk_attr_keys()]:
                    lines.append(
                        f"{name}.{column} is NOT NULL, and {_identity_str(parent)} was deleted: without "
                        f"a delete cascade the flush sets its children's {column} to NULL. To delete "
                        f"them with it: relationship(cascade=\"all, delete-orphan\") on "
                        f"{parent_mapper.class_.__name__}.{key}"
                    )
                    return lines
    return lines


def _failed_object(mapper: Mapper, objects: list[Any], error: StatementError) -> Any:
    """The object whose row the failed statement wrote, when it can be told: the only one, or
    for an UPDATE / DELETE the one whose primary key ends the statement's parameters."""
    if len(objects) == 1:
        return objects[0]
    params = error.params
    if not isinstance(params, tuple):
        return None
    width = len(mapper.primary_key)
    for obj in objects:
        state = _state(obj)
        if state.key is not None and tuple(params[-width:]) == tuple(state.key[1]):
            return obj
    return None


def _run(session: Session, plan: FlushPlan, cause: str) -> None:
    """Execute the steps of ``plan`` in order; on failure, take back the keys filled in."""
    run = _FlushRun(session, session._connection_for_bind(), cause, plan)
    session._work_added_during_flush = False
    step: FlushStep | None = None
    try:
        for step in plan:
            step.execute(run)
            if step.may_change_objects:
                run.objects_changed = True
    except BaseException as error:
        for keys_filled in run.filled:  # undo: these objects are pending again, without an id
            keys_filled.undo()
        if isinstance(error, StatementError) and step is not None:
            for line in _failure_context(session, plan, step, error):
                error.add_detail(line)
        raise
    for obj in run.written_with_relationships:  # after the association rows were read
        _clear_removed(obj)
    # the inserted objects leave session.new (one clear() when nothing else joined it)
    inserted = run.inserted
    if not session._work_added_during_flush and len(session._new) == sum(map(len, inserted)):
        session._new.clear()
    else:
        discard = session._new.discard
        for obj in itertools.chain.from_iterable(inserted):
            discard(obj)


def _clear_removed(obj: Any) -> None:
    """After a flush: collections hold what the database holds, no child is pending removal.
    An empty list only read while the object was new is dropped: it was not loaded, and
    the next read loads the collection (as SQLAlchemy, differential seed 9)."""
    d = obj.__dict__
    for key in type(obj).__mapper__._relationship_keys:
        collection = d.get(key)
        if isinstance(collection, InstrumentedList):
            if collection._read_default:
                del d[key]
            else:
                collection._mark_committed()
    _replaced_children.clear(obj)
