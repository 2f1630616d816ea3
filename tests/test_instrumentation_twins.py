"""Attribute instrumentation: the same behaviour from the Python twin and the compiled twin.

Every test takes the ``backend`` fixture (tests/conftest.py) and so runs once against
``minialchemy.orm.instrumentation`` and once against ``minialchemy._ext.instrumentation``
(with the identity map of the same backend), whatever backend the ORM itself runs on.

The twins are exercised on their own here: a class derives from the twin's
``InstrumentedObject`` (or is a plain class with ``PlainClassColumnAttribute`` descriptors)
and gets a small stand-in for the Mapper, and a stand-in Session registered where states look
their session up.  ``tests/orm`` covers the same behaviour through the real ORM.
"""

import copy
import gc
import itertools
import sys

import pytest

from minialchemy.orm.session_registry import sessions as _sessions

COLUMNS = ("id", "name", "fullname")
_session_ids = itertools.count(10_000_000)


class StandInMapper:
    """The part of a Mapper the instrumentation reads."""

    def __init__(self, cls, column_keys=COLUMNS, pk_keys=("id",), relationship_keys=()):
        self.class_ = cls
        self._column_attr_keys = tuple(column_keys)
        self._column_attr_keys_set = frozenset(column_keys)
        self._relationship_keys = tuple(relationship_keys)
        self._pk_attr_keys = tuple(pk_keys)
        self._pk_positions = tuple(self._column_attr_keys.index(key) for key in pk_keys)
        self.attrs = {key: None for key in (*column_keys, *relationship_keys)}
        self.reloads = []

    def _load_expired(self, state, key):
        """Stand-in for the reload from the database: every expired column reads 'reloaded'."""
        self.reloads.append(key)
        d = state.dict
        for expired in [k for k in self._column_attr_keys if k in state.expired_attributes]:
            d[expired] = f"reloaded {expired}"
        state.expired_attributes.clear()


class StandInSession:
    """What a state reaches through ``state.session``: registration of modified objects, and
    the identity map."""

    def __init__(self, backend):
        self.hash_key = next(_session_ids)
        self.identity_map = backend.identity.IdentityMap()
        self.modified = []
        _sessions[self.hash_key] = self

    def _register_modified(self, state):
        self.modified.append(state.obj())


def mapped_class(backend, plain=False):
    """A ``User`` class instrumented by ``backend``: derived from ``InstrumentedObject`` with
    ``ColumnAttribute`` descriptors, or (``plain=True``) a plain class with data descriptors."""
    instrumentation = backend.instrumentation
    if plain:
        class User:
            def __init__(self, **kwargs):
                for key, value in kwargs.items():
                    setattr(self, key, value)

        descriptor = instrumentation.PlainClassColumnAttribute
    else:
        class User(instrumentation.InstrumentedObject):
            pass

        descriptor = instrumentation.ColumnAttribute
    mapper = StandInMapper(User)
    for index, key in enumerate(COLUMNS):
        setattr(User, key, descriptor(key, f"<comparator User.{key}>", index))
    User.__mapper__ = mapper
    return User


@pytest.fixture
def session(backend):
    return StandInSession(backend)


@pytest.fixture(params=["instrumented", "plain"])
def User(request, backend):
    return mapped_class(backend, plain=request.param == "plain")


def load(backend, session, User, values=(1, "sandy", "Sandy Cheeks")):
    """A persistent object, as the loader makes it from a row."""
    key = (User, (values[0],), None)
    return backend.instrumentation.load_instance(
        User.__mapper__, session.identity_map, session.hash_key, key, COLUMNS, values
    )


def state_of(backend, obj):
    return backend.instrumentation.instance_state(obj)


# --- reading -------------------------------------------------------------------------


def test_the_class_attribute_is_the_comparator(backend, User):
    assert User.name == "<comparator User.name>"


def test_a_loaded_value_reads_from_the_instance_dict(backend, session, User):
    sandy = load(backend, session, User)

    assert sandy.name == "sandy"
    sandy.__dict__["name"] = "changed behind the ORM's back"
    assert sandy.name == "changed behind the ORM's back"


def test_unset_attributes_of_a_transient_object_read_none(backend, User):
    squidward = User(name="squidward")

    assert squidward.fullname is None
    assert squidward.id is None
    assert "fullname" not in squidward.__dict__


def test_reading_an_expired_attribute_asks_the_mapper_to_reload(backend, session, User):
    sandy = load(backend, session, User)
    state_of(backend, sandy).expire()

    assert sandy.fullname == "reloaded fullname"
    assert User.__mapper__.reloads == ["fullname"]
    assert sandy.name == "reloaded name"  # loaded by the same reload: no second one
    assert User.__mapper__.reloads == ["fullname"]


# --- writing -------------------------------------------------------------------------


def test_setting_an_attribute_of_a_transient_object_records_nothing(backend, User):
    squidward = User(name="squidward")
    squidward.name = "squiddy"

    state = state_of(backend, squidward)
    assert squidward.name == "squiddy"
    assert dict(state.committed_state) == {}
    assert not state.modified


def test_setting_a_persistent_attribute_records_the_committed_value_once(backend, session, User):
    sandy = load(backend, session, User)

    sandy.fullname = "Sandy Squirrel"
    sandy.fullname = "Sandy the Squirrel"

    assert sandy.fullname == "Sandy the Squirrel"
    assert dict(state_of(backend, sandy).committed_state) == {"fullname": "Sandy Cheeks"}


def test_the_first_change_registers_the_object_with_its_session_once(backend, session, User):
    sandy = load(backend, session, User)

    sandy.fullname = "Sandy Squirrel"
    sandy.name = "sandra"

    assert session.modified == [sandy]
    assert state_of(backend, sandy).modified


def test_setting_a_value_back_is_no_net_change(backend, session, User):
    sandy = load(backend, session, User)

    sandy.fullname = "Sandy Squirrel"
    sandy.fullname = "Sandy Cheeks"

    assert backend.instrumentation.update_params(state_of(backend, sandy), sandy.__dict__) == {}


def test_setting_an_expired_attribute_records_no_value_and_unexpires_it(backend, session, User):
    sandy = load(backend, session, User)
    state = state_of(backend, sandy)
    state.expire(["fullname"])

    sandy.fullname = "Sandy Squirrel"

    assert state.committed_state["fullname"] is backend.instrumentation.NO_VALUE
    assert "fullname" not in state.expired_attributes
    assert sandy.fullname == "Sandy Squirrel"
    assert User.__mapper__.reloads == []


def test_deleting_a_column_attribute_sets_it_to_none(backend, session, User):
    sandy = load(backend, session, User)

    del sandy.fullname

    assert sandy.fullname is None
    assert dict(state_of(backend, sandy).committed_state) == {"fullname": "Sandy Cheeks"}


def test_a_committed_value_is_recorded_again_after_being_forgotten(backend, session, User):
    """After ``committed_state`` loses an entry (``expire([key])``, an ORM-enabled UPDATE),
    the next write records the committed value again.  (The compiled twin keeps a bit mask of
    recorded columns; this is what it must never get wrong.)"""
    sandy = load(backend, session, User)
    state = state_of(backend, sandy)
    sandy.name = "sandra"
    sandy.fullname = "Sandy Squirrel"

    state.committed_state.pop("name")  # what bulk.py does for a synchronized attribute
    sandy.id = 7
    sandy.name = "sandy again"

    assert dict(state.committed_state) == {"fullname": "Sandy Cheeks", "id": 1, "name": "sandra"}
    state._commit_all()
    sandy.name = "third"
    assert dict(state.committed_state) == {"name": "sandy again"}


def test_other_attributes_are_set_as_usual(backend, session, User):
    sandy = load(backend, session, User)

    sandy.nickname = "karate squirrel"

    assert sandy.__dict__["nickname"] == "karate squirrel"
    assert dict(state_of(backend, sandy).committed_state) == {}
    del sandy.nickname
    assert not hasattr(sandy, "nickname")


# --- the constructor -------------------------------------------------------------------


def test_the_constructor_takes_attributes_as_keywords(backend):
    User = mapped_class(backend)

    squidward = User(name="squidward", fullname="Squidward Tentacles")

    assert (squidward.id, squidward.name, squidward.fullname) == (None, "squidward", "Squidward Tentacles")
    assert state_of(backend, squidward).transient


def test_the_constructor_rejects_an_unknown_keyword(backend):
    User = mapped_class(backend)

    with pytest.raises(TypeError, match="'nickname' is an invalid keyword argument for User"):
        User(nickname="squiddy")


def test_the_constructor_sets_attributes_through_a_setattr_of_the_class(backend):
    class User(mapped_class(backend)):
        def __setattr__(self, name, value):
            super().__setattr__(name, value.upper() if isinstance(value, str) else value)

    squidward = User(name="squidward", fullname="Squidward Tentacles")

    assert (squidward.name, squidward.fullname) == ("SQUIDWARD", "SQUIDWARD TENTACLES")


def test_a_class_of_its_own_init_keeps_it(backend):
    class User(backend.instrumentation.InstrumentedObject):
        def __init__(self, name):
            self.name = name.upper()

    assert User("sandy").name == "SANDY"


def test_a_transient_object_can_be_copied(backend):
    User = mapped_class(backend)
    squidward = User(name="squidward")

    twin = copy.copy(squidward)

    assert twin is not squidward and twin.name == "squidward" and twin.fullname is None


# --- states ----------------------------------------------------------------------------


def test_a_state_is_created_on_first_need(backend, User):
    squidward = User(name="squidward")
    assert backend.instrumentation.STATE_KEY not in squidward.__dict__

    state = state_of(backend, squidward)

    assert squidward.__dict__[backend.instrumentation.STATE_KEY] is state
    assert state_of(backend, squidward) is state
    assert state.obj() is squidward and state.object is squidward


def test_the_five_states_follow_key_session_and_deleted_flag(backend, session, User):
    state = state_of(backend, User(name="squidward"))

    def flags():
        return [name for name in ("transient", "pending", "persistent", "deleted", "detached") if getattr(state, name)]

    assert flags() == ["transient"]
    state.session_id = session.hash_key
    assert flags() == ["pending"]
    state.key = (User, (4,), None)
    assert flags() == ["persistent"] and state.identity == (4,) and state.has_identity
    state.deleted_flag = True
    assert flags() == ["deleted"] and state.was_deleted
    state.session_id = None
    assert flags() == ["detached"]
    assert state.session is None


def test_expire_forgets_every_value_and_pending_change(backend, session):
    User = mapped_class(backend)
    User.__mapper__._relationship_keys = ("addresses",)
    sandy = load(backend, session, User)
    sandy.__dict__["addresses"] = []
    sandy.name = "sandra"
    state = state_of(backend, sandy)

    state.expire()

    assert set(sandy.__dict__) == {backend.instrumentation.STATE_KEY}
    assert state.expired_attributes == {"id", "name", "fullname", "addresses"}
    assert state.expired and dict(state.committed_state) == {} and not state.modified


def test_expire_of_some_attributes_keeps_the_others(backend, session, User):
    sandy = load(backend, session, User)
    state = state_of(backend, sandy)

    state.expire(["fullname"])

    assert set(sandy.__dict__) == {backend.instrumentation.STATE_KEY, "id", "name"}
    assert state.expired_attributes == {"fullname"}
    assert not state.expired


def test_a_state_outlives_its_object_safely(backend, session, User):
    sandy = load(backend, session, User)
    state = state_of(backend, sandy)

    del sandy
    gc.collect()

    assert state.obj() is None
    assert state.dict == {}
    assert "collected" in repr(state)
    state.expire()  # nothing to expire: no error


def test_a_replaced_state_still_finds_its_object(backend, User):
    squidward = User(name="squidward")
    first = state_of(backend, squidward)

    second = backend.instrumentation.new_state(squidward, User.__mapper__)

    assert state_of(backend, squidward) is second
    assert first.obj() is squidward and second.obj() is squidward
    del squidward
    gc.collect()
    assert first.obj() is None and second.obj() is None


# --- loading ---------------------------------------------------------------------------


def test_loading_builds_an_object_without_calling_init(backend, session):
    class User(backend.instrumentation.InstrumentedObject):
        def __init__(self, **kwargs):
            raise AssertionError("__init__ must not run for a loaded object")

    mapper = StandInMapper(User)
    for index, key in enumerate(COLUMNS):
        setattr(User, key, backend.instrumentation.ColumnAttribute(key, None, index))

    sandy = backend.instrumentation.load_instance(
        mapper, session.identity_map, session.hash_key, (User, (2,), None), COLUMNS, (2, "sandy", None)
    )

    state = state_of(backend, sandy)
    assert {k: v for k, v in sandy.__dict__.items() if k in COLUMNS} == {"id": 2, "name": "sandy", "fullname": None}
    assert state.persistent and state.key == (User, (2,), None) and state.session_id == session.hash_key
    assert session.identity_map.get((User, (2,), None)) is sandy


def test_loading_a_row_again_returns_the_same_object_with_its_changes(backend, session, User):
    sandy = load(backend, session, User)
    sandy.fullname = "Sandy Squirrel"

    again = load(backend, session, User, (1, "sandy", "Sandy Cheeks (from the database)"))

    assert again is sandy
    assert sandy.fullname == "Sandy Squirrel"


def test_loading_a_row_fills_only_the_expired_attributes(backend, session, User):
    sandy = load(backend, session, User)
    state = state_of(backend, sandy)
    state.expire(["name", "fullname"])
    sandy.name = "sandra"  # set since: stays

    load(backend, session, User, (1, "sandy", "Sandy Cheeks"))

    assert (sandy.name, sandy.fullname) == ("sandra", "Sandy Cheeks")
    assert state.expired_attributes == set()


def test_loading_rows_gives_one_object_per_row_and_none_for_a_null_key(backend, session, User):
    rows = [(1, "sandy", None), (None, None, None), (2, "patrick", "Patrick Star"), (1, "sandy", None)]

    objects = backend.instrumentation.load_instances(User.__mapper__, session.identity_map, session.hash_key, rows)

    assert objects[1] is None
    assert objects[0] is objects[3] and objects[0] is not objects[2]
    assert [obj.name for obj in (objects[0], objects[2])] == ["sandy", "patrick"]
    assert len(session.identity_map) == 2


def test_the_identity_map_lists_the_states_of_its_objects(backend, session, User):
    rows = [(1, "sandy", None), (2, "patrick", None)]
    objects = backend.instrumentation.load_instances(User.__mapper__, session.identity_map, session.hash_key, rows)

    states = session.identity_map.all_states()

    assert states == [state_of(backend, obj) for obj in objects]


def test_loaded_objects_are_held_weakly_by_the_identity_map(backend, session, User):
    load(backend, session, User)
    gc.collect()

    assert session.identity_map.get((User, (1,), None)) is None


# --- flush parameters ------------------------------------------------------------------


def test_insert_params_follow_the_column_order(backend, User):
    squidward = User(fullname="Squidward Tentacles", name="squidward")

    assert backend.instrumentation.insert_params(squidward.__dict__, COLUMNS) == [None, "squidward", "Squidward Tentacles"]


def test_update_params_list_changed_columns_in_column_order(backend, session, User):
    sandy = load(backend, session, User)
    sandy.fullname = "Sandy Squirrel"
    sandy.name = "sandra"

    changes = backend.instrumentation.update_params(state_of(backend, sandy), sandy.__dict__)

    assert list(changes.items()) == [("name", "sandra"), ("fullname", "Sandy Squirrel")]


def test_update_params_see_a_change_of_type_as_a_change(backend, session, User):
    sandy = load(backend, session, User, (1, 1, "Sandy Cheeks"))
    sandy.name = True  # == 1, but not the same value

    assert backend.instrumentation.update_params(state_of(backend, sandy), sandy.__dict__) == {"name": True}


def test_update_rows_group_objects_by_changed_columns(backend, session, User):
    sandy, patrick, squidward, krabs = [
        load(backend, session, User, (n, f"user{n}", f"User {n}")) for n in (1, 2, 3, 4)
    ]
    sandy.name = "sandra"
    patrick.fullname = "Patrick Star"
    patrick.name = "pat"
    squidward.name = "squid"
    krabs.name = "user4"  # set back to its value: no change

    groups = backend.instrumentation.update_rows(User.__mapper__, [sandy, patrick, squidward, krabs])

    assert list(groups) == [("name",), ("name", "fullname")]
    assert groups[("name",)] == ([sandy, squidward], [("sandra", 1), ("squid", 3)])
    assert groups[("name", "fullname")] == ([patrick], [("pat", "Patrick Star", 2)])


def test_update_rows_find_a_change_after_a_committed_value_was_forgotten(backend, session, User):
    sandy = load(backend, session, User)
    sandy.name = "sandra"
    sandy.fullname = "Sandy Squirrel"
    state_of(backend, sandy).committed_state.pop("name")  # as an ORM-enabled UPDATE does
    sandy.name = "sandy again"  # recorded again: its committed value is now "sandra"

    groups = backend.instrumentation.update_rows(User.__mapper__, [sandy])

    assert groups == {("name", "fullname"): ([sandy], [("sandy again", "Sandy Squirrel", 1)])}


def test_delete_params_are_the_primary_key(backend, session, User):
    sandy = load(backend, session, User)

    assert backend.instrumentation.delete_params(state_of(backend, sandy)) == (1,)


# --- state transitions in bulk -------------------------------------------------------


def test_mark_inserted_makes_new_objects_persistent_in_the_identity_map(backend, session, User):
    squidward, krabs = User(name="squidward"), User(name="ehkrabs")
    for number, obj in enumerate((squidward, krabs), start=4):
        state = state_of(backend, obj)
        state.session_id = session.hash_key  # pending
        obj.__dict__["id"] = number  # what the INSERT filled in
    state_of(backend, krabs).committed_state["name"] = "old"

    states = []
    displaced = backend.instrumentation.mark_inserted(User.__mapper__, session.identity_map, [squidward, krabs], states)

    assert displaced == []
    assert states == [state_of(backend, squidward), state_of(backend, krabs)]
    for number, obj in enumerate((squidward, krabs), start=4):
        state = state_of(backend, obj)
        assert state.persistent and state.key == (User, (number,), None)
        assert dict(state.committed_state) == {} and not state.modified
        assert session.identity_map.get((User, (number,), None)) is obj


def test_mark_inserted_returns_the_objects_it_displaced_from_the_identity_map(backend, session, User):
    stale_sandy = load(backend, session, User, (2, "sandy", "Sandy Cheeks"))  # row deleted since
    new_sandy = User(name="new sandy")
    state_of(backend, new_sandy).session_id = session.hash_key
    new_sandy.__dict__["id"] = 2  # the INSERT reused the key

    displaced = backend.instrumentation.mark_inserted(User.__mapper__, session.identity_map, [new_sandy], [])

    assert displaced == [stale_sandy]
    assert session.identity_map.get((User, (2,), None)) is new_sandy


def test_mark_inserted_batch_fills_the_keys_of_one_statement_and_makes_its_objects_persistent(backend, session, User):
    before, squidward, krabs, after = (User(name=name) for name in ("a", "squidward", "ehkrabs", "b"))
    objects = [before, squidward, krabs, after]
    for obj in objects:
        state_of(backend, obj).session_id = session.hash_key  # pending

    states = []
    displaced = backend.instrumentation.mark_inserted_batch(
        User.__mapper__, session.identity_map, objects, 1, range(7, 9), "id", states
    )

    assert displaced == []
    assert states == [state_of(backend, squidward), state_of(backend, krabs)]
    for number, obj in ((7, squidward), (8, krabs)):
        assert obj.__dict__["id"] == number
        assert state_of(backend, obj).persistent and state_of(backend, obj).key == (User, (number,), None)
        assert session.identity_map.get((User, (number,), None)) is obj
    for obj in (before, after):  # the objects of other statements are left as they were
        assert "id" not in obj.__dict__ and state_of(backend, obj).pending


def test_mark_inserted_batch_returns_the_objects_it_displaced(backend, session, User):
    stale_sandy = load(backend, session, User, (2, "sandy", "Sandy Cheeks"))  # row deleted since
    new_sandy = User(name="new sandy")
    state_of(backend, new_sandy).session_id = session.hash_key

    displaced = backend.instrumentation.mark_inserted_batch(
        User.__mapper__, session.identity_map, [new_sandy], 0, [2], "id", []
    )

    assert displaced == [stale_sandy]
    assert session.identity_map.get((User, (2,), None)) is new_sandy


def test_group_by_mapper_keeps_the_order_and_leaves_out_the_skipped(backend, User):
    Other = mapped_class(backend)
    first, second, third = User(name="a"), User(name="b"), User(name="c")
    other = Other(name="x")

    groups = backend.instrumentation.group_by_mapper([first, other, second, third], {id(second)})

    assert list(groups) == [User.__mapper__, Other.__mapper__]
    assert groups[User.__mapper__] == [first, third] and groups[Other.__mapper__] == [other]
    assert backend.instrumentation.group_by_mapper(backend.identity.IdentitySet([third, first]), ()) == {
        User.__mapper__: [third, first]
    }


def test_split_pending_separates_new_objects_from_persistent_ones(backend, session, User):
    sandy = load(backend, session, User)
    squidward = User(name="squidward")
    state_of(backend, squidward).session_id = session.hash_key  # pending

    pending, persistent = backend.instrumentation.split_pending([squidward, sandy])

    assert pending == [squidward] and persistent == [sandy]


@pytest.mark.parametrize("updated", ["all", "some"])
def test_mark_updated_commits_the_values_and_empties_modified(backend, session, User, updated):
    users = [load(backend, session, User, (n, f"user{n}", f"User {n}")) for n in (1, 2, 3)]
    for user in users:
        user.name = f"changed {user.id}"
    modified = backend.identity.IdentitySet(users)
    flushed = users if updated == "all" else users[:2]

    moved = backend.instrumentation.mark_updated(flushed, modified)

    assert moved == []
    for user in flushed:
        state = state_of(backend, user)
        assert dict(state.committed_state) == {} and not state.modified
    assert list(modified) == [user for user in users if user not in flushed]


def test_mark_updated_returns_the_objects_whose_primary_key_changed(backend, session, User):
    sandy = load(backend, session, User)
    sandy.id = 7
    modified = backend.identity.IdentitySet([sandy])

    assert backend.instrumentation.mark_updated([sandy], modified) == [(sandy, (7,))]
    assert not modified


def test_expire_instances_expires_every_object(backend, session, User):
    sandy = load(backend, session, User)
    patrick = load(backend, session, User, (3, "patrick", "Patrick Star"))

    backend.instrumentation.expire_instances([sandy, patrick])

    for obj in (sandy, patrick):
        assert set(obj.__dict__) == {backend.instrumentation.STATE_KEY}
        assert state_of(backend, obj).expired_attributes == {"id", "name", "fullname"}


def test_detach_instances_detaches_only_the_objects_of_the_session(backend, session, User):
    sandy = load(backend, session, User)
    other_session = StandInSession(backend)
    patrick = load(backend, other_session, User, (3, "patrick", "Patrick Star"))
    squidward = User(name="squidward")  # transient: no state yet

    backend.instrumentation.detach_instances([sandy, patrick, squidward], session.hash_key)

    assert state_of(backend, sandy).detached and state_of(backend, sandy).key == (User, (1,), None)
    assert state_of(backend, patrick).session_id == other_session.hash_key
    assert state_of(backend, squidward).transient


def test_set_committed_value_records_no_change(backend, session, User):
    sandy = load(backend, session, User)
    sandy.name = "changed"  # a recorded change of another attribute stays
    sandy.fullname = "set by hand"
    state = state_of(backend, sandy)

    backend.instrumentation.set_committed_value(sandy, "fullname", "Sandy Squirrel")

    assert sandy.fullname == "Sandy Squirrel"
    assert dict(state.committed_state) == {"name": "sandy"}
    assert backend.instrumentation.update_params(state, sandy.__dict__) == {"name": "changed"}
    sandy.fullname = "again"  # a later write is recorded against the committed value
    assert state.committed_state["fullname"] == "Sandy Squirrel"


# --- Session.get's fast path -----------------------------------------------------------


def with_fast_path(backend):
    """A ``get`` as ``Session`` declares it: the general path, decorated with the twin's fast
    path; the general path records its calls instead of loading anything."""
    general_calls = []

    @backend.instrumentation.session_get_fast_path
    def get(session, entity, ident, **options):
        """The general path."""
        general_calls.append((ident, options))
        return "loaded by the general path"

    return get, general_calls


def test_session_get_fast_path_returns_a_loaded_object_from_the_identity_map(backend, session, User):
    get, general_calls = with_fast_path(backend)
    sandy = load(backend, session, User)

    assert get(session, User, 1) is sandy
    assert get(session, User, (1,)) is sandy
    assert general_calls == []


def test_session_get_fast_path_leaves_everything_else_to_the_general_path(backend, session, User):
    get, general_calls = with_fast_path(backend)
    sandy = load(backend, session, User)
    state_of(backend, sandy).expire()

    assert get(session, User, 1) == "loaded by the general path"  # expired
    assert get(session, User, 2) == "loaded by the general path"  # not in the map
    assert get(session, User, [1]) == "loaded by the general path"  # a list
    assert get(session, User, {"id": 1}) == "loaded by the general path"  # a dict
    get(session, User, 1, populate_existing=True)

    assert [ident for ident, _ in general_calls] == [1, 2, [1], {"id": 1}, 1]
    assert general_calls[-1][1]["populate_existing"] is True


class _KeyThatLooksUpAnother:
    """A primary-key value equal to ``value`` whose comparison calls ``get`` itself first:
    Python code run in the middle of an identity-map lookup."""

    def __init__(self, value, lookup):
        self.value, self.lookup, self.found = value, lookup, None

    def __hash__(self):
        return hash(self.value)

    def __eq__(self, other):
        self.found = self.lookup()
        return other == self.value


def test_session_get_fast_path_lookup_inside_a_lookup_finds_both_objects(backend, session, User):
    get, general_calls = with_fast_path(backend)
    sandy = load(backend, session, User)
    patrick = load(backend, session, User, values=(2, "patrick", "Patrick Star"))
    key = _KeyThatLooksUpAnother(1, lambda: get(session, User, 2))

    assert get(session, User, key) is sandy
    assert key.found is patrick
    assert general_calls == []


def test_session_get_fast_path_keeps_no_reference_to_what_it_looked_up(backend, session, User):
    get, general_calls = with_fast_path(backend)
    sandy = load(backend, session, User)
    ident = (1,)  # a tuple of its own, used as the whole primary key
    value = 10**30  # an int of its own, used as the primary key's value (a miss)
    before = (sys.getrefcount(ident), sys.getrefcount(value), sys.getrefcount(User))

    assert get(session, User, ident) is sandy
    assert get(session, User, value) == "loaded by the general path"
    general_calls.clear()  # (which kept its arguments)
    with pytest.raises(TypeError):
        get(session, User, ([],))  # unhashable: the lookup raises
    gc.collect()  # the exception's traceback and frames

    assert (sys.getrefcount(ident), sys.getrefcount(value), sys.getrefcount(User)) == before


def test_session_get_fast_path_keeps_the_name_and_docstring_of_the_general_path(backend):
    get, _ = with_fast_path(backend)

    assert get.__name__ == "get"
    assert get.__doc__ == "The general path."


def test_session_get_fast_path_rejects_an_unknown_option(backend, session, User):
    get, _ = with_fast_path(backend)

    with pytest.raises(TypeError):
        get(session, User, 1, populate_everything=True)


# --- the two twins, side by side ----------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from minialchemy import _accel  # noqa: E402

_operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(COLUMNS), st.sampled_from([None, 0, 1, True, "x", "sandy"])),
        st.tuples(st.just("delete"), st.sampled_from(COLUMNS)),
        st.tuples(st.just("expire"), st.lists(st.sampled_from(COLUMNS), max_size=2, unique=True)),
        st.tuples(st.just("expire_all")),
        st.tuples(st.just("forget"), st.sampled_from(COLUMNS)),  # bulk.py's committed_state.pop
        st.tuples(st.just("commit")),
        st.tuples(st.just("read"), st.sampled_from(COLUMNS)),
    ),
    max_size=30,
)


def _apply(instrumentation, obj, operation):
    state = instrumentation.instance_state(obj)
    kind = operation[0]
    if kind == "set":
        setattr(obj, operation[1], operation[2])
    elif kind == "delete":
        delattr(obj, operation[1])
    elif kind == "expire":
        state.expire(operation[1])
    elif kind == "expire_all":
        state.expire()
    elif kind == "forget":
        state.committed_state.pop(operation[1], None)
    elif kind == "commit":
        state._commit_all()
    else:
        return getattr(obj, operation[1])


def _snapshot(instrumentation, obj):
    state = instrumentation.instance_state(obj)
    no_value = instrumentation.NO_VALUE
    committed = {k: ("NO_VALUE" if v is no_value else (type(v), v)) for k, v in state.committed_state.items()}
    values = {k: (type(v), v) for k, v in obj.__dict__.items() if k in COLUMNS}
    changes = {k: (type(v), v) for k, v in instrumentation.update_params(state, obj.__dict__).items()}
    return committed, values, changes, sorted(state.expired_attributes), bool(state.modified)


@pytest.mark.compiled
@pytest.mark.skipif(_accel.pure_python_requested(), reason="MINIALCHEMY_PURE_PYTHON is set: no compiled twin")
@settings(max_examples=150, deadline=None)
@given(operations=_operations, plain=st.booleans())
def test_the_twins_track_changes_identically(operations, plain):
    """Random writes, deletes, expiries, commits and ORM-enabled-UPDATE-style forgetting, applied
    to an object of each twin: committed values, current values, UPDATE parameters, expired
    attributes and the modified flag never differ."""
    from importlib import import_module
    from types import SimpleNamespace

    twins = []
    for position in (1, 0):  # python, cython
        modules = {name: import_module(names[position]) for name, names in _accel.TWINS.items()}
        backend = SimpleNamespace(**modules)
        session = StandInSession(backend)
        User = mapped_class(backend, plain=plain)
        twins.append((backend.instrumentation, load(backend, session, User), session))
    for operation in operations:
        results = [_apply(instrumentation, obj, operation) for instrumentation, obj, _ in twins]
        assert results[0] == results[1], operation
        assert _snapshot(twins[0][0], twins[0][1]) == _snapshot(twins[1][0], twins[1][1]), operation
    assert len(twins[0][2].modified) == len(twins[1][2].modified)
