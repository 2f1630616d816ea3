"""``inspect(obj).attrs.<key>.history``: a ``History(added, unchanged, deleted)`` named tuple.

Every expected value below was recorded from SQLAlchemy 2.1.9 running the same steps (the
``()`` / ``[]`` difference included: SQLAlchemy returns ``()`` for a side it has nothing for,
and lists once a collection has changed).
"""

from minialchemy import inspect
from minialchemy.orm.attributes import History, get_history


def history(obj, key):
    return inspect(obj).attrs[key].history


# -- column attributes -----------------------------------------------------------------------


def test_history_is_a_named_tuple_with_has_changes(User):
    squidward = User(name="squidward")
    result = history(squidward, "name")
    assert isinstance(result, History) and isinstance(result, tuple)
    assert result._fields == ("added", "unchanged", "deleted")
    assert result.added == ["squidward"] and result.has_changes()


def test_transient_object_attribute_set_is_added(User):
    bob = User(name="bob")
    assert history(bob, "name") == History(["bob"], (), ())
    assert history(bob, "fullname") == History((), (), ())
    assert not history(bob, "fullname").has_changes()


def test_pending_object_attribute_set_is_added(session, User):
    bob = User(name="bob")
    session.add(bob)
    assert history(bob, "name") == History(["bob"], (), ())
    assert history(bob, "fullname") == History((), (), ())


def test_flushed_attribute_is_unchanged(session, User):
    bob = User(name="bob")
    session.add(bob)
    session.flush()
    assert history(bob, "name") == History((), ["bob"], ())
    assert not history(bob, "name").has_changes()


def test_expired_attribute_has_empty_history(session, User):
    bob = User(name="bob")
    session.add(bob)
    session.commit()
    assert history(bob, "name") == History((), (), ())
    assert history(bob, "name").empty()


def test_persistent_attribute_loaded_is_unchanged(session, User):
    sandy = session.get(User, 2)
    assert history(sandy, "name") == History((), ["sandy"], ())


def test_persistent_attribute_changed_has_added_and_deleted(session, User):
    sandy = session.get(User, 2)
    sandy.name = "sandra"
    assert history(sandy, "name") == History(["sandra"], (), ["sandy"])
    assert history(sandy, "name").has_changes()


def test_persistent_attribute_set_back_is_unchanged(session, User):
    sandy = session.get(User, 2)
    sandy.name = "sandra"
    sandy.name = "sandy"
    assert history(sandy, "name") == History((), ["sandy"], ())
    assert not history(sandy, "name").has_changes()


def test_persistent_null_column_set_to_a_value(session, User):
    patrick = session.get(User, 3)
    patrick.fullname = None
    session.flush()
    assert history(patrick, "fullname") == History((), [None], ())
    patrick.fullname = "Patrick"
    assert history(patrick, "fullname") == History(["Patrick"], (), [None])


def test_setting_an_expired_attribute_has_no_deleted_value(session, User):
    sandy = session.get(User, 2)
    session.expire(sandy)
    sandy.name = "zz"
    assert history(sandy, "name") == History(["zz"], (), ())


def test_get_history_function(session, User):
    sandy = session.get(User, 2)
    sandy.name = "sandra"
    assert get_history(sandy, "name") == History(["sandra"], (), ["sandy"])


# -- many-to-one references --------------------------------------------------------------


def test_many_to_one_loaded_is_unchanged(session, User, Address):
    address = session.get(Address, 2)
    assert history(address, "user") == History((), (), ())
    sandy = address.user
    assert history(address, "user") == History((), [sandy], ())


def test_many_to_one_changed(session, User, Address):
    address = session.get(Address, 2)
    sandy = address.user
    patrick = session.get(User, 3)
    address.user = patrick
    assert history(address, "user") == History([patrick], (), [sandy])


def test_many_to_one_set_by_back_populates_on_pending_object(session, User, Address):
    bob = User(name="bob")
    session.add(bob)
    address = Address(email_address="bob@example.com")
    bob.addresses.append(address)
    assert history(address, "user") == History([bob], (), ())


# -- collections -----------------------------------------------------------------------------


def test_pending_collection_append_is_added(session, User, Address):
    bob = User(name="bob")
    session.add(bob)
    address = Address(email_address="bob@example.com")
    bob.addresses.append(address)
    assert history(bob, "addresses") == History([address], [], [])
    session.flush()
    assert history(bob, "addresses") == History((), [address], ())


def test_transient_collection_assigned(User, Address):
    bob = User(name="bob")
    address = Address(email_address="bob@example.com")
    bob.addresses = [address]
    assert history(bob, "addresses") == History([address], [], [])


def test_unloaded_collection_has_empty_history(session, User):
    sandy = session.get(User, 2)
    assert history(sandy, "addresses") == History((), (), ())


def test_loaded_collection_is_unchanged(session, User):
    sandy = session.get(User, 2)
    first, second = sandy.addresses
    assert history(sandy, "addresses") == History((), [first, second], ())


def test_collection_append_is_added_not_the_whole_list(session, User, Address):
    sandy = session.get(User, 2)
    first, second = sandy.addresses
    new = Address(email_address="sandy@example.com")
    sandy.addresses.append(new)
    assert history(sandy, "addresses") == History([new], [first, second], [])
    assert history(sandy, "addresses").has_changes()


def test_collection_remove_is_deleted(session, User, Address):
    sandy = session.get(User, 2)
    first, second = sandy.addresses
    new = Address(email_address="sandy@example.com")
    sandy.addresses.append(new)
    sandy.addresses.remove(first)
    assert history(sandy, "addresses") == History([new], [second], [first])


def test_collection_member_removed_then_added_back_is_unchanged(session, User, Address):
    sandy = session.get(User, 2)
    first, second = sandy.addresses
    sandy.addresses.remove(first)
    sandy.addresses.append(first)
    assert history(sandy, "addresses") == History([], [second, first], [])
    assert history(first, "user") == History((), [sandy], ())


def test_collection_member_added_then_removed_is_no_change(session, User, Address):
    sandy = session.get(User, 2)
    first, second = sandy.addresses
    new = Address(email_address="sandy@example.com")
    sandy.addresses.append(new)
    sandy.addresses.remove(new)
    assert history(sandy, "addresses") == History([], [first, second], [])
    assert not history(sandy, "addresses").has_changes()


def test_collection_history_resets_after_flush(session, User, Address):
    sandy = session.get(User, 2)
    first, second = sandy.addresses
    sandy.addresses.remove(first)
    sandy.addresses.append(first)
    session.flush()
    assert history(sandy, "addresses") == History((), [second, first], ())


def test_unloaded_collection_replaced_deletes_the_old_members(session, User, Address):
    sandy = session.get(User, 2)
    replacement = Address(email_address="sandy@example.com")
    sandy.addresses = [replacement]
    first, second = (session.get(Address, 2), session.get(Address, 3))
    assert history(sandy, "addresses") == History([replacement], [], [first, second])
    session.flush()
    assert first.user_id is None and second.user_id is None


def test_loaded_collection_replaced_keeping_members(session, User, Address):
    sandy = session.get(User, 2)
    kept = list(sandy.addresses)
    new = Address(email_address="sandy@example.com")
    sandy.addresses = kept + [new]
    assert history(sandy, "addresses") == History([new], kept, [])
