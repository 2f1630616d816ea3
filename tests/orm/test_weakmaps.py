"""The weak maps behind the session registry, the loader's caches and the registries' list
(``minialchemy.orm.weakmaps``): an entry lives as long as what it holds weakly, no longer."""

import gc

from minialchemy.orm.weakmaps import WeakIdentitySet, WeakKeyMap, WeakValueMap


class Thing:
    """Something a weak reference can point at."""


def test_a_weak_value_map_gives_a_value_while_it_lives():
    sessions = WeakValueMap()
    session = Thing()
    sessions[1] = session

    assert sessions.get(1) is session
    assert sessions.get(2) is None and sessions.get(2, "none") == "none"
    assert len(sessions) == 1
    del session
    gc.collect()
    assert sessions.get(1) is None and len(sessions) == 0 and not sessions._refs


def test_a_weak_key_map_forgets_an_entry_when_its_key_is_collected():
    cache = WeakKeyMap()
    mapper, other = Thing(), Thing()
    cache[mapper] = ("eager",)

    assert cache.get(mapper) == ("eager",)
    assert cache.get(other) is None and cache.get(other, ()) == ()
    del mapper
    gc.collect()
    assert len(cache) == 0 and not cache._entries


def test_a_dead_keys_callback_leaves_a_newer_entry_alone():
    cache = WeakKeyMap()
    first = Thing()
    cache[first] = "first"
    cache[first] = "again"  # replaced: the first reference's callback must not remove it
    assert cache.get(first) == "again"
    del first
    gc.collect()
    assert not cache._entries

    newcomers = []
    for number in range(50):  # a new key may reuse a dead key's id(): never its entry
        key = Thing()
        cache[key] = number
        newcomers.append(key)
    assert [cache.get(key) for key in newcomers] == list(range(50))


class Equal:
    """Objects that say they are all equal (and hash alike), as a mapped class may."""

    def __eq__(self, other):
        return isinstance(other, Equal)

    def __hash__(self):
        return 0


def test_a_weak_identity_set_holds_distinct_objects_while_they_live():
    members = WeakIdentitySet()
    first, second = Equal(), Equal()
    members.add(first)
    members.add(second)  # equal, not the same object: both are members
    members.add(first)  # again: still once

    assert len(members) == 2 and set(map(id, members)) == {id(first), id(second)}
    assert members
    del first
    gc.collect()
    assert list(members) == [second]
    del second
    gc.collect()
    assert not members and list(members) == []


def test_the_keys_of_a_weak_key_map_are_the_live_ones():
    cache = WeakKeyMap()
    keys = [Thing() for _ in range(3)]
    for number, key in enumerate(keys):
        cache[key] = number
    del keys[1]
    gc.collect()
    assert list(cache.keys()) == keys and len(cache) == 2
