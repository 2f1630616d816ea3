"""The flush (Unit of Work): which INSERT / UPDATE / DELETE statements the Session
sends, in what order, and when it flushes by itself (autoflush)."""

from minialchemy import select
from minialchemy.orm import Session


def test_flush_inserts_pending_objects(session, User, sql_log):
    session.add_all([User(name="squidward"), User(name="ehkrabs")])
    session.flush()
    assert set(sql_log.kinds) == {"INSERT"}
    assert all(sql.startswith("INSERT INTO user_account") for sql in sql_log.queries)
    names = session.scalars(select(User.name).where(User.id > 3).order_by(User.id)).all()
    assert names == ["squidward", "ehkrabs"]


def test_flush_updates_only_the_changed_column(session, User, sql_log):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    sql_log.clear()
    session.flush()
    assert sql_log.queries == ["UPDATE user_account SET fullname=? WHERE user_account.id = ?"]


def test_flush_updates_several_changed_columns_in_one_statement(session, User, sql_log):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    sandy.name = "squirrel"
    sql_log.clear()
    session.flush()
    assert sql_log.queries == [
        "UPDATE user_account SET name=?, fullname=? WHERE user_account.id = ?"
    ]


def test_setting_an_attribute_to_its_current_value_emits_no_update(session, User, sql_log):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Cheeks"
    sql_log.clear()
    session.flush()
    assert sql_log.statements == []


def test_changing_an_attribute_back_emits_no_update(session, User, sql_log):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    sandy.fullname = "Sandy Cheeks"
    sql_log.clear()
    session.flush()
    assert sql_log.statements == []


def test_flush_deletes_objects_marked_for_deletion(session, User, sql_log):
    patrick = session.get(User, 3)
    session.delete(patrick)
    sql_log.clear()
    session.flush()
    assert sql_log.matching("DELETE") == ["DELETE FROM user_account WHERE user_account.id = ?"]
    assert session.get(User, 3) is None


def test_empty_flush_emits_nothing(session, User, sql_log):
    session.get(User, 2)
    sql_log.clear()
    session.flush()
    assert sql_log.statements == []


def test_parent_is_inserted_before_child_and_child_gets_its_key(session, User, Address, sql_log):
    squidward = User(name="squidward")
    address = Address(email_address="squidward@sqlalchemy.org")
    address.user = squidward
    session.add(address)  # added in child-first order on purpose
    session.flush()
    inserts = sql_log.matching("INSERT")
    assert inserts[0].startswith("INSERT INTO user_account")
    assert inserts[-1].startswith("INSERT INTO address")
    assert squidward.id == 4
    assert address.user_id == 4


def test_children_are_deleted_before_their_parent(session, User, Address, sql_log):
    sandy = session.get(User, 2)
    addresses = list(sandy.addresses)  # load them before deleting anything
    session.delete(sandy)  # parent first on purpose
    for address in addresses:
        session.delete(address)
    sql_log.clear()
    session.flush()
    deletes = sql_log.matching("DELETE")
    assert deletes[0].startswith("DELETE FROM address")
    assert deletes[-1] == "DELETE FROM user_account WHERE user_account.id = ?"
    assert session.scalars(select(Address).where(Address.user_id == 2)).all() == []


def test_autoflush_before_query(session, User, sql_log):
    session.add(User(name="squidward"))
    sql_log.clear()
    found = session.scalars(select(User).where(User.name == "squidward")).one()
    assert found.id == 4
    assert sql_log.kinds[0] == "INSERT"
    assert sql_log.kinds[-1] == "SELECT"


def test_autoflush_before_lazy_load(session, User, Address, sql_log):
    sandy = session.get(User, 2)
    session.add(Address(email_address="sandy@bikini.bottom", user_id=2))
    sql_log.clear()
    emails = sorted(address.email_address for address in sandy.addresses)
    assert emails == ["sandy@bikini.bottom", "sandy@sqlalchemy.org", "sandy@squirrelpower.org"]
    assert sql_log.kinds == ["INSERT", "SELECT"]


def test_no_autoflush_block_holds_changes_back(session, User, sql_log):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    sql_log.clear()
    with session.no_autoflush:
        in_database = session.scalars(select(User.fullname).where(User.id == 2)).one()
    assert in_database == "Sandy Cheeks"
    assert sql_log.kinds == ["SELECT"]
    assert sandy in session.dirty


def test_commit_flushes_first(engine, session, User):
    sandy = session.get(User, 2)
    sandy.fullname = "Sandy Squirrel"
    session.commit()
    with Session(engine) as other:
        assert other.get(User, 2).fullname == "Sandy Squirrel"
