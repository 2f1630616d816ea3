"""The SELECT chapter, differentially: each statement is built the same way with minialchemy and
with SQLAlchemy 2.1 over the same tables and rows, and both must return the same rows (and,
where marked, write the same SQL).

Skipped when SQLAlchemy is not installed (``pip install -e ".[bench]"`` brings it).
"""

from types import SimpleNamespace

import pytest

import minialchemy

sqlalchemy = pytest.importorskip("sqlalchemy")

USERS = [
    {"id": 1, "name": "spongebob", "fullname": "Spongebob Squarepants", "manager_id": None},
    {"id": 2, "name": "sandy", "fullname": "Sandy Cheeks", "manager_id": 1},
    {"id": 3, "name": "patrick", "fullname": "Patrick Star", "manager_id": 1},
    {"id": 4, "name": "squidward", "fullname": None, "manager_id": 2},
]
ADDRESSES = [
    {"id": 1, "user_id": 1, "email_address": "spongebob@sqlalchemy.org"},
    {"id": 2, "user_id": 2, "email_address": "sandy@sqlalchemy.org"},
    {"id": 3, "user_id": 2, "email_address": "sandy@squirrelpower.org"},
    {"id": 4, "user_id": 4, "email_address": "Squidward@Clarinet.org"},
]


def build_database(lib):
    """The tutorial's tables (users with a manager) and rows, in one library; returns
    (namespace of the library's names and the tables, engine)."""
    metadata = lib.MetaData()
    user = lib.Table(
        "user_account",
        metadata,
        lib.Column("id", lib.Integer, primary_key=True),
        lib.Column("name", lib.String(30)),
        lib.Column("fullname", lib.String),
        lib.Column("manager_id", lib.ForeignKey("user_account.id")),
    )
    address = lib.Table(
        "address",
        metadata,
        lib.Column("id", lib.Integer, primary_key=True),
        lib.Column("user_id", lib.ForeignKey("user_account.id"), nullable=False),
        lib.Column("email_address", lib.String, nullable=False),
    )
    engine = lib.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(lib.insert(user), USERS)
        conn.execute(lib.insert(address), ADDRESSES)
    return SimpleNamespace(lib=lib, func=lib.func, user=user, address=address), engine


@pytest.fixture(scope="module")
def databases():
    ours, our_engine = build_database(minialchemy)
    theirs, their_engine = build_database(sqlalchemy)
    yield (ours, our_engine), (theirs, their_engine)
    our_engine.dispose()
    their_engine.dispose()


def _scalar_count(n):
    u, a, f = n.user, n.address, n.func
    return n.lib.select(u.c.name, n.lib.select(f.count(a.c.id)).where(a.c.user_id == u.c.id).scalar_subquery().label("n")).order_by(u.c.id)


def _subquery_join(n):
    u, a, f = n.user, n.address, n.func
    counts = n.lib.select(a.c.user_id, f.count().label("total")).group_by(a.c.user_id).subquery()
    return n.lib.select(u.c.name, counts.c.total).join(counts, u.c.id == counts.c.user_id).order_by(u.c.id)


def _cte_filter(n):
    u, a, f = n.user, n.address, n.func
    counts = n.lib.select(a.c.user_id, f.count(a.c.id).label("total")).group_by(a.c.user_id).cte("counts")
    return n.lib.select(u.c.name).join_from(u, counts).where(counts.c.total > 1)


def _recursive_reports(n):
    u = n.user
    chain = n.lib.select(u.c.id, u.c.name).where(u.c.id == 1).cte("chain", recursive=True)
    chain = chain.union_all(n.lib.select(u.c.id, u.c.name).join(chain, u.c.manager_id == chain.c.id))
    return n.lib.select(chain.c.name).order_by(chain.c.id)


def _self_join(n):
    u = n.user
    boss = u.alias("boss")
    return n.lib.select(u.c.name, boss.c.name.label("boss")).join(boss, u.c.manager_id == boss.c.id).order_by(u.c.id)


def _anonymous_alias_self_join(n):
    u = n.user
    boss = u.alias()
    return n.lib.select(u.c.name, boss.c.name).outerjoin(boss, u.c.manager_id == boss.c.id).order_by(u.c.id)


# (name, builder, also compare the SQL text: False where only the spelling differs, e.g. a
# bind named count_1 instead of count_2, or optional parentheses)
CASES = [
    ("join", lambda n: n.lib.select(n.user.c.name, n.address.c.email_address).join(n.address).order_by(n.address.c.id), True),
    ("outerjoin", lambda n: n.lib.select(n.user.c.name, n.address.c.email_address).outerjoin(n.address).order_by(n.user.c.id, n.address.c.id), True),
    ("join_from", lambda n: n.lib.select(n.address.c.email_address).join_from(n.user, n.address).where(n.user.c.name == "sandy"), True),
    ("select_from join", lambda n: n.lib.select(n.func.count()).select_from(n.user).join(n.address), True),
    ("table join", lambda n: n.lib.select(n.user.c.name).select_from(n.user.join(n.address)).distinct().order_by(n.user.c.name), True),
    ("group having", lambda n: n.lib.select(n.user.c.name, n.func.count(n.address.c.id)).join(n.address).group_by(n.user.c.name).having(n.func.count(n.address.c.id) > 1), False),
    ("label order", lambda n: n.lib.select(n.user.c.name.label("who"), n.func.count(n.address.c.id).label("c")).outerjoin(n.address).group_by("who").order_by(n.lib.desc("c"), "who"), True),
    ("aggregates", lambda n: n.lib.select(n.func.max(n.user.c.id), n.func.min(n.user.c.name), n.func.sum(n.user.c.id), n.func.avg(n.user.c.id), n.func.count(n.user.c.fullname)), True),
    ("coalesce", lambda n: n.lib.select(n.func.coalesce(n.user.c.fullname, n.user.c.name)).order_by(n.user.c.id), False),
    ("string functions", lambda n: n.lib.select(n.func.upper(n.user.c.name), n.func.length(n.user.c.name)).order_by(n.user.c.id), True),
    ("in subquery", lambda n: n.lib.select(n.user.c.name).where(n.user.c.id.in_(n.lib.select(n.address.c.user_id))).order_by(n.user.c.id), True),
    ("not_in subquery", lambda n: n.lib.select(n.user.c.name).where(n.user.c.id.not_in(n.lib.select(n.address.c.user_id))), False),
    ("scalar subquery", _scalar_count, True),
    ("exists", lambda n: n.lib.select(n.user.c.name).where(n.lib.exists().where(n.address.c.user_id == n.user.c.id)).order_by(n.user.c.id), True),
    ("not exists", lambda n: n.lib.select(n.user.c.name).where(~n.lib.exists().where(n.address.c.user_id == n.user.c.id)), True),
    ("subquery join", _subquery_join, True),
    ("cte", _cte_filter, True),
    ("recursive cte", _recursive_reports, False),
    ("self join", _self_join, True),
    ("anonymous alias", _anonymous_alias_self_join, True),
    ("union", lambda n: n.lib.union(n.lib.select(n.user.c.id).where(n.user.c.id < 3), n.lib.select(n.address.c.user_id)).order_by("id"), True),
    ("union_all limit", lambda n: n.lib.select(n.user.c.id).union_all(n.lib.select(n.address.c.user_id)).order_by(n.user.c.id.desc()).limit(3).offset(1), True),
    ("intersect", lambda n: n.lib.intersect(n.lib.select(n.user.c.id), n.lib.select(n.address.c.user_id)).order_by("id"), True),
    ("except", lambda n: n.lib.except_(n.lib.select(n.user.c.id), n.lib.select(n.address.c.user_id)), True),
    ("between", lambda n: n.lib.select(n.user.c.name).where(n.user.c.id.between(2, 3)).order_by(n.user.c.id), True),
    ("not between", lambda n: n.lib.select(n.user.c.name).where(n.lib.not_(n.user.c.id.between(2, 3))).order_by(n.user.c.id), True),
    ("ilike", lambda n: n.lib.select(n.address.c.email_address).where(n.address.c.email_address.ilike("%clarinet%")), True),
    ("not_ilike", lambda n: n.lib.select(n.address.c.id).where(n.address.c.email_address.not_ilike("S%")), True),
    ("case", lambda n: n.lib.select(n.user.c.name, n.lib.case((n.user.c.id == 1, "boss"), (n.user.c.manager_id == 1, "report"), else_="other")).order_by(n.user.c.id), True),
    ("case value", lambda n: n.lib.select(n.lib.case({1: "one", 2: "two"}, value=n.user.c.id, else_="many")).order_by(n.user.c.id), True),
    ("cast", lambda n: n.lib.select(n.lib.cast(n.user.c.id, n.lib.String), n.lib.cast("12", n.lib.Integer)).order_by(n.user.c.id), True),
    ("literal", lambda n: n.lib.select(n.lib.literal("x").label("x"), n.user.c.id).order_by(n.user.c.id), True),
    ("literal_column", lambda n: n.lib.select(n.lib.literal_column("1 + 1").label("two"), n.user.c.id).order_by(n.user.c.id), True),
    ("count distinct", lambda n: n.lib.select(n.func.count(n.lib.distinct(n.address.c.user_id))), True),
    ("select distinct", lambda n: n.lib.select(n.address.c.user_id).distinct().order_by(n.address.c.user_id), True),
    ("two tables", lambda n: n.lib.select(n.user, n.address).join_from(n.user, n.address).order_by(n.address.c.id), True),
    ("null comparison", lambda n: n.lib.select(n.user.c.name).where(n.user.c.manager_id.is_(None)), True),
    ("and or not", lambda n: n.lib.select(n.user.c.id).where(n.lib.or_(n.lib.not_(n.user.c.name.like("s%")), n.lib.and_(n.user.c.id > 3, n.user.c.fullname.is_(None)))).order_by(n.user.c.id), False),
]


@pytest.mark.parametrize("name, build, same_sql", CASES, ids=[case[0] for case in CASES])
def test_same_rows_as_sqlalchemy(databases, name, build, same_sql):
    (ours, our_engine), (theirs, their_engine) = databases
    our_stmt, their_stmt = build(ours), build(theirs)
    with our_engine.connect() as conn:
        our_rows = [tuple(row) for row in conn.execute(our_stmt)]
    with their_engine.connect() as conn:
        their_rows = [tuple(row) for row in conn.execute(their_stmt)]
    assert our_rows == their_rows
    if same_sql:
        assert str(our_stmt) == str(their_stmt)
