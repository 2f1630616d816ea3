"""The flush plan: ``session.explain_flush()`` shows the steps the next flush runs, and the
flush runs exactly those steps.

The plan is minialchemy's own teaching device (SQLAlchemy keeps its unit of work's action list
internal), so these tests are minialchemy's; the rows and states they leave behind are the same
as SQLAlchemy's (see the other flush tests).
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import List, Optional

import pytest

from minialchemy import Column, ForeignKey, String, Table, insert, select, text
from minialchemy.orm import Mapped, Session, mapped_column, relationship
from minialchemy.orm.unitofwork import FlushPlan

pytestmark = pytest.mark.minialchemy_only

DML = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def statements():
    """Every statement sent, as ``(sql, cause)``."""
    records: list[tuple[str, str | None]] = []

    class Handler(logging.Handler):
        def emit(self, record):
            if getattr(record, "sql", None) is not None:
                records.append((record.sql, record.cause))

    logger = logging.getLogger("minialchemy.engine")
    handler = Handler()
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def dml(records):
    return [(sql, cause) for sql, cause in records if sql.startswith(DML)]


def add_models(models):
    """The tutorial's ``User`` and ``Address`` (conftest), and on the same Base: folders whose
    notes cascade (``all, delete-orphan``), tags whose text key a server default fills, and
    counters with a Python-side default."""
    Base = models.Base

    class Folder(Base):
        __tablename__ = "folder"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str]
        notes: Mapped[List["Note"]] = relationship(back_populates="folder", cascade="all, delete-orphan")

    class Note(Base):
        __tablename__ = "note"
        id: Mapped[int] = mapped_column(primary_key=True)
        body: Mapped[str]
        folder_id = mapped_column(ForeignKey("folder.id"))
        folder: Mapped[Folder] = relationship(back_populates="notes")

    class Tag(Base):
        __tablename__ = "tag"
        code: Mapped[str] = mapped_column(String(16), primary_key=True, server_default=text("(lower(hex(randomblob(8))))"))
        label: Mapped[str]

    class Counter(Base):
        __tablename__ = "counter"
        id: Mapped[int] = mapped_column(primary_key=True)
        value: Mapped[int] = mapped_column(default=7)

    class Node(Base):  # a tree in one table (an adjacency list)
        __tablename__ = "node"
        id: Mapped[int] = mapped_column(primary_key=True)
        parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("node.id"))
        name: Mapped[str]
        parent: Mapped[Optional["Node"]] = relationship(back_populates="children", remote_side=[id])
        children: Mapped[List["Node"]] = relationship(back_populates="parent", cascade="all, delete-orphan")

    post_label = Table(
        "post_label", Base.metadata,
        Column("post_id", ForeignKey("post.id"), primary_key=True),
        Column("label_id", ForeignKey("label.id"), primary_key=True),
    )

    class Post(Base):  # many-to-many through post_label
        __tablename__ = "post"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str]
        labels: Mapped[List["Label"]] = relationship(secondary=post_label, back_populates="posts")

    class Label(Base):
        __tablename__ = "label"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]
        posts: Mapped[List[Post]] = relationship(secondary="post_label", back_populates="labels")

    return SimpleNamespace(
        **vars(models), Folder=Folder, Note=Note, Tag=Tag, Counter=Counter, Node=Node, Post=Post, Label=Label
    )


@pytest.fixture
def m(models):
    return add_models(models)


@pytest.fixture
def engine(m, seeded_engine_for):
    engine = seeded_engine_for(m)  # the tutorial's users and addresses, and the tables above
    engine.insertmanyvalues_page_size = 10  # small batches: several statements from a few rows
    with engine.begin() as conn:
        conn.execute(insert(m.Folder), [{"id": 1, "title": "inbox"}])
        conn.execute(insert(m.Note), [{"id": i, "body": f"note {i}", "folder_id": 1} for i in (1, 2, 3)])
        conn.execute(insert(m.Node), [{"id": 1, "name": "root"}, {"id": 2, "name": "a", "parent_id": 1},
                                      {"id": 3, "name": "a1", "parent_id": 2}, {"id": 4, "name": "b", "parent_id": 1}])
        conn.execute(insert(m.Post), [{"id": 1, "title": "hello"}])
        conn.execute(insert(m.Label), [{"id": 1, "name": "news"}, {"id": 2, "name": "fun"}])
        conn.execute(insert(m.Post.__table__.metadata.tables["post_label"]), [{"post_id": 1, "label_id": 1}, {"post_id": 1, "label_id": 2}])
    return engine


# --- the scenarios: a session with pending changes, one per kind of plan -------------------------


def two_new_users(m, session):
    session.add_all([m.User(name="squidward", fullname="Squidward Tentacles"), m.User(name="ehkrabs")])


def many_new_users(m, session):
    session.add_all([m.User(name=f"user{i}", fullname=None if i % 3 else f"User {i}") for i in range(25)])


def given_and_generated_keys(m, session):
    session.add_all([m.User(id=100 + i, name=f"given{i}") if i % 2 else m.User(name=f"new{i}") for i in range(24)])


def new_user_with_new_addresses(m, session):
    user = m.User(name="pearl", addresses=[m.Address(email_address="pearl@krusty.com"), m.Address(email_address="p@k.com")])
    session.add(user)


def updates_and_a_delete(m, session):
    spongebob, sandy, patrick = (session.get(m.User, i) for i in (1, 2, 3))
    sandy.fullname = "Sandy Squirrel"
    spongebob.name = "sb"
    spongebob.fullname = "SpongeBob"
    patrick.fullname = "Patrick S."
    session.delete(sandy)  # her addresses keep their rows: user_id set to NULL first


def cascade_delete_and_orphan(m, session):
    folder = session.get(m.Folder, 1)
    first_note = folder.notes[0]
    folder.notes.remove(first_note)  # delete-orphan
    session.add(m.Folder(title="archive", notes=[m.Note(body="kept")]))


def delete_a_folder_with_its_notes(m, session):
    session.delete(session.get(m.Folder, 1))


def server_generated_text_keys(m, session):
    session.add_all([m.Tag(label=f"t{i}") for i in range(3)])


def move_an_address_to_a_new_user(m, session):
    address = session.get(m.Address, 1)
    session.add(m.User(name="gary", addresses=[address]))


def python_defaults(m, session):
    session.add_all([m.Counter(), m.Counter(value=1), m.Counter()])


def a_tree_added_leaves_first(m, session):
    root = m.Node(name="top")
    child = m.Node(name="child", parent=root)
    grandchild = m.Node(name="grandchild", parent=child)
    session.add_all([grandchild, child, root])  # rows must still go parents first


def delete_a_subtree(m, session):
    session.delete(session.get(m.Node, 1))  # children cascade: leaves first


def move_a_node_under_a_new_parent(m, session):
    node = session.get(m.Node, 3)
    node.parent = m.Node(name="new parent", parent=session.get(m.Node, 1))


def links_added_and_removed(m, session):
    post = session.get(m.Post, 1)
    news, fun = session.get(m.Label, 1), session.get(m.Label, 2)
    post.labels.remove(news)
    post.labels.append(m.Label(name="new label"))
    session.add(m.Post(title="second", labels=[fun]))


def delete_a_linked_object(m, session):
    session.delete(session.get(m.Label, 2))  # its post_label rows go first


SCENARIOS = [
    two_new_users,
    many_new_users,
    given_and_generated_keys,
    new_user_with_new_addresses,
    updates_and_a_delete,
    cascade_delete_and_orphan,
    delete_a_folder_with_its_notes,
    server_generated_text_keys,
    move_an_address_to_a_new_user,
    python_defaults,
    a_tree_added_leaves_first,
    delete_a_subtree,
    move_a_node_under_a_new_parent,
    links_added_and_removed,
    delete_a_linked_object,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_the_flush_sends_exactly_the_statements_of_the_plan(m, engine, statements, scenario):
    with Session(engine) as session:
        scenario(m, session)
        plan = session.explain_flush()
        assert plan, "the scenario has something to flush"
        statements.clear()
        session.flush()
        sent = dml(statements)
        assert [sql for sql, _ in sent] == plan.statements
        assert not session.new and not session.dirty and not session.deleted
        session.commit()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_the_echo_log_names_the_plan_step_of_each_flush_statement(m, engine, statements, scenario):
    with Session(engine) as session:
        scenario(m, session)
        plan = session.explain_flush()
        expected = []
        for step in plan:
            prefix = f"flush, step {step.number} of {len(plan)}: {step.operation} {step.table}"
            expected += [prefix] * len(step.statements)
        statements.clear()
        session.flush()
        causes = [cause for _, cause in dml(statements)]
        assert len(causes) == len(expected)
        assert all(cause.startswith(prefix) for cause, prefix in zip(causes, expected))


def test_explain_flush_writes_nothing_and_changes_no_state(m, engine, statements):
    with Session(engine) as session:
        sandy, patrick = session.get(m.User, 2), session.get(m.User, 3)
        sandy.fullname = "Sandy Squirrel"
        session.delete(patrick)
        new_user = m.User(name="squidward")
        session.add(new_user)
        new, dirty, deleted = list(session.new), list(session.dirty), list(session.deleted)
        statements.clear()
        plan = session.explain_flush()
        assert [sql for sql, _ in statements if sql.startswith(DML)] == []
        assert list(session.new) == new and list(session.dirty) == dirty and list(session.deleted) == deleted
        assert new_user.id is None
        assert session.is_modified(sandy)
        assert [(step.operation, step.table) for step in plan] == [
            ("INSERT", "user_account"), ("UPDATE", "user_account"), ("DELETE", "user_account"),
        ]
        # explaining twice gives the same plan: nothing moved
        assert session.explain_flush().statements == plan.statements


def test_explain_flush_loads_what_a_decision_needs_and_says_why(m, engine, statements):
    # deleting a user: its addresses' foreign keys go NULL, so the plan must know its addresses
    with Session(engine) as session:
        sandy = session.get(m.User, 2)
        session.delete(sandy)
        statements.clear()
        plan = session.explain_flush()
        selects = [(sql, cause) for sql, cause in statements if sql.startswith("SELECT")]
        assert [cause for _, cause in selects] == [
            "flush: load User.addresses to set user_id NULL on them, the children of deleted User(id=2)"
        ]
        assert [step.operation for step in plan] == ["PROCESS", "UPDATE", "DELETE"]
        assert sorted(a.id for a in plan[1].objects) == [2, 3]
        assert [a.user_id for a in plan[1].objects] == [2, 2]  # not changed yet


def test_an_empty_plan_prints_nothing_to_flush(m, engine):
    with Session(engine) as session:
        plan = session.explain_flush()
        assert isinstance(plan, FlushPlan)
        assert len(plan) == 0 and list(plan) == [] and not plan
        assert str(plan) == "nothing to flush"


def test_the_plan_steps_have_operation_table_strategy_objects_and_sql(m, engine):
    with Session(engine) as session:
        sandy = session.get(m.User, 2)
        users = [m.User(name=f"user{i}") for i in range(12)]
        session.add_all(users)
        sandy.fullname = "Sandy Squirrel"
        insert_step, update_step = session.explain_flush()
        assert insert_step.operation == "INSERT" and insert_step.table == "user_account"
        assert insert_step.strategy == "batched RETURNING" and insert_step.batch_size == 10
        assert insert_step.objects == users
        assert insert_step.sql.startswith("INSERT INTO user_account (name, fullname) SELECT column1, column2 FROM (VALUES (?, ?, 0)")
        assert len(insert_step.statements) == 2  # 10 rows, then 2
        assert update_step.operation == "UPDATE" and update_step.objects == [sandy]
        assert update_step.sql == "UPDATE user_account SET fullname=? WHERE user_account.id = ?"


def test_printing_the_plan_numbers_the_steps_and_says_why(m, engine):
    with Session(engine) as session:
        session.add(m.User(name="pearl", addresses=[m.Address(email_address="pearl@krusty.com")]))
        text = str(session.explain_flush())
    assert text.splitlines()[0] == "flush plan: 3 steps"
    assert "1. INSERT user_account: insert new rows\n   per-row, 1 row\n   why here: user_account refers to no other table written in this flush\n   SQL: INSERT INTO user_account (name, fullname) VALUES (?, ?)" in text
    assert "2. SYNC address: sync foreign keys from parents" in text
    assert "3. INSERT address: insert new rows\n   per-row, 1 row\n   why here: parents first: address refers to user_account, written before it" in text
    assert "SQL: INSERT INTO address (email_address, user_id) VALUES (?, ?)" in text


def test_printed_deletes_go_children_first(m, engine):
    with Session(engine) as session:
        folder = session.get(m.Folder, 1)
        session.delete(folder)
        plan = session.explain_flush()
        # session.delete() cascaded to the notes already (cascade="all"): no PROCESS step needed
        assert [(s.operation, s.table) for s in plan] == [("DELETE", "note"), ("DELETE", "folder")]
        assert "children first: note refers to folder" in plan[1].why
        session.commit()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM note").scalar() == 0


def test_the_plan_of_a_table_at_the_largest_rowid_says_per_row(m, engine, statements):
    with engine.begin() as conn:
        conn.execute(insert(m.User), {"id": 2**63 - 1, "name": "last"})
    with Session(engine) as session:
        session.add_all([m.User(name=f"u{i}") for i in range(12)])
        statements.clear()
        [step] = session.explain_flush()
        assert step.strategy == "per-row"
        [(_, cause)] = [r for r in statements if r[0].startswith("SELECT")]
        assert cause.startswith("flush plan: is a rowid of 'user_account' at 2**63-1?")
        session.commit()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM user_account").scalar() == 16


def test_the_plans_rows_match_the_database_after_the_flush(m, engine):
    # the scenario with the most kinds of step, checked row by row
    with Session(engine) as session:
        updates_and_a_delete(m, session)
        session.commit()
    with engine.connect() as conn:
        users = conn.exec_driver_sql("SELECT id, name, fullname FROM user_account ORDER BY id").all()
        addresses = conn.exec_driver_sql("SELECT id, user_id FROM address ORDER BY id").all()
    assert [tuple(u) for u in users] == [(1, "sb", "SpongeBob"), (3, "patrick", "Patrick S.")]
    assert [tuple(a) for a in addresses] == [(1, 1), (2, None), (3, None)]


def test_select_after_explain_sees_no_flushed_rows_until_the_flush(m, engine):
    # explain_flush does not autoflush, and does not write: a query afterwards autoflushes as usual
    with Session(engine) as session:
        session.add(m.User(name="squidward"))
        session.explain_flush()
        with session.no_autoflush:
            assert session.scalars(select(m.User).where(m.User.name == "squidward")).all() == []
        assert session.scalars(select(m.User.name).where(m.User.name == "squidward")).all() == ["squidward"]
