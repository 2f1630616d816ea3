"""IdentitySet and IdentityMap: the same behaviour from the Python twin and the compiled twin.

Every test takes the ``backend`` fixture (tests/conftest.py) and so runs once against
``minialchemy.orm.identity`` and once against ``minialchemy._ext.identity``.
"""

import gc
import weakref
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test


@dataclass
class User:
    """Like a mapped class: compares by value, and so (``eq=True``) is unhashable."""

    id: int = None
    name: str = ""


def user_key(user_id):
    """The identity key the session would build for ``User`` with primary key *user_id*."""
    return (User, (user_id,), None)


# --- IdentitySet ----------------------------------------------------------------------


def test_equal_but_distinct_objects_are_two_members(backend):
    first, second = User(name="squidward"), User(name="squidward")
    assert first == second

    members = backend.identity.IdentitySet([first, second])

    assert len(members) == 2
    assert first in members and second in members
    assert User(name="squidward") not in members


def test_unhashable_objects_can_be_members(backend):
    user, row = User(name="sandy"), ["a", "list"]
    with pytest.raises(TypeError):
        hash(user)

    members = backend.identity.IdentitySet()
    members.add(user)
    members.add(row)

    assert list(members) == [user, row]


def test_iteration_follows_insertion_order(backend):
    users = [User(id=n) for n in (3, 1, 2)]
    members = backend.identity.IdentitySet(users)

    members.add(users[0])  # adding again keeps the first position

    assert [user.id for user in members] == [3, 1, 2]


def test_discard_ignores_a_non_member_and_remove_raises_key_error(backend):
    user, stranger = User(name="patrick"), User(name="patrick")
    members = backend.identity.IdentitySet([user])

    members.discard(stranger)
    assert list(members) == [user]
    with pytest.raises(KeyError):
        members.remove(stranger)

    members.remove(user)
    assert len(members) == 0


def test_pop_returns_the_last_added_member(backend):
    first, last = User(id=1), User(id=2)
    members = backend.identity.IdentitySet([first, last])

    assert members.pop() is last
    assert members.pop() is first
    with pytest.raises(KeyError):
        members.pop()


def test_clear_empties_the_set_and_bool_follows_membership(backend):
    members = backend.identity.IdentitySet([User()])
    assert members

    members.clear()

    assert not members
    assert len(members) == 0


def test_copy_is_an_independent_set_of_the_same_objects(backend):
    user = User(name="gary")
    original = backend.identity.IdentitySet([user])

    duplicate = original.copy()
    duplicate.add(User(name="larry"))

    assert type(duplicate) is type(original)
    assert list(original) == [user]
    assert list(duplicate)[0] is user
    assert len(duplicate) == 2


def test_set_operations_work_by_identity(backend):
    IdentitySet = backend.identity.IdentitySet
    a, b, c = User(name="twin"), User(name="twin"), User(name="twin")
    left, right = IdentitySet([a, b]), IdentitySet([b, c])

    assert list(left | right) == [a, b, c]
    assert list(left.union([c])) == [a, b, c]
    assert list(left - right) == [a]
    assert list(left.difference([b])) == [a]
    assert list(left & right) == [b]
    assert list(left.intersection([c, b])) == [b]
    assert list(left) == [a, b]  # the operands are unchanged


def test_issubset_compares_identities(backend):
    IdentitySet = backend.identity.IdentitySet
    a, b = User(name="twin"), User(name="twin")

    assert IdentitySet([a]).issubset(IdentitySet([a, b]))
    assert IdentitySet([a]).issubset([b, a])
    assert not IdentitySet([a, b]).issubset([a])
    assert not IdentitySet([a]).issubset([User(name="twin")])


def test_operators_accept_only_identity_sets(backend):
    members = backend.identity.IdentitySet([User()])

    for operate in (
        lambda: members | {1},
        lambda: members - {1},
        lambda: members & {1},
    ):
        with pytest.raises(TypeError):
            operate()
    assert members.__eq__([User()]) is NotImplemented
    assert members.__ne__([User()]) is NotImplemented
    assert members != list(members)


def test_equality_means_same_members_by_identity_in_any_order(backend):
    IdentitySet = backend.identity.IdentitySet
    a, b = User(name="twin"), User(name="twin")

    assert IdentitySet([a, b]) == IdentitySet([b, a])
    assert not IdentitySet([a, b]) != IdentitySet([b, a])
    assert IdentitySet([a]) != IdentitySet([b])
    assert not IdentitySet([a]) == IdentitySet([b])


def test_identity_set_is_unhashable(backend):
    with pytest.raises(TypeError):
        hash(backend.identity.IdentitySet())


def test_repr_lists_members_like_sqlalchemy(backend):
    members = backend.identity.IdentitySet(
        [User(name="squidward"), User(id=2, name="krabs")]
    )

    assert repr(members) == (
        "IdentitySet([User(id=None, name='squidward'), User(id=2, name='krabs')])"
    )


def test_identity_set_keeps_its_members_alive(backend):
    user = User(name="plankton")
    watcher = weakref.ref(user)
    members = backend.identity.IdentitySet([user])

    del user
    gc.collect()

    assert watcher() is not None
    assert list(members) == [watcher()]


def test_identity_set_behaves_like_a_dict_keyed_by_id(backend):
    """Model-based: random operation sequences agree with ``{id(obj): obj}``."""
    IdentitySet = backend.identity.IdentitySet
    pool = [User(name="squidward") for _ in range(5)]  # all equal, all unhashable
    picks = st.integers(min_value=0, max_value=len(pool) - 1)

    class IdentitySetAgainstDict(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.actual = IdentitySet()
            self.model = {}

        @rule(i=picks)
        def add(self, i):
            self.actual.add(pool[i])
            self.model.setdefault(id(pool[i]), pool[i])

        @rule(indexes=st.lists(picks, max_size=4))
        def update(self, indexes):
            self.actual.update(pool[i] for i in indexes)
            for i in indexes:
                self.model.setdefault(id(pool[i]), pool[i])

        @rule(i=picks)
        def discard(self, i):
            self.actual.discard(pool[i])
            self.model.pop(id(pool[i]), None)

        @rule(i=picks)
        def remove(self, i):
            if id(pool[i]) in self.model:
                self.actual.remove(pool[i])
                del self.model[id(pool[i])]
            else:
                with pytest.raises(KeyError):
                    self.actual.remove(pool[i])

        @rule()
        def pop(self):
            if self.model:
                assert self.actual.pop() is self.model.popitem()[1]
            else:
                with pytest.raises(KeyError):
                    self.actual.pop()

        @rule()
        def clear(self):
            self.actual.clear()
            self.model.clear()

        @rule(indexes=st.lists(picks, max_size=4))
        def set_operations(self, indexes):
            other = [pool[i] for i in indexes]
            other_ids = {id(obj) for obj in other}
            model_union = dict(self.model)
            for obj in other:
                model_union.setdefault(id(obj), obj)
            assert [id(o) for o in self.actual.union(other)] == list(model_union)
            assert [id(o) for o in self.actual.difference(other)] == [
                key for key in self.model if key not in other_ids
            ]
            assert [id(o) for o in self.actual.intersection(other)] == [
                key for key in self.model if key in other_ids
            ]
            assert self.actual.issubset(other) == (set(self.model) <= other_ids)
            assert (self.actual == IdentitySet(other)) == (set(self.model) == other_ids)

        @invariant()
        def same_members_in_the_same_order(self):
            assert [id(obj) for obj in self.actual] == list(self.model)
            assert len(self.actual) == len(self.model)
            assert bool(self.actual) == bool(self.model)
            for obj in pool:
                assert (obj in self.actual) == (id(obj) in self.model)

    run_state_machine_as_test(
        IdentitySetAgainstDict,
        settings=settings(max_examples=60, stateful_step_count=30, deadline=None),
    )


# --- IdentityMap ----------------------------------------------------------------------


def test_get_returns_the_stored_object(backend):
    identity_map = backend.identity.IdentityMap()
    sandy = User(id=2, name="sandy")

    identity_map.add(user_key(2), sandy)

    assert identity_map.get(user_key(2)) is sandy
    assert identity_map[user_key(2)] is sandy
    assert user_key(2) in identity_map
    assert identity_map.get(user_key(3)) is None
    assert identity_map.get(user_key(3), "absent") == "absent"
    assert user_key(3) not in identity_map
    with pytest.raises(KeyError):
        identity_map[user_key(3)]


def test_clean_entry_vanishes_when_the_last_reference_is_dropped(backend):
    identity_map = backend.identity.IdentityMap()
    sandy = User(id=2, name="sandy")
    identity_map.add(user_key(2), sandy)

    del sandy
    gc.collect()

    assert user_key(2) not in identity_map
    assert identity_map.get(user_key(2)) is None
    assert len(identity_map) == 0
    assert identity_map.keys() == []


def test_adding_a_different_object_under_a_taken_key_raises(backend):
    identity_map = backend.identity.IdentityMap()
    sandy, impostor = User(id=2, name="sandy"), User(id=2, name="sandy")
    identity_map.add(user_key(2), sandy)

    with pytest.raises(ValueError, match=r"\(2,\)") as raised:
        identity_map.add(user_key(2), impostor)

    assert "User" in str(raised.value)
    assert identity_map[user_key(2)] is sandy


def test_adding_the_same_object_again_changes_nothing(backend):
    identity_map = backend.identity.IdentityMap()
    sandy = User(id=2, name="sandy")
    identity_map.add(user_key(2), sandy)

    identity_map.add(user_key(2), sandy)

    assert identity_map[user_key(2)] is sandy
    assert len(identity_map) == 1


def test_replace_returns_the_displaced_object(backend):
    identity_map = backend.identity.IdentityMap()
    old, new = User(id=2, name="old"), User(id=2, name="new")

    assert identity_map.replace(user_key(2), old) is None
    assert identity_map.replace(user_key(2), new) is old

    assert identity_map[user_key(2)] is new
    assert identity_map.replace(user_key(2), new) is new


def test_replaced_object_dying_later_leaves_the_new_entry(backend):
    identity_map = backend.identity.IdentityMap()
    old, new = User(id=2, name="old"), User(id=2, name="new")
    identity_map.add(user_key(2), old)
    identity_map.replace(user_key(2), new)

    del old
    gc.collect()

    assert identity_map[user_key(2)] is new


def test_late_weakref_callback_does_not_remove_a_newcomer(backend):
    """The garbage-collection race, for real.

    When an object dies, every weak reference to it is cleared first and the callbacks
    run afterwards.  Here another callback, run in that window, loads a new object
    for the same row: ``add()`` sees a dead entry and overwrites it.  The map's own
    callback for the old object then runs, and must leave the newcomer in place.
    """
    identity_map = backend.identity.IdentityMap()
    old, newcomer = User(id=2, name="old"), User(id=2, name="new")
    identity_map.add(user_key(2), old)
    seen_in_window = []

    def reload_the_row(_dead):
        seen_in_window.append(identity_map.get(user_key(2)))
        identity_map.add(user_key(2), newcomer)

    watcher = weakref.ref(old, reload_the_row)  # newer callbacks run first on CPython
    old.self_reference = old  # a cycle: only the garbage collector can free it
    del old
    gc.collect()

    assert watcher() is None
    assert seen_in_window == [None]  # the old entry was already dead, not yet removed
    assert identity_map[user_key(2)] is newcomer
    assert identity_map.keys() == [user_key(2)]


def test_discard_removes_only_the_named_object(backend):
    identity_map = backend.identity.IdentityMap()
    sandy, stranger = User(id=2), User(id=2)
    identity_map.add(user_key(2), sandy)

    identity_map.discard(user_key(2), stranger)
    assert identity_map[user_key(2)] is sandy

    identity_map.discard(user_key(2), sandy)
    assert user_key(2) not in identity_map

    identity_map.discard(user_key(2))  # missing key: nothing to do
    identity_map.add(user_key(2), sandy)
    identity_map.discard(user_key(2))
    assert len(identity_map) == 0


def test_views_list_live_entries_only(backend):
    identity_map = backend.identity.IdentityMap()
    users = {n: User(id=n) for n in (1, 2, 3)}
    for n, user in users.items():
        identity_map.add(user_key(n), user)

    del users[2]
    gc.collect()

    assert len(identity_map) == 2
    assert list(identity_map) == [user_key(1), user_key(3)]
    assert identity_map.keys() == [user_key(1), user_key(3)]
    assert identity_map.values() == [users[1], users[3]]
    assert identity_map.items() == [(user_key(1), users[1]), (user_key(3), users[3])]


@dataclass
class OrderLine:
    """Like a mapped class with a two-column primary key."""

    order_id: int = None
    line_number: int = None


def test_keys_of_several_classes_and_composite_keys_come_back_as_given(backend):
    """Inside, the map keys its entries by class and then by primary key value (a tuple of them
    for a composite key); the keys it gives back are the identity keys it was given."""
    identity_map = backend.identity.IdentityMap()
    sandy, line = User(id=2), OrderLine(1, 2)
    identity_map.add(user_key(2), sandy)
    identity_map.add((OrderLine, (1, 2), None), line)

    assert identity_map.get((OrderLine, (1, 2), None)) is line
    assert identity_map.get((OrderLine, (2, 1), None)) is None
    assert identity_map.get((OrderLine, (2,), None)) is None
    assert identity_map.get((User, (2,), None)) is sandy
    assert identity_map.get((User, (2.0,), None)) is sandy  # equal values, one key, as tuples compare
    assert sorted(identity_map.keys(), key=repr) == sorted([user_key(2), (OrderLine, (1, 2), None)], key=repr)
    identity_map.discard((OrderLine, (1, 2), None))
    assert identity_map.items() == [(user_key(2), sandy)]


def test_a_key_that_is_not_an_identity_key_finds_nothing_and_stores_nothing(backend):
    identity_map = backend.identity.IdentityMap()
    sandy = User(id=2)
    identity_map.add(user_key(2), sandy)

    assert identity_map.get((User, 2, None)) is None  # the primary key must be a tuple
    assert (User, (2,), "shard") not in identity_map  # no identity tokens
    assert identity_map.get("sandy", "absent") == "absent"
    with pytest.raises(ValueError, match=r"an identity key is \(class, \(primary key value, \.\.\.\), None\)"):
        identity_map.add((User, 3, None), User(id=3))
    assert identity_map.keys() == [user_key(2)]


def test_clear_removes_every_entry(backend):
    identity_map = backend.identity.IdentityMap()
    users = [User(id=1), User(id=2)]
    identity_map.add(user_key(1), users[0])
    identity_map.add(user_key(2), users[1])

    identity_map.clear()

    assert len(identity_map) == 0
    assert identity_map.get(user_key(2)) is None


def test_repr_counts_live_entries(backend):
    identity_map = backend.identity.IdentityMap()
    users = [User(id=1), User(id=2)]
    identity_map.add(user_key(1), users[0])
    identity_map.add(user_key(2), users[1])

    assert repr(identity_map) == "<IdentityMap with 2 live entries>"


# --- entries that are the objects' own states (MapEntry) --------------------------------


def _instrumented(backend, user_id):
    """An object of an InstrumentedObject class with a state keyed like a loaded row's: the map
    stores such an object's state as its entry."""

    class Member(backend.instrumentation.InstrumentedObject):
        pass

    obj = Member()
    # (a state builds its identity key from its mapper's class: this one needs no more mapper)
    state = backend.instrumentation.new_state(obj, mapper=SimpleNamespace(class_=Member))
    state.key = (Member, (user_id,), None)
    return obj, state.key


def test_an_object_whose_state_is_its_entry_is_held_weakly(backend):
    identity_map = backend.identity.IdentityMap()
    sandy, key = _instrumented(backend, 2)
    identity_map.add(key, sandy)
    assert identity_map.get(key) is sandy and key in identity_map

    del sandy  # no collection needed: the entry goes as soon as its object does

    assert identity_map.get(key) is None
    assert len(identity_map) == 0 and identity_map.values() == [] and identity_map.all_states() == []
    replacement, _ = _instrumented(backend, 2)
    identity_map.add(key, replacement)  # the key is free again
    assert identity_map[key] is replacement


def test_an_object_being_deallocated_is_not_handed_out(backend):
    """Code that runs while an object is being freed (a weak reference's callback here) finds
    it gone from the map already, as it would find a weak reference to it dead."""
    identity_map = backend.identity.IdentityMap()
    obj, key = _instrumented(backend, 2)
    identity_map.add(key, obj)
    state = backend.instrumentation.instance_state(obj)
    seen = []
    watcher = weakref.ref(obj, lambda _ref: seen.append((identity_map.get(key), key in identity_map, state.obj())))

    del obj

    assert seen == [(None, False, None)]
    assert watcher() is None and len(identity_map) == 0


def test_a_state_entry_dying_after_its_key_was_reused_leaves_the_newcomer(backend):
    identity_map = backend.identity.IdentityMap()
    old, key = _instrumented(backend, 2)
    identity_map.add(key, old)
    newcomer = User(id=2)
    identity_map.discard(key, old)
    identity_map.add(key, newcomer)

    del old

    assert identity_map[key] is newcomer


def test_an_object_rekeyed_in_the_map_is_found_under_its_new_key_only(backend):
    identity_map = backend.identity.IdentityMap()
    obj, old_key = _instrumented(backend, 2)
    identity_map.add(old_key, obj)
    state = backend.instrumentation.instance_state(obj)
    new_key = (old_key[0], (20,), None)

    identity_map.discard(old_key, obj)  # as Session does when a flush changes a primary key
    state.key = new_key
    identity_map.replace(new_key, obj)

    assert identity_map.get(old_key) is None and identity_map[new_key] is obj
    del obj, state
    assert len(identity_map) == 0 and identity_map.get(new_key) is None


def test_an_object_stored_under_another_key_than_its_states_is_held_weakly_too(backend):
    identity_map = backend.identity.IdentityMap()
    obj, key = _instrumented(backend, 2)
    other_key = (key[0], (3,), None)
    identity_map.add(other_key, obj)

    assert identity_map[other_key] is obj and identity_map.get(key) is None
    del obj
    gc.collect()
    assert identity_map.get(other_key) is None and len(identity_map) == 0


def test_a_dropped_map_is_freed_at_once_and_its_objects_die_quietly(backend):
    """The weakref callbacks reach the map weakly, so the map is in no reference cycle."""
    identity_map = backend.identity.IdentityMap()
    sandy = User(id=2)
    identity_map.add(user_key(2), sandy)
    map_watcher = weakref.ref(identity_map)

    gc.disable()
    try:
        del identity_map
        freed_without_collector = map_watcher() is None
    finally:
        gc.enable()
    del sandy  # its callback finds no map and does nothing

    assert freed_without_collector


def test_a_state_builds_its_key_from_its_primary_key_and_refuses_another_classs(backend):
    obj, key = _instrumented(backend, 2)
    state = backend.instrumentation.instance_state(obj)

    assert state.key == key and state.key is not state.key  # built when asked for
    assert state.identity == (2,)
    with pytest.raises(ValueError, match="is not an identity key of Member"):
        state.key = user_key(2)
    assert state.key == key
    state.key = None
    assert state.key is None and state.identity is None and not state.has_identity
