"""The Session: a workspace of objects over one database transaction at a time.

It keeps

- the **identity map** (``session.identity_map``): one object per (class, primary key), so a
  row loaded twice is the same Python object, and ``session.get(User, 4)`` is a dict lookup;
- the **unit of work**: ``session.new`` (pending objects to INSERT), ``session.dirty``
  (persistent objects with changed attributes to UPDATE), ``session.deleted`` (objects to
  DELETE), all :class:`IdentitySet` s (members compared by ``id()``, never ``__eq__``).
  ``flush()`` turns them into SQL (:mod:`minialchemy.orm.unitofwork`), automatically before
  every query (autoflush) and on ``commit()``;
- the **transaction**: begun on first use (autobegin); ``commit()`` expires every object
  (``expire_on_commit``) so the next access reloads current data; ``rollback()`` expires them
  too, expunges the objects added in the transaction and restores the ones deleted in it;
  ``close()`` detaches everything.

Every state change of an object happens in this module or in the unit of work's post-flush
step, so a learner can follow "pending -> persistent -> deleted -> detached" in one place.

Where it sits: the user's entry point to the ORM; it uses the engine for SQL, the identity map
and instrumentation (Cython or Python twins, via ``minialchemy._accel``), the loader and the
unit of work.
"""

from __future__ import annotations

# threading.Lock and threading.get_ident are these two from _thread, already loaded at start-up
# (importing threading costs more than sqlite3's own import: issue 12).
from _thread import allocate_lock as _new_lock, get_ident as _thread_id

from minialchemy import _accel
from minialchemy.exc import ArgumentError, InvalidRequestError, PendingRollbackError, SAWarning
from minialchemy.orm import loading, n_plus_one, strategies
from minialchemy.orm.exc import ObjectDeletedError
from minialchemy.engine.base import describe_statement
from minialchemy.orm.mapper import _identity_str, _instance_str, class_mapper, object_mapper
from minialchemy.orm.relationships import is_read_default
from minialchemy.orm.session_registry import next_session_id, sessions as _sessions
from minialchemy.orm.weakmaps import WeakIdentitySet

__all__ = ["Session", "sessionmaker", "SessionTransaction", "object_session", "make_transient"]


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing costs more than the package (issue 12): type checkers only
    from typing import Any, Iterator, Sequence, TypeVar

    _O = TypeVar("_O")  # a mapped class's instances (``session.get(User, 1)`` is a ``User | None``)

    # for a type checker, the fast path keeps Session.get's own signature
    _F = TypeVar("_F")

    def _session_get_fast_path(general_get: _F) -> _F: ...

else:
    _session_get_fast_path = _accel.instrumentation.session_get_fast_path

#: Objects a ``rollback()`` made transient again while their attributes were expired (an INSERT
#: of the transaction rolled back after ``expire()``): their values are gone, and a flush that
#: finds one pending refuses it (:meth:`Session._refuse_expired_pending`), as SQLAlchemy does,
#: instead of INSERTing NULLs.  Held weakly; usually empty, so the check costs nothing.
_expired_by_rollback: "WeakIdentitySet" = WeakIdentitySet()

#: ``Session(n_plus_one_threshold=...)`` not given: the engine's setting (or the default)
_FROM_ENGINE = object()


class _WeakObjectList:
    """Objects held weakly, in the order they were added: the objects that the flushes of the
    current transaction INSERTed.  ``rollback()`` turns those still alive back into transient
    objects; the others need nothing, so a long transaction does not keep every object it
    flushed alive (clean persistent objects are held weakly, as loaded ones are).

    The list keeps each object's :class:`InstanceState`, whose ``obj()`` answers the object
    while it lives and None after: the state never keeps its object alive, and keeping it costs
    no new allocation (a ``weakref.ref`` per object would cost one GC-tracked object each, which
    the compiled twin's objects otherwise never need).  States of dead objects are dropped
    whenever the list has doubled since the last time, so it stays within twice the number of
    live objects.  ``discard()`` does nothing: an object expunged after its INSERT is still
    made transient by ``rollback()`` (as SQLAlchemy does); one added to another session since
    is recognised by its state, and left alone.
    """

    __slots__ = ("_states", "_compact_at")

    _MIN_COMPACT_AT = 1024

    def __init__(self) -> None:
        self._states: list[Any] = []
        self._compact_at = self._MIN_COMPACT_AT

    def add_states(self, states: list[Any]) -> None:
        """Remember the objects of ``states`` (weakly, through their states).  The caller hands
        ``states`` over: an empty list keeps it as its own instead of copying it."""
        if len(self._states) + len(states) >= self._compact_at:
            # doubled: drop the states of objects gone since, among those held already (the
            # ones being added belong to objects just flushed, alive)
            self._states = [state for state in self._states if state.obj() is not None]
            self._compact_at = max(self._MIN_COMPACT_AT, 2 * (len(self._states) + len(states)))
        if self._states:
            self._states.extend(states)
        else:  # (the flush's own new list: kept, not copied)
            self._states = states

    def discard(self, obj: Any) -> None:
        """Nothing to do (see the class docstring)."""

    def clear(self) -> None:
        self._states.clear()
        self._compact_at = self._MIN_COMPACT_AT

    def __iter__(self) -> Iterator[Any]:
        """The objects still alive."""
        return iter([obj for state in self._states if (obj := state.obj()) is not None])

    def __len__(self) -> int:
        return sum(1 for state in self._states if state.obj() is not None)


def _save_update_targets(obj: Any) -> Iterator[Any]:
    """The objects the save-update cascade reaches from ``obj`` in one step: those held by its
    loaded relationships with ``save-update`` in their cascade (nothing is loaded), then, as
    SQLAlchemy, those they held when loaded or last flushed and no longer hold (a removed
    address, the user an address left: the flush writes their change; differential seed 11)."""
    mapper = type(obj).__mapper__
    d = obj.__dict__
    for key in mapper._relationship_keys:
        prop = mapper._props[key]
        if "save-update" not in prop.cascade or key not in d:
            continue
        value = d[key]
        held = value if prop.uselist else [value]
        for related in held:
            if related is not None:
                yield related
        committed = d[_accel.instrumentation.STATE_KEY].committed_state
        if key in committed:
            before = committed[key]
            held_ids = {id(item) for item in held}  # (by identity, once: a collection may be long)
            for related in (before if prop.uselist else [before]):
                if related is not None and related is not _accel.instrumentation.NO_VALUE and id(related) not in held_ids:
                    yield related


def _state_of(obj: Any) -> Any:
    object_mapper(obj)  # a clear error for an unmapped object
    return _accel.instrumentation.instance_state(obj)


class SessionTransaction:
    """``with session.begin():`` commits at the end of the block, rolls back if it raises."""

    def __init__(self, session: "Session") -> None:
        self.session = session

    def __enter__(self) -> "SessionTransaction":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        session = self.session
        try:
            if exc_type is None:
                session.commit()
            else:
                session.rollback()
        finally:
            session._explicit_begin = False

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


class Session:
    """``Session(engine)``; see the module docstring for what it keeps and when it talks SQL."""

    def __init__(
        self,
        bind: Any = None,
        *,
        autoflush: bool = True,
        expire_on_commit: bool = True,
        autobegin: bool = True,
        info: dict[str, Any] | None = None,
        n_plus_one_threshold: int | None | object = _FROM_ENGINE,
    ) -> None:
        identity = _accel.identity
        self.bind = bind
        self.autoflush = autoflush
        self.expire_on_commit = expire_on_commit
        self.autobegin = autobegin
        self.info = dict(info or {})
        self.hash_key = next(next_session_id)
        _sessions[self.hash_key] = self
        #: (class, primary key, None) -> object; clean objects held weakly
        self.identity_map = identity.IdentityMap()
        self._new = identity.IdentitySet()
        self._modified = identity.IdentitySet()
        self._deleted = identity.IdentitySet()
        #: objects INSERTed (held weakly) / DELETEd by flushes of the current transaction, and
        #: objects whose primary key a flush changed, with their key before: for rollback
        self._txn_inserted = _WeakObjectList()
        self._txn_deleted = identity.IdentitySet()
        self._txn_key_switches: dict[int, tuple[Any, tuple[Any, ...]]] = {}
        self._connection: Any = None
        #: the thread that began the current transaction (see _check_same_thread)
        self._connection_thread: int | None = None
        self._connect_lock = _new_lock()
        self._pending_rollback: BaseException | None = None
        #: what failed: "flush", or "COMMIT" (the COMMIT statement itself, e.g. database locked)
        self._pending_rollback_stage = "flush"
        self._flushing = False
        #: set when an object is added while a flush runs (the flush then runs again for it)
        self._work_added_during_flush = False
        self._no_autoflush_depth = 0
        self._explicit_begin = False
        #: for the echo log: what expired all objects last (commit, rollback), and what expired
        #: single objects since (id(obj) -> reason); see _expired_reason
        self._expired_all_by: str | None = None
        self._expired_by: dict[int, str] = {}
        #: for the echo log: why a lazy load runs when the ORM itself asks for it (a flush)
        self._load_cause: str | None = None
        if n_plus_one_threshold is _FROM_ENGINE:
            n_plus_one_threshold = getattr(bind, "n_plus_one_threshold", n_plus_one.DEFAULT_N_PLUS_ONE_THRESHOLD)
        #: lazy loads sent per relationship, for the echo log's counts and the N+1 warning
        self.lazy_loads = n_plus_one.LazyLoadCounter(n_plus_one_threshold)  # type: ignore[arg-type]

    # -- what the session holds ------------------------------------------------------------------

    @property
    def new(self) -> Any:
        """Pending objects: added, not yet INSERTed."""
        return _accel.identity.IdentitySet(self._new)

    @property
    def dirty(self) -> Any:
        """Persistent objects with attribute changes not yet flushed."""
        return _accel.identity.IdentitySet(
            obj for obj in self._modified
            if (state := obj.__dict__.get(_accel.instrumentation.STATE_KEY)) is not None
            and state.key is not None and not state.deleted_flag and not _is_in(self._deleted, obj)
        )

    @property
    def deleted(self) -> Any:
        """Objects marked with ``session.delete()``, not yet DELETEd by a flush."""
        return _accel.identity.IdentitySet(self._deleted)

    def __contains__(self, obj: Any) -> bool:
        state = obj.__dict__.get(_accel.instrumentation.STATE_KEY) if hasattr(obj, "__dict__") else None
        if state is None:
            object_mapper(obj)
            return False
        # (a deleted-and-committed object taken back by delete() is the session's again)
        return state.session_id == self.hash_key and (not state.deleted_flag or _is_in(self._deleted, obj))

    def __iter__(self) -> Iterator[Any]:
        return iter([*self.identity_map.values(), *self._new])

    def is_modified(self, obj: Any, include_collections: bool = True) -> bool:
        """True if ``obj`` has changes a flush would write: for a new object, any attribute
        set; for a persistent one, a net change of a column, or (``include_collections``) of a
        relationship (a collection gained or lost an object, a many-to-one points elsewhere)."""
        state = _state_of(obj)
        d = obj.__dict__
        if state.key is None:
            # (an empty collection only read is no change: it is not even loaded, seed 9)
            return any(key in d and not is_read_default(d[key]) for key in state.mapper.attrs.keys())
        if _accel.instrumentation.update_params(state, d):
            return True
        return include_collections and state.modified and _relationships_changed(state.mapper, d)

    def in_transaction(self) -> bool:
        """True while a database transaction is open for this session."""
        return self._connection is not None or self._explicit_begin

    # -- transaction ------------------------------------------------------------------------------

    def begin(self) -> SessionTransaction:
        """``with session.begin():`` a transaction committed at the end of the block."""
        if self.in_transaction():
            raise InvalidRequestError(
                "A transaction is already begun on this Session (commit() or rollback() it first)"
            )
        self._explicit_begin = True
        return SessionTransaction(self)

    def connection(self) -> Any:
        """The Connection of the current transaction (begun on demand)."""
        self._check_pending_rollback()
        return self._connection_for_bind()

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        return self.bind

    def _connection_for_bind(self) -> Any:
        if self._connection is None:
            if self.bind is None:
                raise InvalidRequestError(
                    "This Session is not bound to an Engine; create it as Session(engine)"
                )
            if not self.autobegin and not self._explicit_begin:
                raise InvalidRequestError(
                    "Autobegin is disabled on this Session; call session.begin() first"
                )
            with self._connect_lock:  # two threads racing here: one wins, the other is refused
                if self._connection is None:
                    self._connection_thread = _thread_id()
                    self._connection = self.bind.connect()
        self._check_same_thread()
        return self._connection

    def _check_same_thread(self) -> None:
        """A Session is one unit of work, used by one thread at a time.  While a transaction is
        open, only the thread that began it may use the Session: another thread's statements
        would join (or end) a transaction it knows nothing of, and its objects would be lost
        or written half.  Refuse loudly instead."""
        if self._connection is not None and self._connection_thread != _thread_id():
            raise InvalidRequestError(
                f"This Session's transaction was begun in thread {self._connection_thread} and is "
                f"still open; thread {_thread_id()} cannot use the Session meanwhile.  A "
                f"Session is not thread-safe: give each thread its own Session (a sessionmaker "
                f"makes them), or commit()/rollback() in the first thread before handing it over."
            )

    def _release_connection(self, commit: bool, cause: str) -> None:
        """End the transaction (COMMIT or ROLLBACK, the echo log saying ``cause``) and give
        the connection back."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if commit:
                connection.commit(execution_options={"cause": cause})
            else:
                connection.rollback(execution_options={"cause": cause})
        finally:
            connection.close()

    def _check_pending_rollback(self) -> None:
        error = self._pending_rollback
        if error is not None:
            raise PendingRollbackError(
                f"This Session's transaction has been rolled back due to a previous exception "
                f"during {self._pending_rollback_stage}. To begin a new transaction with this "
                f"Session, first issue Session.rollback(). Original exception was: {error}"
            )

    def commit(self) -> None:
        """Flush, COMMIT, then (``expire_on_commit``) expire every object."""
        self._check_not_flushing("commit()")
        self._check_same_thread()
        self._check_pending_rollback()
        self._flush("flush before COMMIT")
        try:
            self._release_connection(commit=True, cause="Session.commit()")
        except BaseException as error:
            # The COMMIT statement itself failed (another connection holds a lock, the disk is
            # full): the connection was released with a ROLLBACK, nothing of the transaction was
            # saved, so the objects must not carry on as if it had been.  Refuse work until
            # rollback(), which reverts them (added ones transient again, deleted ones restored).
            self._pending_rollback = error
            self._pending_rollback_stage = "COMMIT"
            raise
        self._explicit_begin = False
        for obj in self._txn_deleted:
            state = obj.__dict__[_accel.instrumentation.STATE_KEY]
            state.session_id = None  # deleted -> detached
        self._txn_deleted.clear()
        self._txn_inserted.clear()
        self._txn_key_switches.clear()
        if self.expire_on_commit:
            self._expire_all_because("Session.commit()")

    def rollback(self) -> None:
        """ROLLBACK; expire every object, expunge those added in this transaction, restore
        those deleted in it."""
        self._check_same_thread()
        self._release_connection(commit=False, cause="Session.rollback()")
        self._explicit_begin = False
        self._pending_rollback = None
        self._restore_objects_after_rollback()

    def _restore_objects_after_rollback(self) -> None:
        """The objects' side of a ROLLBACK (also done at once when a flush fails, as
        SQLAlchemy does): objects added in the transaction become transient, deleted ones
        persistent again, every object expired."""
        state_key = _accel.instrumentation.STATE_KEY
        # (an object expunged since its INSERT becomes transient too, as in SQLAlchemy; one
        # added to another session since is that session's business)
        inserted = [
            obj for obj in self._txn_inserted
            if obj.__dict__[state_key].session_id in (self.hash_key, None)
        ]
        for obj in [*inserted, *self._new]:
            state = obj.__dict__[state_key]
            if state.key is not None:
                self.identity_map.discard(state.key, obj)
                if not state.expired_attributes.isdisjoint(state.mapper._column_attr_keys_set):
                    _expired_by_rollback.add(obj)  # (any column: seed 65)
            state.key = None
            state.session_id = None
            state.modified = False
            # (its committed values stay: what it held since its last flush is its history, as
            # in SQLAlchemy; the cascade of a later add() still reaches what left it since,
            # differential seed 57)
        for obj, original_key in self._txn_key_switches.values():
            state = obj.__dict__[state_key]
            if state.session_id == self.hash_key and state.key is not None:
                # a flush of this transaction changed its primary key: back to the key it had
                self.identity_map.discard(state.key, obj)
                state.key = original_key
                self._detach_displaced(self.identity_map.replace(original_key, obj), obj)
        for obj in self._txn_deleted:
            state = obj.__dict__[state_key]
            state.deleted_flag = False
            if state.key is None:
                continue  # INSERTed and DELETEd in this transaction: transient again (above)
            self._detach_displaced(self.identity_map.replace(state.key, obj), obj)
        for obj in self._deleted:
            state = obj.__dict__[state_key]
            if state.deleted_flag and self.identity_map.get(state.key) in (None, obj):
                # deleted and committed, then taken back by delete(): its deletion is undone
                # too, as SQLAlchemy does (persistent again, expired: its row is gone)
                state.deleted_flag = False
                self.identity_map.add(state.key, obj)
        self._txn_inserted.clear()
        self._txn_deleted.clear()
        self._txn_key_switches.clear()
        self._new.clear()
        self._deleted.clear()
        self._modified.clear()
        self._expire_all_because("the rollback")

    def _detach_displaced(self, displaced: Any, obj: Any) -> None:
        """The rollback put ``obj`` back in the identity map in place of ``displaced`` (another
        object for the same row, attached since ``obj``'s DELETE or key change was flushed):
        ``displaced`` leaves the session, detached, as ``close()`` would leave it."""
        if displaced is not None and displaced is not obj:
            state = displaced.__dict__[_accel.instrumentation.STATE_KEY]
            if state.session_id == self.hash_key:
                state.session_id = None

    def close(self) -> None:
        """Release the connection (rolling back its transaction) and detach every object."""
        self._release_connection(commit=False, cause="Session.close() with nothing committed")
        self._explicit_begin = False
        self._pending_rollback = None
        self.expunge_all()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    # -- adding, deleting, expunging --------------------------------------------------------------

    def add(self, obj: Any) -> None:
        """Make ``obj`` part of the session: transient -> pending, detached -> persistent."""
        if self._connection is not None:
            self._check_same_thread()
        self._save_or_update(obj)

    def add_all(self, objects: Sequence[Any]) -> None:
        """``add()`` each object."""
        if self._flushing:
            self._work_added_during_flush = True
        if self._connection is not None:
            self._check_same_thread()
        # one loop in C for the common case of a bulk add (a transient object of a class
        # without relationships becomes pending); any other object as add() does it
        _accel.instrumentation.add_pending(objects, self.hash_key, self._new, self._save_or_update)

    def _save_or_update(self, obj: Any, cascade: bool = True) -> None:
        mapper = object_mapper(obj)  # a clear error for an unmapped object
        if self._flushing:
            self._work_added_during_flush = True
        state = _accel.instrumentation.instance_state(obj)
        if state.session_id == self.hash_key:
            if state.deleted_flag:
                raise InvalidRequestError(
                    f"Instance {_instance_str(obj)} has been deleted in this transaction; "
                    f"it cannot be added again until commit() or rollback()"
                )
            self._deleted.discard(obj)  # add() takes back a session.delete() not yet flushed
            if mapper._relationship_keys:
                self._cascade_save(obj)
            return
        if state.session_id is not None and state.session is not None:
            raise InvalidRequestError(
                f"Object {_instance_str(obj)} is already attached to session "
                f"'{state.session_id}' (this is '{self.hash_key}'); expunge it from the other "
                f"session (or close that session) first"
            )
        if state.key is None:
            if cascade and mapper._relationship_keys:
                self._check_targets_of_new(obj)
            state.session_id = self.hash_key
            self._new.add(obj)
        else:
            if state.deleted_flag:
                raise InvalidRequestError(
                    f"Instance {_instance_str(obj)} was deleted and committed; it cannot be re-added"
                )
            existing = self.identity_map.get(state.key)
            if existing is not None and existing is not obj:
                raise InvalidRequestError(
                    f"Can't attach instance {_instance_str(obj)}; another instance with key "
                    f"{state.key!r} is already present in this session"
                )
            self.identity_map.add(state.key, obj)
            state.session_id = self.hash_key
            if state.modified:
                self._modified.add(obj)
        if cascade and mapper._relationship_keys:
            self._cascade_save(obj)

    def _check_cascade_target(self, obj: Any, _seen: set[int] | None = None) -> None:
        """Raise what the save-update cascade of ``obj`` into this session would raise, before a
        relationship change is applied (so a refused assignment is not half-applied): checks
        ``obj`` and, through loaded relationships, what would come into the session with it."""
        state = _accel.instrumentation.instance_state(obj)
        if _seen is None:
            self._check_not_deleted(obj, state)
        elif state.deleted_flag:
            raise self._deleted_error(obj, marked=False)
        if state.session_id == self.hash_key:
            return  # already here: the cascade stops
        if state.session_id is not None and state.session is not None:
            raise InvalidRequestError(
                f"Object {_instance_str(obj)} is already attached to session "
                f"'{state.session_id}' (this is '{self.hash_key}'); expunge it from the other "
                f"session (or close that session) first"
            )
        if state.key is not None:
            existing = self.identity_map.get(state.key)
            if existing is not None and existing is not obj:
                raise InvalidRequestError(
                    f"Can't attach instance {_instance_str(obj)}; another instance with key "
                    f"{state.key!r} is already present in this session"
                )
        seen = set() if _seen is None else _seen
        if id(obj) in seen:
            return
        seen.add(id(obj))
        for related in _save_update_targets(obj):
            self._check_cascade_target(related, seen)

    def _check_not_deleted(self, obj: Any, state: Any) -> None:
        """Refuse to relate ``obj`` to another object when it is deleted, or marked for deletion
        in this session: the flush would write a key to a row it deletes (SQLAlchemy accepts
        it: docs/differences.md).  Either side of the relationship is checked."""
        if state.deleted_flag:
            raise self._deleted_error(obj, marked=False)
        if state.session_id == self.hash_key and _is_in(self._deleted, obj):
            raise self._deleted_error(obj, marked=True)

    def _deleted_error(self, obj: Any, marked: bool) -> InvalidRequestError:
        if marked:
            return InvalidRequestError(
                f"Instance {_instance_str(obj)} is marked for deletion (session.delete(), not flushed "
                f"yet); it cannot be related to other objects: the flush would leave them pointing at "
                f"a deleted row.  Relate them to another object, or session.add({_identity_str(obj)}) "
                f"first to take back the deletion"
            )
        return InvalidRequestError(
            f"Instance {_instance_str(obj)} has been deleted; it cannot be related to objects "
            f"of the session (use make_transient(obj) to turn it into a new object first)"
        )

    def _check_targets_of_new(self, obj: Any) -> None:
        """Before a new object joins: refuse it if it is related (through a loaded relationship
        with save-update) to a deleted object (also one deleted and committed: SQLAlchemy
        refuses it too) or to one marked for deletion in this session, as a relationship change
        of an object already here is refused (``Address(user=u)`` while ``u`` is marked, then
        ``session.add()``)."""
        d = obj.__dict__
        mapper = type(obj).__mapper__
        for key in mapper._relationship_keys:
            value = d.get(key)
            if value is None:  # (the common case: nothing loaded or set, checked without a call)
                continue
            prop = mapper._props[key]
            if "save-update" not in prop.cascade:
                continue
            instance_state = _accel.instrumentation.instance_state
            for related in (value if prop.uselist else (value,)):
                related_state = instance_state(related)
                if related_state.deleted_flag or related_state.session_id == self.hash_key:
                    self._check_not_deleted(related, related_state)

    def _cascade_save(self, obj: Any) -> None:
        """save-update cascade over loaded relationships (never loads anything).  A deleted
        object it reaches (its DELETE flushed, or deleted and committed) is refused, as
        SQLAlchemy does: a loaded collection still lists an address deleted since it was
        loaded, and ``session.add(user)`` then raises (differential seed 14)."""
        for related in _save_update_targets(obj):
            related_state = _accel.instrumentation.instance_state(related)
            if related_state.deleted_flag:
                raise self._deleted_error(related, marked=False)
            if related_state.session_id != self.hash_key:
                self._save_or_update(related)

    def merge(self, instance: Any, *, load: bool = True, options: Sequence[Any] | None = None) -> Any:
        """The session's own object for ``instance``'s primary key, with ``instance``'s loaded
        state copied onto it (loaded with one SELECT if needed; a new pending object if there is
        no such row).  ``instance`` itself is not added.  ``load=False``: no SQL, the values
        become the committed state (see :mod:`minialchemy.orm.merge`)."""
        from minialchemy.orm import merge

        self._check_pending_rollback()
        return merge.merge(self, instance, load=load, options=options)

    def delete(self, obj: Any) -> None:
        """Mark a persistent object for deletion; the DELETE is emitted by the next flush.
        Relationships with ``cascade="delete"`` delete their children too."""
        if self._connection is not None:
            self._check_same_thread()
        state = _state_of(obj)
        if state.key is None:
            if state.session_id is None:
                raise InvalidRequestError(
                    f"Instance {_instance_str(obj)} is not persisted: it was never added to a "
                    f"Session, so there is no row to delete (a transient object; nothing to do)"
                )
            raise InvalidRequestError(
                f"Instance {_instance_str(obj)} is not persisted: it was added but not flushed, "
                f"so there is no row to delete yet; session.expunge(obj) takes the pending "
                f"object out of the session instead"
            )
        if state.deleted_flag and state.session_id is None:
            # deleted and committed: taken back as a deleted object, as SQLAlchemy does: in
            # the identity map again (expire(), refresh() and get() find it), marked for
            # deletion; its DELETE finds no row, which is only worth a warning
            existing = self.identity_map.get(state.key)
            if existing is not None and existing is not obj:
                raise InvalidRequestError(
                    f"Can't attach instance {_instance_str(obj)}; another instance with key "
                    f"{state.key!r} is already present in this session"
                )
            state.session_id = self.hash_key
            self.identity_map.add(state.key, obj)
            self._deleted.add(obj)
            return
        if state.deleted_flag and state.session_id == self.hash_key:
            # its DELETE was flushed in this transaction: deleted already, nothing to do (a
            # second DELETE would find no row; SQLAlchemy puts the object back in its identity
            # map instead: docs/differences.md)
            return
        if state.session_id != self.hash_key:
            self._save_or_update(obj, cascade=False)  # delete() cascades "delete" only, as SQLAlchemy
        if _is_in(self._deleted, obj):
            return
        self._deleted.add(obj)
        mapper = type(obj).__mapper__
        for key in mapper._relationship_keys:
            prop = mapper._props[key]
            if "delete" not in prop.cascade:
                continue
            if prop.passive_deletes and key not in obj.__dict__:
                continue  # not loaded: the database's ON DELETE CASCADE removes those rows
            with self.no_autoflush, self.loading_because(
                f"Session.delete({_identity_str(obj)}): load {type(obj).__name__}.{key} to delete "
                f"its children too (cascade=\"delete\")"
            ):
                value = getattr(obj, key)
            for child in (list(value) if prop.uselist else [value]):
                if child is None:
                    continue
                child_state = _accel.instrumentation.instance_state(child)
                if child_state.key is None:
                    if child_state.session_id == self.hash_key:
                        self.expunge(child)
                else:
                    self.delete(child)

    def expunge(self, obj: Any) -> None:
        """Remove ``obj`` from the session: pending -> transient, persistent -> detached."""
        state = _state_of(obj)
        if state.session_id != self.hash_key:
            raise InvalidRequestError(f"Instance {_instance_str(obj)} is not present in this Session")
        self._forget(obj, state)

    def _forget(self, obj: Any, state: Any) -> None:
        if state.key is not None:
            self.identity_map.discard(state.key, obj)
        for collection in (self._new, self._modified, self._deleted, self._txn_inserted, self._txn_deleted):
            collection.discard(obj)
        state.session_id = None

    def expunge_all(self) -> None:
        """Detach every object (what ``close()`` does after releasing the connection)."""
        detach = _accel.instrumentation.detach_instances
        for objects in (self.identity_map.values(), self._new, self._deleted, self._txn_deleted, self._txn_inserted):
            detach(objects, self.hash_key)
        self.identity_map.clear()
        for collection in (self._new, self._modified, self._deleted, self._txn_inserted, self._txn_deleted):
            collection.clear()
        self._txn_key_switches.clear()

    # -- expiry and refresh ----------------------------------------------------------------------

    def expire(self, obj: Any, attribute_names: Sequence[str] | None = None) -> None:
        """Forget loaded attribute values (all, or the named ones); they reload on access."""
        state = _state_of(obj)
        if state.session_id != self.hash_key or state.key is None or self._deleted_in_transaction(obj, state):
            raise InvalidRequestError(f"Instance {_instance_str(obj)} is not persistent within this Session")
        if attribute_names is not None:
            mapper = state.mapper
            for name in attribute_names:
                if name not in mapper.attrs:
                    raise ArgumentError(f"{type(obj).__name__} has no mapped attribute {name!r}")
        state.expire(attribute_names)
        self._note_expired(obj, "Session.expire()")
        if attribute_names is None:
            self._modified.discard(obj)

    def _deleted_in_transaction(self, obj: Any, state: Any) -> bool:
        """Whether ``obj``'s DELETE was sent in this transaction (not one deleted and committed,
        then taken back by ``delete()``: that one is in the identity map, marked for deletion)."""
        return state.deleted_flag and not _is_in(self._deleted, obj)

    def expire_all(self) -> None:
        """Expire every persistent object of the session."""
        self._expire_all_because("Session.expire_all()")

    def _expire_all_because(self, reason: str) -> None:
        _accel.instrumentation.expire_instances(self.identity_map.values())
        self._modified.clear()
        self._expired_all_by = reason
        self._expired_by.clear()

    def _note_expired(self, obj: Any, reason: str) -> None:
        """Remember what expired ``obj`` (``Session.expire()``, an ORM-enabled UPDATE), for the
        echo log's ``load expired attributes of User(id=4), expired by ...``."""
        self._expired_by[id(obj)] = reason

    def _expired_reason(self, obj: Any) -> str:
        reason = self._expired_by.get(id(obj)) or self._expired_all_by
        return f"expired by {reason}" if reason else "expired before it joined this Session"

    def refresh(self, obj: Any, attribute_names: Sequence[str] | None = None) -> None:
        """Reload ``obj``'s attributes from the database now, discarding unflushed changes."""
        state = _state_of(obj)
        if state.key is None or state.session_id != self.hash_key or self._deleted_in_transaction(obj, state):
            raise InvalidRequestError(f"Instance {_instance_str(obj)} is not persistent within this Session")
        # an object marked for deletion is not refused here (nor one deleted and committed, then
        # taken back by delete(): its DELETE must load its expired key and finds no row): the autoflush below sends its
        # DELETE (then the SELECT finds no row: refused), as SQLAlchemy does
        mapper = state.mapper
        if attribute_names is not None:
            for name in attribute_names:
                if name not in mapper.attrs:
                    raise ArgumentError(f"{type(obj).__name__} has no mapped attribute {name!r}")
        # the object's own unflushed changes are discarded first; other objects' changes are
        # then autoflushed, so the SELECT sees the transaction as the session means it.  A
        # session waiting for rollback() refuses the SELECT after the expiry, as SQLAlchemy
        # does: the refused refresh still discarded the object's changes
        state.expire(attribute_names)
        if attribute_names is None:
            self._modified.discard(obj)
        self._check_pending_rollback()
        self._autoflush(f"refresh of {_instance_str(obj)}")
        if attribute_names is None:
            keys = list(mapper._column_attr_keys)
            relationships: list[str] = []
        else:
            keys = [k for k in mapper._column_attr_keys if k in attribute_names]
            # a relationship named explicitly is loaded now, by its lazy loader
            relationships = [k for k in mapper._relationship_keys if k in attribute_names]
            if not keys:
                keys = list(mapper._pk_attr_keys)  # still check that the row exists
        try:
            self._load_attributes(state, keys, cause=f"refresh of {_instance_str(obj)}")
        except ObjectDeletedError:
            raise InvalidRequestError(f"Could not refresh instance {_instance_str(obj)}: its row is gone") from None
        for key in relationships:
            getattr(obj, key)
        if attribute_names is None:
            self._modified.discard(obj)

    def _load_expired_state(self, state: Any, key: str) -> None:
        """Called when an expired attribute is read: one SELECT loads all expired attributes.

        Which attributes to load is decided before the autoflush, as SQLAlchemy does: the
        flush may itself load them (deleting a user loads its collection, which reads its key)
        and still DELETE the row, and the SELECT must then find the row gone
        (ObjectDeletedError; ``Session.get`` returns None) instead of loading nothing."""
        self._check_pending_rollback()
        keys = set(state.expired_attributes)
        if key in state.mapper._column_attr_keys_set:
            keys.add(key)
        self._autoflush(f"loading expired attributes of {_identity_str(state.obj())}")
        if not keys:
            return
        self._load_attributes(state, [k for k in state.mapper._column_attr_keys if k in keys],
                              cause=f"load expired attributes of {_identity_str(state.obj())}, "
                                    f"{self._expired_reason(state.obj())}")

    def _load_attributes(self, state: Any, keys: list[str], cause: str) -> None:
        mapper = state.mapper
        obj = state.obj()
        values = loading.load_row_by_identity(self, mapper, state.key[1], keys, cause)
        if values is None:
            raise ObjectDeletedError(
                f"Instance {_instance_str(obj)} has been deleted, or its row is otherwise not "
                f"present (it was expired, and reloading found no row with primary key "
                f"{state.key[1]!r})"
            )
        d = obj.__dict__
        for key, value in zip(keys, values):
            if key not in d:
                d[key] = value
        expired = state.expired_attributes
        expired.difference_update(keys)
        # an expired relationship is not loaded by this SELECT, but it stops being "expired":
        # like in a freshly loaded object, it lazy loads on first access
        expired.difference_update(state.mapper._relationship_keys)

    # -- flushing ----------------------------------------------------------------------------------

    def flush(self) -> None:
        """Send pending changes (INSERT / UPDATE / DELETE) to the database, in the transaction.
        With nothing to send it does nothing (even after a failed flush, as SQLAlchemy).

        The flush runs a plan (:mod:`minialchemy.orm.unitofwork`); :meth:`explain_flush` shows
        it beforehand."""
        self._check_not_flushing("flush()")
        if not self._has_changes():
            return
        self._check_pending_rollback()
        self._flush("flush")

    def explain_flush(self) -> Any:
        """The plan of the next flush, without running it: a
        :class:`~minialchemy.orm.unitofwork.FlushPlan` whose numbered steps say what each
        writes (operation, table, strategy, rows), why it runs where it does, and its SQL.
        ``print(session.explain_flush())`` shows it; ``"nothing to flush"`` when empty.

        Nothing is written and no object changes state.  Deciding may read: the collection
        of a deleted parent is loaded (to know its children), and a table about to take a
        batched INSERT is asked for its largest rowid; those statements are logged with that
        cause."""
        self._check_not_flushing("explain_flush()")
        self._check_pending_rollback()
        from minialchemy.orm import unitofwork

        with self.no_autoflush:
            return unitofwork.plan_flush(self)

    def _check_not_flushing(self, what: str) -> None:
        if self._flushing:
            raise InvalidRequestError(
                f"Session is already flushing: {what} cannot run inside a flush (called from a "
                f"column default or another callback the flush runs?); let the flush finish first"
            )

    def _refuse_expired_pending(self) -> None:
        """A pending object whose attributes are expired has no values to INSERT (its INSERT
        was rolled back after ``expire()``, and it was added again): the flush refuses it, as
        SQLAlchemy does, instead of INSERTing NULLs in its place."""
        state_key = _accel.instrumentation.STATE_KEY
        for obj in list(_expired_by_rollback):
            state = obj.__dict__[state_key]
            if state.key is not None or state.session_id != self.hash_key:
                continue
            # a column the INSERT would read (an expired relationship is not read by the flush)
            expired = state.expired_attributes & state.mapper._column_attr_keys_set
            if expired:
                raise InvalidRequestError(
                    f"Instance {_instance_str(obj)} cannot be refreshed - it is not persistent and "
                    f"does not have a full primary key: its attributes "
                    f"({', '.join(sorted(expired))}) were expired before a "
                    f"rollback() undid its INSERT, so there is nothing to INSERT; set them again, "
                    f"or expunge it"
                )

    def _has_changes(self) -> bool:
        return bool(self._new or self._modified or self._deleted)

    def _flush(self, cause: str) -> None:
        if self._connection is not None:
            self._check_same_thread()  # before anything: a refused thread must not fail the flush
        if self._flushing or not self._has_changes():
            return
        from minialchemy.orm import unitofwork

        self._flushing = True
        try:
            if _expired_by_rollback:
                self._refuse_expired_pending()
            unitofwork.flush(self, cause)
        except BaseException as error:
            self._pending_rollback = error
            self._pending_rollback_stage = "flush"
            self._release_connection(
                commit=False, cause=f"the flush failed ({type(error).__name__}): its changes are undone"
            )
            self._restore_objects_after_rollback()  # at once, as SQLAlchemy; rollback() still required
            raise
        finally:
            self._flushing = False

    def _autoflush(self, reason: str) -> None:
        if self.autoflush and not self._no_autoflush_depth and not self._flushing and self._has_changes():
            self._flush(f"autoflush before {reason}")

    def loading_because(self, cause: str) -> "_LoadingBecause":
        """Lazy loads inside the block are the ORM's own (the flush's): the echo log gives
        ``cause`` as their reason, and they do not count toward the N+1 warning."""
        return _LoadingBecause(self, cause)

    @property
    def no_autoflush(self) -> "_NoAutoflush":
        """``with session.no_autoflush:`` queries inside the block do not flush first."""
        return _NoAutoflush(self)

    def _mark_flushed_inserts(self, mapper: Any, objects: list[Any]) -> None:
        """Post-flush, after the INSERTs of ``mapper``'s new objects: pending -> persistent.
        Each gets its identity key and enters the identity map (``mark_inserted``), held
        weakly from now on, as loaded objects are; ``rollback()`` still finds those alive."""
        states: list[Any] = []
        displaced = _accel.instrumentation.mark_inserted(mapper, self.identity_map, objects, states)
        self._inserted_by_flush(states, displaced)

    def _inserted_by_flush(self, states: list[Any], displaced: list[Any]) -> None:
        """Remember the INSERTs of this transaction (by the objects' ``states``), and deal with
        the objects the new ones ``displaced`` from the identity map."""
        self._txn_inserted.add_states(states)
        for old in displaced:
            self._displaced_by_flush(old, old.__dict__[_accel.instrumentation.STATE_KEY].key, row_reused=True)

    def _mark_flushed_updates(self, objects: list[Any]) -> None:
        """Post-flush, after the UPDATEs of persistent objects: their values are committed, they
        leave ``_modified``, and an object whose primary key the UPDATE changed moves to its new
        identity key (the row is the same, so ``session.get()`` with the new key returns this
        object)."""
        state_key = _accel.instrumentation.STATE_KEY
        for obj, pk in _accel.instrumentation.mark_updated(objects, self._modified):
            state = obj.__dict__[state_key]
            self._switch_identity_key(obj, state, (state.key[0], pk, state.key[2]))

    def _switch_identity_key(self, obj: Any, state: Any, new_key: tuple[Any, ...]) -> None:
        """``obj``'s row now has the primary key of ``new_key``: re-key it in the identity map,
        remembering the key it had when the transaction began (``rollback()`` restores it)."""
        old_key = state.key
        self._txn_key_switches.setdefault(id(obj), (obj, old_key))
        self.identity_map.discard(old_key, obj)
        state.key = new_key
        previous = self.identity_map.replace(new_key, obj)
        if previous is not None and previous is not obj:
            self._displaced_by_flush(previous, new_key, row_reused=False)

    def _displaced_by_flush(self, old: Any, key: tuple[Any, ...], row_reused: bool) -> None:
        """A flush stored a new object under ``key`` in place of ``old``: ``old``'s row was
        deleted behind the session's back (raw SQL, an ORM ``delete()`` without
        synchronisation) and an INSERT reused its key (``row_reused``), or an UPDATE moved
        another object's row to that key.

        As SQLAlchemy does: an expired ``old`` whose row was reused is known to be gone, and
        becomes a deleted object (nothing warns); otherwise ``old`` keeps its state but is
        no longer in the identity map, and a :class:`SAWarning` says so.
        """
        state = old.__dict__[_accel.instrumentation.STATE_KEY]
        if state.session_id != self.hash_key:
            return
        if row_reused and state.expired:
            # its row is gone: persistent -> deleted (detached at commit, back at rollback)
            for collection in (self._modified, self._deleted):
                collection.discard(old)
            self._mark_deleted(old, state)
            return
        import warnings  # deferred: only this warning needs it (import time, issue 12)

        warnings.warn(
            f"Identity map already had an identity for {key!r}, replacing it with the newly "
            f"flushed object; {_instance_str(old)} stays in the session outside the identity "
            f"map (its row was deleted or re-keyed without this Session knowing: expunge() it, "
            f"or use synchronize_session with ORM-enabled update()/delete())",
            SAWarning,
            stacklevel=4,
        )

    def _mark_deleted(self, obj: Any, state: Any) -> None:
        """persistent -> deleted: its row's DELETE was sent (by a flush, or by an ORM-enabled
        ``delete()``).  It leaves the identity map; ``rollback()`` brings it back."""
        state.deleted_flag = True
        self.identity_map.discard(state.key, obj)
        self._txn_deleted.add(obj)

    def _register_modified(self, state: Any) -> None:
        """Called by the instrumentation when a persistent object's attribute is set."""
        obj = state.obj()
        if obj is not None and not state.deleted_flag:  # a deleted row has nothing left to UPDATE
            self._modified.add(obj)

    # -- queries -------------------------------------------------------------------------------------

    def execute(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: dict[str, Any] | None = None,
        bind_arguments: Any = None,
    ) -> Any:
        """Run a statement in the session's transaction.

        ``select(User)`` returns rows of ``User`` objects (through the identity map);
        ``update(User)`` / ``delete(User)`` are ORM-enabled and synchronize matching objects
        (``synchronize_session``); anything else runs as Core.  Pending changes are flushed
        first (autoflush).
        """
        self._check_pending_rollback()
        options = {**getattr(statement, "_execution_options", {}), **(execution_options or {})}
        visit = getattr(statement, "__visit_name__", None)
        if visit == "select":
            self._autoflush("SELECT")
            cause = options.get("cause") or f"{describe_statement(statement)} by you"
            return loading.execute_select(self, statement, params, cause=cause, execution_options=options)
        if visit in ("update", "delete") and hasattr(statement.entity, "__mapper__"):
            from minialchemy.orm import bulk

            self._autoflush(f"ORM-enabled {visit.upper()}")
            return bulk.execute_dml(self, statement, params, options)
        if visit in ("insert", "update", "delete", "textclause", "compound_select"):
            self._autoflush({"textclause": "textual SQL", "compound_select": "SELECT"}.get(visit, visit.upper()))
        return self._connection_for_bind().execute(statement, params, execution_options=options)

    def scalars(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        """``execute(statement).scalars()``: the first column of each row (objects for
        ``select(User)``)."""
        return self.execute(statement, params, **kwargs).scalars()

    def scalar(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        """``execute(statement).scalar()``: the first column of the first row, or None."""
        return self.execute(statement, params, **kwargs).scalar()

    @_session_get_fast_path
    def get(
        self,
        entity: type[_O],
        ident: Any,
        *,
        options: Any = None,
        populate_existing: bool = False,
        with_for_update: Any = None,
        identity_token: Any = None,
        execution_options: Any = None,
        bind_arguments: Any = None,
    ) -> _O | None:
        """``session.get(User, 4)``: the object with this primary key, from the identity map
        without SQL when it is there, else one SELECT; None if there is no such row.  ``ident``
        is the primary key value, a tuple of them, or a dict by attribute name.

        The decorator adds the fast path (``session_get_fast_path`` of the instrumentation
        twin, compiled with the Cython twins): a loaded object in the identity map is returned
        before this body runs.  This body is the general path.

        ``with_for_update``, ``identity_token``, ``execution_options`` and ``bind_arguments`` are
        SQLAlchemy's names; minialchemy implements none of them, so it refuses them rather than
        ignore them (SQLite has no ``SELECT ... FOR UPDATE``; a Session has one engine).
        """
        unsupported = {
            "with_for_update": with_for_update,
            "identity_token": identity_token,
            "execution_options": execution_options,
            "bind_arguments": bind_arguments,
        }
        given = [name for name, value in unsupported.items() if value]  # None, False, {}: none asked
        if given:
            raise ArgumentError(
                f"Session.get({getattr(entity, '__name__', entity)}, {ident!r}): "
                f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} not supported by "
                f"minialchemy (SQLite has no SELECT ... FOR UPDATE, and a Session has one engine); "
                f"leave {'it' if len(given) == 1 else 'them'} out"
            )
        mapper = class_mapper(entity)
        pk = mapper._normalize_identity(ident)
        key = (mapper.class_, pk, None)
        obj = self.identity_map.get(key)
        if obj is not None and not populate_existing:
            state = obj.__dict__[_accel.instrumentation.STATE_KEY]
            if state.expired_attributes and _wholly_expired(state):
                try:
                    self._load_expired_state(state, next(iter(state.expired_attributes)))
                except ObjectDeletedError:
                    # its row is gone: the object is deleted (rollback() restores it), as in
                    # SQLAlchemy.  The error may instead come from the autoflush before the
                    # SELECT (another object's row gone): SQLAlchemy takes it the same way, then
                    # looks for the row by its key, which a failed flush refuses.  So does this
                    # (differential seed 26): the session waits for rollback(), which restores both
                    if not state.deleted_flag and state.session_id == self.hash_key:
                        self._deleted.discard(obj)
                        self._modified.discard(obj)
                        self._mark_deleted(obj, state)
                    self._check_pending_rollback()
                    return None
            return obj
        self._check_pending_rollback()
        self._autoflush(f"Session.get({mapper.class_.__name__}, {ident!r})")
        return loading.get_by_identity(
            self, mapper, pk, options=options or (), populate_existing=populate_existing,
            cause=f"Session.get({mapper.class_.__name__}, {ident!r}): not in the identity map",
        )

    def _lazy_load(self, state: Any, prop: Any) -> Any:
        """Load a relationship of ``state``'s object (called by relationship descriptors)."""
        self._check_pending_rollback()
        strategy = strategies.lazy_strategy(state, prop)
        if strategy == "raise":
            strategies.raise_not_available(prop, strategy)
        if strategy == "noload":
            return [] if prop.uselist else None

        def before_sql() -> str:
            if strategy == "raise_on_sql":
                strategies.raise_not_available(prop, strategy)
            if self._load_cause is not None:  # the ORM's own load (a flush), not an N+1 candidate
                return self._load_cause
            # only a load that needs a SELECT autoflushes (a many-to-one found in the identity
            # map does not, as in SQLAlchemy)
            self._autoflush(f"lazy load of {state.mapper.class_.__name__}.{prop.key}")
            return self.lazy_loads.count(prop, state.key)

        return loading.load_relationship(self, state, prop, before_sql)

    def __repr__(self) -> str:
        return f"<Session {self.hash_key} new={len(self._new)} dirty={len(self._modified)} deleted={len(self._deleted)}>"


def _wholly_expired(state: Any) -> bool:
    """Whether no column of the object was loaded since it was expired: each is expired, or set
    without its old value known.  ``Session.get`` checks such an object's row (SQLAlchemy's
    ``state.expired``): it returns None when the row is gone.  A partly expired object (some
    attribute loaded, or the object flushed, since) is returned as it is."""
    expired = state.expired_attributes
    committed = state.committed_state
    unknown = _accel.instrumentation.NO_VALUE
    return all(
        key in expired or committed.get(key) is unknown for key in state.mapper._column_attr_keys
    )


def _is_in(identity_set: Any, obj: Any) -> bool:
    return obj in identity_set


#: "not looked up yet" (``_relationships_changed``)
_NOT_READ = object()


def _held_ids(state: Any, key: str) -> set[int] | None:
    """The ids of the members collection ``key`` held when loaded or last flushed (its
    committed value), or None when none is recorded: one set, so that each membership test is
    one lookup instead of a scan of the collection (quadratic in a long one)."""
    members = state.committed_state.get(key)
    return None if members is None else {id(member) for member in members}


def _relationships_changed(mapper: Any, d: dict[str, Any]) -> bool:
    """Whether a loaded relationship of a persistent object changed since the last flush in a
    way the foreign keys do not say yet: a collection lost an object or gained one (even one
    pointing at its owner already), a many-to-one was set to point elsewhere than its foreign
    key.  A relationship unchanged since the last flush is no change even where it disagrees
    with a foreign key written directly (and flushed): as SQLAlchemy, which looks at the
    relationship's history (differential seed 9)."""
    state_key = _accel.instrumentation.STATE_KEY
    for key in mapper._relationship_keys:
        if key not in d:
            continue
        prop = mapper._props[key]
        pairs = prop.fk_attr_keys()
        value = d[key]
        if prop.uselist:
            # the ids of the members it held when loaded (or flushed), read once when needed
            held: Any = _NOT_READ
            removed = getattr(value, "_removed", None)
            if removed:
                # a net change only if a member it held when loaded (or flushed) is gone: one
                # appended since and removed again is none (SQLAlchemy's collection history)
                held = _held_ids(d[state_key], key)
                if held is None or any(id(item) in held for item in removed):
                    return True
            for item in value:
                item_state = item.__dict__.get(state_key)
                if item_state is None or item_state.key is None:
                    return True
                # as in SQLAlchemy, the collection's history decides: a member since it was
                # loaded (or flushed) is a change, even one whose foreign key already names the
                # owner (a detached copy appended back: differential CI program); a member
                # held then is none, whatever its foreign key says
                if held is _NOT_READ:
                    held = _held_ids(d[state_key], key)
                if held is None:
                    break  # not changed since it was loaded or flushed
                if id(item) not in held:
                    return True
        elif prop.direction == "MANYTOONE":
            if any(many not in d for _, many in pairs):
                # the foreign key is expired: SQLAlchemy compares the reference with the one it
                # held before the set, and an unknown one (NO_VALUE) counts as a change
                committed = d[state_key].committed_state
                if key in committed and committed[key] is not value:
                    return True
                continue
            committed = d[state_key].committed_state
            if key not in committed or committed[key] is value:
                continue  # not set since the last flush (or set back)
            # another object, even one with the same key (seed 17), or None, even where the
            # foreign key is NULL already (seed 69): SQLAlchemy's history compares references
            return True
    return False


class sessionmaker:  # noqa: N801 - SQLAlchemy's name
    """A configured Session factory: ``Session = sessionmaker(engine)``; ``Session()``."""

    def __init__(self, bind: Any = None, *, class_: type = Session, **kwargs: Any) -> None:
        self.kw = {"bind": bind, **kwargs}
        self.class_ = class_

    def __call__(self, **local_kwargs: Any) -> Session:
        return self.class_(**{**self.kw, **local_kwargs})

    def begin(self) -> "_SessionInTransaction":
        """``with Session.begin() as session:`` a session in a transaction, committed and closed."""
        return _SessionInTransaction(self)

    def configure(self, **kwargs: Any) -> None:
        self.kw.update(kwargs)

    def __repr__(self) -> str:
        return f"sessionmaker(class_={self.class_.__name__}, {', '.join(f'{k}={v!r}' for k, v in self.kw.items())})"


# The context managers above are small classes rather than ``@contextlib.contextmanager``
# generators: importing contextlib costs a fifth of sqlite3's own import (issue 12), and a
# class with __enter__/__exit__ says as plainly what happens on the way in and out.


class _LoadingBecause:
    """``with session.loading_because(cause):`` see :meth:`Session.loading_because`."""

    __slots__ = ("session", "cause", "outer")

    def __init__(self, session: Session, cause: str) -> None:
        self.session = session
        self.cause = cause

    def __enter__(self) -> None:
        self.outer, self.session._load_cause = self.session._load_cause, self.cause

    def __exit__(self, *exc_info: Any) -> None:
        self.session._load_cause = self.outer


class _NoAutoflush:
    """``with session.no_autoflush:`` see :attr:`Session.no_autoflush`."""

    __slots__ = ("session",)

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> Session:
        self.session._no_autoflush_depth += 1
        return self.session

    def __exit__(self, *exc_info: Any) -> None:
        self.session._no_autoflush_depth -= 1


class _SessionInTransaction:
    """``with sessionmaker.begin() as session:`` a new session in a transaction (committed at
    the end of the block, rolled back on an exception), closed afterwards."""

    __slots__ = ("maker", "session", "transaction")

    def __init__(self, maker: sessionmaker) -> None:
        self.maker = maker

    def __enter__(self) -> Session:
        self.session = session = self.maker()
        try:
            self.transaction = session.begin().__enter__()
        except BaseException:
            session.close()
            raise
        return session

    def __exit__(self, *exc_info: Any) -> None:
        try:
            self.transaction.__exit__(*exc_info)
        finally:
            self.session.close()


def object_session(obj: Any) -> Session | None:
    """The session ``obj`` belongs to, or None."""
    return _state_of(obj).session


def make_transient(obj: Any) -> None:
    """Turn an object back into a transient one: out of its session, no identity key."""
    state = _state_of(obj)
    session = state.session
    if session is not None:
        session._forget(obj, state)
    state.key = None
    state.session_id = None
    state.deleted_flag = False
    state.expired_attributes.clear()
    state._commit_all()
