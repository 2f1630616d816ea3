"""The selectinload benchmark: ``python benchmarks/report.py --selectin`` (or run this file).

Loads 10 000 users and their addresses (two per user, 20 000 rows) from one SQLite database
file, three ways, in one process, one after the other, round after round:

- **minialchemy**: ``session.scalars(select(User).options(selectinload(User.addresses))).all()``
  in a new Session, then every ``user.addresses`` read (no SQL: they are loaded);
- **SQLAlchemy** (when installed): the very same code (``tutorial_model.user_address_model``);
- **raw sqlite3**: the same two result sets, fetched by the same statements the ORMs send
  (``SELECT ... FROM user_account``, then ``SELECT ... FROM address WHERE user_id IN (...)``
  500 keys at a time), and, for reference, the addresses in one ``SELECT`` without IN.

Each figure is the median of the rounds (the garbage collector left on, as in real use).  It
writes ``benchmarks/results/selectin.md`` and ``selectin.json``.  Targets (issue 10): faster than
SQLAlchemy, and within 3x of raw sqlite3.
"""

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from tutorial_model import user_address_model  # noqa: E402

USERS = 10_000
ADDRESSES_PER_USER = 2
#: keys per IN list, as both ORMs batch a selectin load
IN_BATCH = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``--selectin`` (prefixed: they share report.py's parser)."""
    group = parser.add_argument_group("--selectin options")
    group.add_argument("--selectin-rounds", type=int, default=15, help="rounds of each way (default 15)")
    group.add_argument("--selectin-no-sqlalchemy", action="store_true", help="leave SQLAlchemy out even when installed")
    group.add_argument("--selectin-out", type=Path, default=RESULTS, help="directory for selectin.md/.json")


def make_database(path: Path) -> None:
    """The users and addresses, written once with sqlite3 (the same file for all three)."""
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE user_account (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(30) NOT NULL, fullname VARCHAR);"
        "CREATE TABLE address (id INTEGER NOT NULL PRIMARY KEY, email_address VARCHAR NOT NULL, "
        "user_id INTEGER NOT NULL REFERENCES user_account (id));"
    )
    connection.executemany(
        "INSERT INTO user_account (id, name, fullname) VALUES (?, ?, ?)",
        [(i, f"user{i}", f"User Number {i}") for i in range(1, USERS + 1)],
    )
    connection.executemany(
        "INSERT INTO address (id, email_address, user_id) VALUES (?, ?, ?)",
        [
            (i * ADDRESSES_PER_USER + k + 1, f"user{i + 1}.{k}@example.org", i + 1)
            for i in range(USERS)
            for k in range(ADDRESSES_PER_USER)
        ],
    )
    connection.commit()
    connection.close()


def orm_loader(library: str, path: Path) -> Callable[[], int]:
    """One load through ``library``'s ORM; returns the number of addresses seen."""
    core = import_module(library)
    orm = import_module(f"{library}.orm")
    _, User, _ = user_address_model(library)
    engine = core.create_engine(f"sqlite:///{path}")
    statement = core.select(User).options(orm.selectinload(User.addresses))

    def load() -> int:
        with orm.Session(engine) as session:
            users = session.scalars(statement).all()
            return sum(len(user.addresses) for user in users)

    return load


def raw_loader(path: Path, batched: bool) -> Callable[[], int]:
    """The same two result sets with sqlite3 alone (tuples, no objects)."""
    connection = sqlite3.connect(path)

    def load() -> int:
        users = connection.execute("SELECT user_account.id, user_account.name, user_account.fullname FROM user_account").fetchall()
        if not batched:
            addresses = connection.execute("SELECT address.id, address.email_address, address.user_id FROM address").fetchall()
            return len(addresses)
        keys = [row[0] for row in users]
        addresses = []
        for start in range(0, len(keys), IN_BATCH):
            batch = keys[start : start + IN_BATCH]
            sql = (
                "SELECT address.user_id, address.id, address.email_address FROM address WHERE address.user_id IN ("
                + ", ".join("?" * len(batch))
                + ")"
            )
            addresses.extend(connection.execute(sql, batch).fetchall())
        return len(addresses)

    return load


def measure(loaders: dict[str, Callable[[], int]], rounds: int, say: Any) -> dict[str, dict[str, float]]:
    """Round-robin the loaders (noise on this shared machine hits all alike); median per loader."""
    expected = USERS * ADDRESSES_PER_USER
    times: dict[str, list[float]] = {name: [] for name in loaders}
    for name, load in loaders.items():  # one warm-up each (imports, statement caches, page cache)
        seen = load()
        if seen != expected:
            raise SystemExit(f"{name} saw {seen} addresses, expected {expected}")
    for number in range(rounds):
        for name, load in loaders.items():
            started = time.perf_counter()
            load()
            times[name].append(time.perf_counter() - started)
        say(f"round {number + 1}/{rounds}: " + ", ".join(f"{n} {t[-1] * 1000:.0f} ms" for n, t in times.items()))
    return {
        name: {"median_s": statistics.median(values), "min_s": min(values), "rounds": len(values)}
        for name, values in times.items()
    }


def render(summary: dict[str, Any]) -> str:
    figures = summary["figures"]
    raw = figures["raw sqlite3 (same statements)"]["median_s"]
    lines = [
        "# selectinload: 10 000 users with their addresses (issue 10)",
        "",
        f"Measured {summary['when']} on {summary['machine']}, CPython {summary['python']}, minialchemy backend: "
        f"{summary['backend']}; command: `{summary['command']}`. {USERS} users, {USERS * ADDRESSES_PER_USER} addresses, "
        f"one SQLite file; median of {summary['rounds']} rounds, the ways taking turns within each round.",
        "",
        "| way | median ms | min ms | x raw (same statements) |",
        "|---|---:|---:|---:|",
    ]
    for name, figure in figures.items():
        lines.append(
            f"| {name} | {figure['median_s'] * 1000:.1f} | {figure['min_s'] * 1000:.1f} | {figure['median_s'] / raw:.2f} |"
        )
    lines.append("")
    for line in summary["verdicts"]:
        lines.append(f"- {line}")
    lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    say = lambda text: print(text, flush=True)  # noqa: E731
    import minialchemy

    with_sqlalchemy = not args.selectin_no_sqlalchemy
    if with_sqlalchemy:
        try:
            import_module("sqlalchemy")
        except ImportError:
            say("SQLAlchemy is not installed: measuring without it (pip install -e '.[bench]')")
            with_sqlalchemy = False
    with tempfile.TemporaryDirectory(prefix="minialchemy-selectin-") as tmp:
        path = Path(tmp) / "users.db"
        make_database(path)
        loaders: dict[str, Callable[[], int]] = {"minialchemy": orm_loader("minialchemy", path)}
        if with_sqlalchemy:
            loaders["SQLAlchemy"] = orm_loader("sqlalchemy", path)
        loaders["raw sqlite3 (same statements)"] = raw_loader(path, batched=True)
        loaders["raw sqlite3 (addresses in one SELECT)"] = raw_loader(path, batched=False)
        figures = measure(loaders, args.selectin_rounds, say)
    mini = figures["minialchemy"]["median_s"]
    raw = figures["raw sqlite3 (same statements)"]["median_s"]
    single = figures["raw sqlite3 (addresses in one SELECT)"]["median_s"]
    verdicts = [
        f"minialchemy / raw sqlite3 (same statements): {mini / raw:.2f}x (target: within 3x: {'met' if mini / raw <= 3 else 'MISSED'})",
        f"minialchemy / raw sqlite3 (addresses in one SELECT, no IN lists): {mini / single:.2f}x (for reference: "
        f"the IN lists scan the address table once per batch of 500, which costs every way alike)",
    ]
    if "SQLAlchemy" in figures:
        sa = figures["SQLAlchemy"]["median_s"]
        verdicts.insert(0, f"SQLAlchemy / minialchemy: {sa / mini:.2f}x (target: minialchemy faster: {'met' if mini < sa else 'MISSED'})")
    summary = {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "backend": "cython" if minialchemy.ACCELERATED else "python",
        "command": "python benchmarks/report.py --selectin" + ("" if os.environ.get("MINIALCHEMY_PURE_PYTHON") != "1" else " (MINIALCHEMY_PURE_PYTHON=1)"),
        "rounds": args.selectin_rounds,
        "figures": figures,
        "verdicts": verdicts,
    }
    text = render(summary)
    print(text)
    args.selectin_out.mkdir(parents=True, exist_ok=True)
    (args.selectin_out / "selectin.md").write_text(text)
    (args.selectin_out / "selectin.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
