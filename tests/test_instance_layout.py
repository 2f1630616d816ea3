"""The layout of a loaded object: what Python code sees of it stays what it was (and what
SQLAlchemy shows), whatever the compiled twin does underneath.

On CPython 3.11 and 3.12 the compiled loader gives a loaded object no ``__dict__`` at all: its
values sit in the array of values a plain Python instance has, and a dict is made only when
one is asked for (``ext/instrumentation.pyx``, ``_new_inline``; docs/how_it_works.md, "Where a
loaded object's bytes go").  These tests hold the visible side of that: ``vars(obj)`` lists the
same keys in the same order, and the dict a caller holds stays the object's dict.
"""

import gc
import sys
import weakref
from typing import Optional

import pytest

from minialchemy import String, _accel, create_engine, inspect, select
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


@pytest.fixture
def loaded():
    """A session that has just loaded the tutorial's three users: ``(session, users, User)``."""

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "user_account"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(30))
        fullname: Mapped[Optional[str]]

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as setup:
        setup.add_all(
            [
                User(name="spongebob", fullname="Spongebob Squarepants"),
                User(name="sandy", fullname="Sandy Cheeks"),
                User(name="patrick", fullname="Patrick Star"),
            ]
        )
        setup.commit()
    session = Session(engine)
    users = session.scalars(select(User).order_by(User.id)).all()
    yield session, users, User
    session.close()


@pytest.fixture
def loaded_by_compiled_twin(loaded):
    """``loaded``, where the compiled loader keeps values inline: the compiled twins running on
    CPython 3.11 or 3.12 (``MINIALCHEMY_INLINE_VALUES``); skipped elsewhere."""
    if _accel.BACKEND != "cython":
        pytest.skip("the compiled twins are not the ones running (MINIALCHEMY_PURE_PYTHON=1)")
    if not (3, 11) <= sys.version_info[:2] <= (3, 12):
        pytest.skip("values kept inline only on CPython 3.11 and 3.12 (MINIALCHEMY_INLINE_VALUES)")
    return loaded


def test_vars_of_a_loaded_object_lists_its_columns_then_its_state(loaded):
    _, users, _ = loaded
    sandy = users[1]

    assert list(vars(sandy)) == ["id", "name", "fullname", "_sa_instance_state"]
    assert vars(sandy)["name"] == "sandy"
    assert vars(sandy)["_sa_instance_state"] is inspect(sandy)
    assert sandy.__dict__ is vars(sandy)


def test_a_dict_the_caller_holds_stays_the_objects_dict(loaded):
    session, users, _ = loaded
    patrick = users[2]
    held = vars(patrick)

    patrick.fullname = "Patrick Star, Esq."  # a tracked write (the compiled twin's own dict access)
    assert held["fullname"] == "Patrick Star, Esq."
    assert patrick.__dict__ is held

    session.commit()  # expires every attribute: in the dict the caller holds, too
    assert "fullname" not in held
    assert patrick.fullname == "Patrick Star, Esq."
    assert held["fullname"] == "Patrick Star, Esq."


def test_reading_and_inspecting_a_loaded_object_changes_nothing_visible(loaded):
    _, users, User = loaded
    spongebob = users[0]

    assert inspect(spongebob).key == (User, (1,), None)
    assert repr(spongebob).startswith("User(")
    assert (spongebob.id, spongebob.name) == (1, "spongebob")
    assert vars(spongebob) == {
        "id": 1,
        "name": "spongebob",
        "fullname": "Spongebob Squarepants",
        "_sa_instance_state": inspect(spongebob),
    }


@pytest.mark.compiled
def test_the_compiled_loader_makes_no_dict_until_one_is_asked_for(loaded_by_compiled_twin):
    _, users, _ = loaded_by_compiled_twin
    sandy = users[1]

    def holds_a_dict(obj):
        return any(type(referent) is dict for referent in gc.get_referents(obj))

    assert sandy.name == "sandy" and inspect(sandy).persistent  # reading, inspecting: no dict
    assert not holds_a_dict(sandy)
    vars(sandy)  # as a change would
    assert holds_a_dict(sandy)


@pytest.mark.compiled
def test_closing_the_session_gives_loaded_objects_no_dict(loaded_by_compiled_twin):
    session, users, _ = loaded_by_compiled_twin

    session.close()  # every object detached, in one C loop (detach_instances)

    assert not any(type(referent) is dict for user in users for referent in gc.get_referents(user))
    assert all(inspect(user).detached for user in users)


@pytest.mark.compiled
def test_a_loaded_object_of_plain_values_is_out_of_the_collectors_view_until_it_may_hold_more(
    loaded_by_compiled_twin,
):
    _, users, _ = loaded_by_compiled_twin
    spongebob, sandy, patrick = users

    assert not gc.is_tracked(spongebob) and spongebob.name == "spongebob"
    vars(sandy)  # a dict may come to hold anything
    patrick.best_friend = spongebob  # so may an attribute that is not a column
    assert gc.is_tracked(sandy) and gc.is_tracked(patrick)


def test_a_loaded_object_in_a_reference_cycle_is_still_collected(loaded):
    session, users, User = loaded
    sandy, patrick = users[1], users[2]
    watchers = [weakref.ref(sandy), weakref.ref(patrick)]
    sandy.friends = [patrick]  # a cycle through attributes that are not columns
    patrick.__dict__["friends"] = [sandy]  # ... and through the dict itself
    del sandy, patrick
    users.clear()

    gc.collect()
    assert [watcher() for watcher in watchers] == [None, None]
    assert session.get(User, 2).name == "sandy"  # loaded again: the map let the dead one go


# -- writes to a loaded object that keeps its values inline ----------------------------------
#
# On CPython 3.11 the compiled twin writes a column of such an object straight into its array of
# values (``ext/instrumentation.pyx``, ``_set_inline_value``; ``minialchemy._ext.capi``,
# ``minialchemy_inline_value_slot``).  What a caller can see must be what the dict path shows.


def test_a_write_to_a_loaded_object_is_tracked_as_any_write(loaded):
    session, users, User = loaded
    sandy = users[1]

    sandy.fullname = "Sandy Cheeks, PhD"
    sandy.fullname = "Sandy Cheeks, PhD."  # again: the committed value is recorded once

    state = inspect(sandy)
    assert sandy.fullname == "Sandy Cheeks, PhD."
    assert sandy in session.dirty and session.is_modified(sandy)
    history = state.attrs.fullname.history
    assert (list(history.added), list(history.deleted)) == (["Sandy Cheeks, PhD."], ["Sandy Cheeks"])
    assert vars(sandy)["fullname"] == "Sandy Cheeks, PhD."
    assert list(vars(sandy)) == ["id", "name", "fullname", "_sa_instance_state"]
    session.commit()
    assert session.scalars(select(User.fullname).where(User.id == 2)).one() == "Sandy Cheeks, PhD."


def test_setting_a_loaded_value_back_emits_no_update(loaded):
    session, users, _ = loaded
    patrick = users[2]

    patrick.name = "patrick star"
    patrick.name = "patrick"

    assert not session.is_modified(patrick)  # net change: none
    session.flush()
    assert patrick.name == "patrick"


def test_plain_attributes_and_property_setters_of_a_loaded_object_still_work():
    class Base(DeclarativeBase):
        pass

    class Person(Base):
        __tablename__ = "person"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(30))

        @property
        def shout(self):
            return self.name.upper()

        @shout.setter
        def shout(self, value):
            self.name = value.lower()

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as setup:
        setup.add(Person(name="gary"))
        setup.commit()
    with Session(engine) as session:
        gary = session.scalars(select(Person)).one()
        gary.shout = "MEOW"  # the property's setter sets the column
        gary.note = "a plain attribute"
        assert (gary.name, gary.shout, gary.note) == ("meow", "MEOW", "a plain attribute")
        assert gary in session.dirty
        assert list(inspect(gary).attrs.name.history.deleted) == ["gary"]
        assert "note" in vars(gary) and "shout" not in vars(gary)


def test_a_subclass_sharing_the_columns_writes_its_own_objects(loaded):
    session, _, User = loaded

    class Admin(User):  # no table of its own: the same columns, another class (other shared keys)
        pass

    admin = session.get(User, 1)
    admin.name = "sponge"
    other = Admin.__new__(Admin)
    other.name = "admin"  # a transient object of the subclass
    assert (admin.name, other.name) == ("sponge", "admin")
    assert vars(other) == {"name": "admin"}


def test_a_write_of_a_container_puts_a_loaded_object_back_in_the_collectors_view(loaded):
    session, users, _ = loaded
    spongebob = users[0]
    watcher = weakref.ref(spongebob)

    spongebob.fullname = ["a", "list", spongebob]  # a column value that is a container, in a cycle
    assert gc.is_tracked(spongebob)
    assert spongebob.fullname[2] is spongebob
    session.expunge(spongebob)
    del spongebob
    users.clear()
    gc.collect()
    assert watcher() is None


def test_a_dict_made_while_a_write_is_recorded_gets_the_value(loaded):
    """Recording a change runs the session's code; if that makes the object's ``__dict__``, the
    value goes there (the compiled twin looks for the value's slot again after recording)."""
    session, users, _ = loaded
    sandy = users[1]
    made = []
    register = session._register_modified

    def register_and_look(state):
        made.append(vars(state.obj()))  # the object's dict, made now
        register(state)

    session._register_modified = register_and_look
    sandy.fullname = "Sandy"
    assert made[0] is vars(sandy)
    assert made[0]["fullname"] == "Sandy" and sandy.fullname == "Sandy"
    assert list(inspect(sandy).attrs.fullname.history.deleted) == ["Sandy Cheeks"]


def test_an_expired_column_of_a_loaded_object_is_set_without_a_reload(loaded):
    session, users, _ = loaded
    sandy = users[1]
    session.expire(sandy, ["fullname"])

    sandy.fullname = "Sandy C."
    assert sandy.fullname == "Sandy C."
    assert sandy in session.dirty


@pytest.mark.compiled
def test_the_compiled_twin_writes_a_loaded_object_without_making_its_dict(loaded_by_compiled_twin):
    _, users, _ = loaded_by_compiled_twin
    sandy = users[1]
    from minialchemy._ext import instrumentation

    def holds_a_dict(obj):
        return any(type(referent) is dict for referent in gc.get_referents(obj))

    if sys.version_info[:2] == (3, 11):
        assert instrumentation.INLINE_STORE  # the layout check at import passed
    sandy.fullname = "Sandy Cheeks, PhD"
    sandy.fullname = "Sandy Cheeks, PhD."
    assert holds_a_dict(sandy) is not instrumentation.INLINE_STORE
    assert not gc.is_tracked(sandy)  # a string: still nothing for the collector to walk
    assert sandy.fullname == "Sandy Cheeks, PhD."



@pytest.mark.compiled
def test_the_flush_of_changed_loaded_objects_makes_them_no_dict(loaded_by_compiled_twin):
    session, users, User = loaded_by_compiled_twin
    from minialchemy._ext import instrumentation

    def holds_a_dict(obj):
        return any(type(referent) is dict for referent in gc.get_referents(obj))

    for user in users:
        user.fullname = user.fullname.upper()
    # the flush reads each change and primary key where the write stored it (the values array)
    session.flush()
    assert [holds_a_dict(user) for user in users] == [not instrumentation.INLINE_STORE] * 3
    assert not any(gc.is_tracked(user) for user in users)
    assert session.scalars(select(User.fullname).order_by(User.id)).all() == [
        "SPONGEBOB SQUAREPANTS", "SANDY CHEEKS", "PATRICK STAR",
    ]
    assert [user.fullname for user in users] == ["SPONGEBOB SQUAREPANTS", "SANDY CHEEKS", "PATRICK STAR"]
    assert not session.dirty


# -- objects your code constructs ------------------------------------------------------------


@pytest.fixture
def user_class(loaded):
    """The mapped ``User`` class of ``loaded`` and its session: ``(session, User)``."""
    session, _, User = loaded
    return session, User


@pytest.fixture
def constructed_by_compiled_twin(user_class):
    """``user_class``, where a constructed object starts out of the collector's view: the
    compiled twins on CPython 3.11 or 3.12; skipped elsewhere."""
    if _accel.BACKEND != "cython":
        pytest.skip("the compiled twins are not the ones running (MINIALCHEMY_PURE_PYTHON=1)")
    if not (3, 11) <= sys.version_info[:2] <= (3, 12):
        pytest.skip("only on CPython 3.11 and 3.12 (MINIALCHEMY_INLINE_VALUES)")
    return user_class


@pytest.mark.compiled
def test_a_constructed_object_of_plain_values_is_out_of_the_collectors_view_through_a_flush(
    constructed_by_compiled_twin,
):
    session, User = constructed_by_compiled_twin
    users = [User(name=f"new{i}", fullname=None if i % 2 else f"New {i}") for i in range(20)]

    assert not any(gc.is_tracked(user) for user in users)
    session.add_all(users)
    session.flush()  # parameter rows, keys filled in, identity keys: nothing the collector walks
    assert [user.id for user in users] == list(range(4, 24))
    session.commit()  # every attribute expired
    # (the flush plan looks at the first object's __dict__ from Python, to pick the INSERT's
    # columns: that one is back in view, as any object whose dict Python code was handed)
    assert not any(gc.is_tracked(user) for user in users[1:])
    assert vars(users[1]) == {"_sa_instance_state": inspect(users[1])}


@pytest.mark.compiled
def test_a_constructed_object_comes_back_into_view_before_it_can_hold_more(constructed_by_compiled_twin):
    _, User = constructed_by_compiled_twin
    with_list, with_attribute, with_vars, with_new_dict, plain = (User(name=str(i)) for i in range(5))

    with_list.fullname = ["not", "a", "string"]  # a column value the collector tracks
    with_attribute.best_friend = plain  # an attribute that is not a column
    vars(with_vars)  # a dict your code may fill with anything
    with_new_dict.__dict__ = {"name": "x"}
    plain.fullname = "Plain Value"  # a plain column value: nothing to walk still

    assert all(gc.is_tracked(user) for user in (with_list, with_attribute, with_vars, with_new_dict))
    assert not gc.is_tracked(plain)


def test_a_constructed_object_in_a_reference_cycle_is_still_collected(user_class):
    _, User = user_class
    through_column = User(name="cycle")
    through_column.fullname = [through_column]  # through a column value
    through_attribute = User(name="other")
    through_attribute.friends = [through_attribute]  # through an attribute that is not a column
    in_dict = User(name="third")
    in_dict.__dict__["friends"] = [in_dict]  # through the dict itself
    watchers = [weakref.ref(through_column), weakref.ref(through_attribute), weakref.ref(in_dict)]
    del through_column, through_attribute, in_dict

    gc.collect()
    assert [watcher() for watcher in watchers] == [None, None, None]


@pytest.mark.compiled
def test_a_loaded_object_costs_one_allocation_more_than_a_plain_one_its_state(
    loaded_by_compiled_twin, tmp_path
):
    """Counted in allocations (``tracemalloc``), which, unlike bytes or seconds, do not depend
    on the machine: an object loaded by the compiled twin keeps what a plain instance built from
    the same row keeps (the object, its values, the values themselves) and one thing more, its
    state.  No dict, no weak reference, no identity-key tuple: the identity map keys its entries
    by the primary key value the object holds already, and the state builds ``key`` on demand.
    Each way is counted for 500 rows and for 1500: the difference is what 1000 more objects
    keep, without what one load keeps whatever its size (a session, a cursor, caches)."""
    import sqlite3
    import tracemalloc

    _, _, User = loaded_by_compiled_twin
    engine = create_engine(f"sqlite:///{tmp_path / 'users.db'}")
    User.metadata.create_all(engine)
    with Session(engine) as setup:
        setup.add_all([User(name=f"user {n}", fullname=f"User Number {n}") for n in range(1500)])
        setup.commit()

    class PlainUser:
        def __init__(self, id, name, fullname):  # noqa: A002 (the column's name)
            self.id, self.name, self.fullname = id, name, fullname

    def allocations_kept(load, rows):
        load(rows)  # caches filled first
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            kept = load(rows)
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        assert len(kept[-1]) == rows
        return sum(stat.count_diff for stat in after.compare_to(before, "filename"))

    connection = sqlite3.connect(tmp_path / "users.db")

    def load_plain(rows):
        sql = f"SELECT id, name, fullname FROM user_account LIMIT {rows}"
        return None, [PlainUser(*row) for row in connection.execute(sql).fetchall()]

    def load_orm(rows):
        session = Session(engine)
        return session, session.scalars(select(User).limit(rows)).all()

    plain = allocations_kept(load_plain, 1500) - allocations_kept(load_plain, 500)
    orm = allocations_kept(load_orm, 1500) - allocations_kept(load_orm, 500)
    connection.close()
    engine.dispose()
    # (the identity map's hash table and the loader's lists grow by a few allocations in all,
    # not one per object; an identity-key tuple per object would add 1000 or 2000)
    assert abs(orm - (plain + 1000)) <= 50
