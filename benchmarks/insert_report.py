"""The INSERT primary-key report: ``python benchmarks/report.py --insert [--file]``.

In one run it times every case of ``insert_cases.py`` for N = 1 .. 100 000 rows (raw sqlite3,
minialchemy with the compiled twins in this process and the pure-Python twins in a child
process with ``MINIALCHEMY_PURE_PYTHON=1``, SQLAlchemy when installed), sweeps the rows per
batched statement from 10 to the bind-parameter limit, prints the tables while it goes, and
writes ``benchmarks/results/insert_pk.md``, ``.json`` and ``.png`` (``insert_pk_file.*`` with
``--file``, for a database file instead of memory).  ``--render-only`` rewrites the .md
and .png from the recorded .json without measuring; ``--help`` lists the other options.

Timing: each (case, N) gets a fresh database and connection (or engine), one untimed warm-up
round, checked for correctness by ``insert_cases.verify`` (object *i* got key *i* + 1, and
that row holds its values).  Between rounds, untimed, the rows are deleted (the table starts
empty again, the connection and its statement cache stay warm, as in an application) and, for
N >= 1000, ``gc.collect()`` runs.  The figure is the median of the timed rounds.  Time spent
in the garbage collector during ORM rounds is recorded too (``gc`` in the phases).

Interleaved rounds.  The cases of one N are timed together, round-robin: round 1 of every
case, then round 2 of every case, and so on (at least 5 rounds; as many as ``--budget``
seconds allow for the slowest case, at most 50; a case slower than a second gets 3, its
warm-up counting as the first).  Timed one case after the other, the raw baseline's median
moved between 66 and 112 ms from one run of the report to the next on a shared 2-core
machine, because other work came and went while it ran, and the ORM's ratio to it moved with
it.  Interleaved, the ORM and its baseline share the machine's moments: a busy second slows
both, and the ratio of their medians holds still.  The issue-12 targets are read two ways, and
both must hold: the ratio of the medians, and the median of the round-by-round ratios (ORM
round *i* ÷ raw round *i*, which ran in the same round).  The pure-Python twins run in a child
process, which times the raw baseline again beside them (``raw-batched-pure``); their ratios
are to that one.

Target pairs.  At the largest N a round of every case takes over a second, so the table above
gets only 5 rounds, and in each round four other cases (about 0.6 s) run between the raw
baseline and the batched flush: a load that comes or goes in between lands on one side of the
pair only.  With 5 such rounds the issue-12 ratios moved by 0.3 from one run of the report to
the next on the same code.  So the targets of the compiled twins are read from a measurement
of their own (:func:`time_target_pairs`): the baseline and the batched flush alone, back to
back, ``--target-pairs`` times (21 by default), the one that goes first alternating from pair
to pair so that neither side always runs on the warmer machine.  Both readings are kept: the
ratio of the medians and the median of the pair-by-pair ratios; the target must hold for both,
for the whole run and for the run after construction.  The minialchemy side is timed exactly
as in the table (construct, ``add_all``, ``flush``, ``commit``, ``close``), the raw side too.

The garbage collector's share.  An ORM run constructs N objects in your code, where CPython's
cyclic collector runs as usual; at N = 100 000 two of its *full* collections fall inside that
construction, and a full collection walks every object the process holds, the benchmark's
own included.  So each library is timed in a process that holds no other ORM: SQLAlchemy is
imported only after the raw and minialchemy cases have run (its modules are some 25 000
objects the collector tracks, which made minialchemy's full collections walk 41 000 objects
besides its own instead of 15 000), and the pure-Python twins run in a child process.  The
raw cases allocate almost nothing the collector tracks, so they are not affected either way.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import insert_cases  # noqa: E402  (a sibling module, found through the line above)
from insert_cases import Case, Database  # noqa: E402

__all__ = ["add_arguments", "run", "SIZES"]

SIZES = [1, 10, 100, 1_000, 10_000, 100_000]
BASELINE = "raw-batched"  # ratios are to raw batched RETURNING
CHILD_BASELINE = "raw-batched-pure"  # the same, measured in the pure-Python child process
RESULTS = HERE / "results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``report.py --insert``."""
    group = parser.add_argument_group("--insert options")
    group.add_argument("--file", action="store_true", help="a database file (in a temporary directory) instead of memory")
    group.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated N (default %(default)s)")
    group.add_argument("--budget", type=float, default=0.6, help="seconds of timed rounds per (case, N) (default %(default)s)")
    group.add_argument("--sweep-rows", type=int, default=100_000, help="N for the raw batch-size sweep (default %(default)s)")
    group.add_argument("--flush-sweep-rows", type=int, default=20_000, help="N for the flush batch-size sweep (default %(default)s)")
    group.add_argument("--target-pairs", type=int, default=21,
                       help="back-to-back (raw, ORM) pairs for the issue-12 targets at the largest N (default %(default)s; 0: none)")
    group.add_argument("--no-sweep", action="store_true", help="skip the batch-size sweeps")
    group.add_argument("--no-pure", action="store_true", help="skip the pure-Python child process")
    group.add_argument("--no-sqlalchemy", action="store_true", help="skip SQLAlchemy even when installed")
    group.add_argument("--out", type=Path, default=RESULTS, help="directory for the .md/.json/.png (default benchmarks/results)")
    group.add_argument("--render-only", action="store_true",
                       help="measure nothing: rewrite the .md and .png from the recorded .json")
    group.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # the pure-Python half


# --- timing -------------------------------------------------------------------------------


class _GCTimer:
    """Seconds spent in garbage collections while active (through ``gc.callbacks``)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started

    def __enter__(self) -> "_GCTimer":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        gc.callbacks.remove(self)


def _one_round(prepared: insert_cases.Prepared, n: int) -> tuple[float, dict[str, float], insert_cases.Outcome]:
    prepared.reset()
    if n >= 1000:  # the previous round's garbage is not this round's cost (for small N a
        gc.collect()  # collection only evicts the caches, which would then be charged instead)
    with _GCTimer() as gc_timer:
        started = time.perf_counter()
        outcome = prepared.run()
        elapsed = time.perf_counter() - started
    phases = dict(outcome.phases)
    if phases:
        phases["gc"] = gc_timer.total
        phases["after_construct"] = elapsed - phases["construct"]  # the ORM's own work
    return elapsed, phases, outcome


#: timed rounds per (case, N): at least MIN_ROUNDS (3 when a round takes over a second), at
#: most MAX_ROUNDS, else as many as ``--budget`` seconds allow for the slowest case of the group
MIN_ROUNDS = 5
MAX_ROUNDS = 50


def _result(case: Case, n: int, times: list[float], phases: list[dict[str, float]]) -> dict[str, Any]:
    """The figures of ``case`` at N from its timed rounds (in the order they ran)."""
    median = statistics.median(times)
    result: dict[str, Any] = {
        "case": case.key, "label": case.label, "group": case.group, "n": n,
        "median_s": median, "rounds": len(times), "times_s": times,
        "rows_per_s": n / median if median > 0 else None,
    }
    if phases and phases[0]:
        result["phases_s"] = {name: statistics.median(p[name] for p in phases) for name in phases[0]}
        result["after_construct_times_s"] = [p["after_construct"] for p in phases]
    return result


def time_interleaved(cases: list[Case], n: int, db: Database, budget: float) -> list[dict[str, Any]]:
    """Median seconds of each of ``cases`` at N rows, their rounds interleaved (see the module
    docstring): every case is prepared, warmed up and checked, then each timed round runs every
    case once, one after the other, so that the cases share the machine's moments."""
    prepared: list[insert_cases.Prepared] = []
    try:
        firsts: list[tuple[float, dict[str, float]]] = []
        for case in cases:
            ready = case.prepare(n, db)
            prepared.append(ready)
            first, first_phases, outcome = _one_round(ready, n)
            insert_cases.verify(case, n, ready, outcome)
            firsts.append((first, first_phases))
        slowest = max(first for first, _ in firsts)
        times: list[list[float]] = [[] for _ in cases]
        phases: list[list[dict[str, float]]] = [[] for _ in cases]
        if slowest > 1.0:  # the warm-up counts as the first of 3 rounds
            for index, (first, first_phases) in enumerate(firsts):
                times[index].append(first)
                phases[index].append(first_phases)
            rounds = 3
        else:
            rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(budget / max(slowest, 1e-6))))
        while len(times[0]) < rounds:
            for index, ready in enumerate(prepared):
                elapsed, round_phases, _ = _one_round(ready, n)
                times[index].append(elapsed)
                phases[index].append(round_phases)
    finally:
        for ready in prepared:
            ready.close()
    return [_result(case, n, times[i], phases[i]) for i, case in enumerate(cases)]


def time_target_pairs(baseline: Case, orm: Case, n: int, db: Database, pairs: int) -> dict[str, Any]:
    """The issue-12 ratio measured on its own (see "Target pairs" in the module docstring):
    ``pairs`` rounds of ``baseline`` and ``orm`` back to back, taking turns at going first.
    Returns both cases' round times in pair order, and the ORM's times after construction."""
    prepared = []
    try:
        for case in (baseline, orm):
            ready = case.prepare(n, db)
            prepared.append(ready)
            _, _, outcome = _one_round(ready, n)  # warm-up, checked
            insert_cases.verify(case, n, ready, outcome)
        raw_ready, orm_ready = prepared
        raw_times: list[float] = []
        orm_times: list[float] = []
        orm_after_construct: list[float] = []
        for pair in range(pairs):
            for side in ((raw_ready, orm_ready) if pair % 2 == 0 else (orm_ready, raw_ready)):
                elapsed, phases, _ = _one_round(side, n)
                if side is raw_ready:
                    raw_times.append(elapsed)
                else:
                    orm_times.append(elapsed)
                    orm_after_construct.append(phases["after_construct"])
    finally:
        for ready in prepared:
            ready.close()
    return {"n": n, "baseline": baseline.key, "orm": orm.key, "pairs": pairs, "raw_s": raw_times,
            "orm_s": orm_times, "orm_after_construct_s": orm_after_construct}


def time_case(case: Case, n: int, db: Database, budget: float) -> dict[str, Any]:
    """Median seconds of ``case`` alone at N rows (the batch-size sweep)."""
    return time_interleaved([case], n, db, budget)[0]


def measure(cases: list[Case], sizes: list[int], db: Database, budget: float, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every case at every N: for each N, the cases' rounds interleaved (:func:`time_interleaved`)."""
    results = []
    for n in sizes:
        say(f"N={n:>7,}: {len(cases)} cases, rounds interleaved ...\n")
        for result in time_interleaved(cases, n, db, budget):
            say(f"          {result['label']:60s} {format_seconds(result['median_s']):>10}  ({result['rounds']} rounds)\n")
            results.append(result)
    return results


def sweep_raw(db: Database, n: int, max_rows: int, budget: float, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Raw batched RETURNING at N rows, plain and ORDER BY form, rows per statement 10 .. limit."""
    cap = min(max_rows, n)  # the bind-parameter limit, or all N rows in one statement
    sizes = sorted({s for s in (10, 20, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000) if s < cap} | {cap})
    out = []
    for ordered in (False, True):
        form = "ORDER BY sentinel" if ordered else "plain VALUES"
        for size in sizes:
            case = Case(f"sweep-{size}", f"raw batched RETURNING, {form}, {size} rows/stmt", "raw sqlite3",
                        insert_cases.make_raw_batched(size, ordered=ordered))
            say(f"  sweep {form:18s} {size:>6} rows/statement ...")
            result = time_case(case, n, db, budget)
            say(f" {format_seconds(result['median_s']):>10}\n")
            out.append({"form": form, "rows_per_statement": size, "n": n, "median_s": result["median_s"], "rounds": result["rounds"]})
    return out


def sweep_flush(db: Database, n: int, max_rows: int, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """minialchemy's flush alone (objects built and added untimed) at N objects, for several
    ``insertmanyvalues_page_size`` values."""
    from minialchemy import create_engine
    from minialchemy.orm import Session

    User = insert_cases.minialchemy_model()
    rows = insert_cases.rows_for(n)
    cap = min(max_rows, n)
    sizes = sorted({s for s in (20, 50, 100, 200, 300, 500, 1000, 2000, 5000) if s < cap} | {cap})
    out = []
    for size in sizes:
        say(f"  flush sweep {size:>6} rows/statement ...")
        times = []
        for _ in range(6):
            path = db.new_path()
            engine = create_engine(Database.url(path), insertmanyvalues_page_size=size)
            User.metadata.create_all(engine)
            objects = [User(name=name, fullname=fullname) for name, fullname in rows]
            session = Session(engine)
            session.add_all(objects)
            gc.collect()
            started = time.perf_counter()
            session.flush()
            times.append(time.perf_counter() - started)
            session.rollback()
            session.close()
            engine.dispose()
            db.remove(path)
            del objects
        median = statistics.median(times[1:])  # the first round warms up
        say(f" {format_seconds(median):>10}\n")
        out.append({"rows_per_statement": size, "n": n, "median_s": median, "rounds": len(times) - 1})
    return out


ALIVE_FLUSHES = 10
ALIVE_PER_FLUSH = 5_000


def measure_alive(args: argparse.Namespace, backend: str) -> dict[str, dict[str, int]]:
    """``insert_cases.objects_alive_after_flushes`` for minialchemy (this process's backend)
    and SQLAlchemy (unless ``--no-sqlalchemy`` or not installed)."""
    alive = {backend: insert_cases.objects_alive_after_flushes("minialchemy", ALIVE_FLUSHES, ALIVE_PER_FLUSH)}
    if not args.no_sqlalchemy and insert_cases.sqlalchemy_cases():
        alive["sqlalchemy"] = insert_cases.objects_alive_after_flushes("sqlalchemy", ALIVE_FLUSHES, ALIVE_PER_FLUSH)
    return alive


def run_pure_child(args: argparse.Namespace, sizes: list[int], say: Callable[[str], None]) -> list[dict[str, Any]]:
    """The minialchemy cases again, in a child process on the pure-Python twins."""
    command = [sys.executable, str(HERE / "insert_report.py"), "--child", "--sizes", ",".join(map(str, sizes)),
               "--budget", str(args.budget)]
    if args.file:
        command.append("--file")
    env = dict(os.environ, MINIALCHEMY_PURE_PYTHON="1")
    say("minialchemy with the pure-Python twins (child process, MINIALCHEMY_PURE_PYTHON=1):\n")
    completed = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(completed.stdout)


def child_main(args: argparse.Namespace) -> int:
    """``--child``: time the minialchemy cases of this process's backend; JSON on stdout,
    progress on stderr."""
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as directory:
        db = Database(directory if args.file else None)
        # the baseline again, its rounds interleaved with these (see the module docstring)
        from minialchemy.engine import insertmanyvalues

        raw = Case(CHILD_BASELINE, "raw sqlite3: batched RETURNING (beside the pure-Python rounds)", "raw sqlite3",
                   insert_cases.make_raw_batched(insertmanyvalues.INSERT_BATCH_ROWS, ordered=False))
        results = measure([raw, *insert_cases.minialchemy_cases()], sizes, db, args.budget,
                          lambda text: (sys.stderr.write(text), sys.stderr.flush()))
    json.dump(results, sys.stdout)
    return 0


# --- the report -------------------------------------------------------------------------


def format_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def format_rate(rows_per_s: float | None) -> str:
    if not rows_per_s:
        return "-"
    if rows_per_s >= 1e6:
        return f"{rows_per_s / 1e6:.2f} M"
    if rows_per_s >= 1e3:
        return f"{rows_per_s / 1e3:.0f} k"
    return f"{rows_per_s:.0f}"


def _table(header: list[str], rows: list[list[str]], align_left: int = 1) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(":---" if i < align_left else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _by_case(results: list[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    table: dict[str, dict[int, dict[str, Any]]] = {}
    for r in results:
        table.setdefault(r["case"], {})[r["n"]] = r
    return table


#: issue 12: the whole ORM run, however it is counted, within this factor of raw batched RETURNING
RUN_TARGET = 2.5

#: the ways of counting the ORM run against raw batched RETURNING (issue 12: "every way of
#: counting"): (label, what is timed, how to read it from a result)
WAYS_OF_COUNTING: list[tuple[str, str]] = [
    ("whole run", "construct + add_all + flush + commit + close"),
    ("after construction", "add_all + flush + commit + close (the objects exist already)"),
]


def _timed(result: dict[str, Any] | None, way: str) -> float | None:
    """Seconds of ``result`` counted ``way`` (a label of :data:`WAYS_OF_COUNTING`)."""
    if result is None:
        return None
    if way == "whole run":
        return result["median_s"]
    return result.get("phases_s", {}).get("after_construct")


def _round_times(result: dict[str, Any] | None, way: str) -> list[float] | None:
    """Each timed round of ``result`` counted ``way``, in the order the rounds ran."""
    if result is None:
        return None
    if way == "whole run":
        return result.get("times_s")
    return result.get("after_construct_times_s")


def paired_ratio(orm: list[float] | None, raw: list[float] | None) -> float | None:
    """The median of round-by-round ratios: ORM round *i* ÷ raw round *i*, which ran next to
    each other (:func:`time_interleaved`); None unless both ran the same rounds."""
    if not orm or not raw or len(orm) != len(raw):
        return None
    return statistics.median(o / r for o, r in zip(orm, raw) if r > 0)


def targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The issues' targets at the largest N, for each minialchemy backend measured: each with
    the target, the figure, and SQLAlchemy's figure from the same run."""
    by_case = _by_case(data["results"])
    n = max(data["sizes"])
    out = []

    def result(key: str) -> dict[str, Any] | None:
        return by_case.get(key, {}).get(n)

    def phase(key: str, name: str) -> float | None:
        r = result(key)
        return r.get("phases_s", {}).get(name) if r else None

    def ratio(value: float | None, base: float | None) -> float | None:
        return value / base if value and base else None

    main_raw = result(BASELINE)
    main_raw_s = main_raw["median_s"] if main_raw else None  # SQLAlchemy ran beside it
    sqlalchemy = result("sqlalchemy-default")
    for backend in ("cython", "python"):
        batched = result(f"minialchemy-batched-{backend}")
        if batched is None:
            continue
        # the baseline measured in the same process as this backend, rounds interleaved
        raw = result(CHILD_BASELINE) if backend == "python" and result(CHILD_BASELINE) else result(BASELINE)
        raw_s = raw["median_s"] if raw else None
        # the back-to-back pairs of this backend, when measured (module docstring: target pairs)
        pairs = data.get("target_pairs", {}).get(backend)
        if pairs is not None and pairs["n"] != n:
            pairs = None
        for way, what in WAYS_OF_COUNTING:
            if pairs is not None:
                orm_rounds = pairs["orm_s"] if way == "whole run" else pairs["orm_after_construct_s"]
                value = ratio(statistics.median(orm_rounds), statistics.median(pairs["raw_s"]))
                paired = paired_ratio(orm_rounds, pairs["raw_s"])
                how = f"{pairs['pairs']} back-to-back pairs"
            else:
                value = ratio(_timed(batched, way), raw_s)
                paired = paired_ratio(_round_times(batched, way), _round_times(raw, "whole run"))
                how = "rounds paired"
            if value is None:
                continue
            theirs = ratio(_timed(sqlalchemy, way), main_raw_s)
            # both ways of taking the ratio must meet the target: medians, and pair by pair
            shown = f"{value:.2f}x" + (f" ({how}: {paired:.2f}x)" if paired is not None else "")
            out.append({
                "backend": backend, "issue": 12,
                "target": f"{what}, {n:,} new objects, keys retrieved ÷ raw batched RETURNING",
                "goal": f"<= {RUN_TARGET}x", "value": shown,
                "sqlalchemy": f"{theirs:.1f}x" if theirs else "-",
                "met": value <= RUN_TARGET and (paired is None or paired <= RUN_TARGET),
            })
        if sqlalchemy:
            speedup = sqlalchemy["median_s"] / batched["median_s"]
            out.append({"backend": backend, "issue": 5, "target": "faster than SQLAlchemy's default ORM flush (whole run)",
                        "goal": ">= 10x", "value": f"{speedup:.1f}x", "sqlalchemy": "1.0x", "met": speedup >= 10})
        flush_batched = phase(f"minialchemy-batched-{backend}", "flush")
        flush_per_row = phase(f"minialchemy-per-row-{backend}", "flush")
        if flush_batched and flush_per_row:
            speedup = flush_per_row / flush_batched
            out.append({"backend": backend, "issue": 5, "target": "batched flush faster than per-row flush (flush phase)",
                        "goal": ">= 1.5x", "value": f"{speedup:.2f}x", "sqlalchemy": "-", "met": speedup >= 1.5})
        per_row = result(f"minialchemy-per-row-{backend}")
        if per_row:
            speedup = per_row["median_s"] / batched["median_s"]
            out.append({"backend": backend, "issue": 5, "target": "(same, whole run: construct + add_all + commit)",
                        "goal": ">= 1.5x", "value": f"{speedup:.2f}x", "sqlalchemy": "-", "met": speedup >= 1.5})
    alive = data.get("alive")
    if alive:
        for backend, counted in alive.items():
            if backend == "sqlalchemy":
                continue
            theirs = alive.get("sqlalchemy")
            out.append({
                "backend": backend, "issue": 12,
                "target": f"objects alive after {ALIVE_FLUSHES} flushes of {ALIVE_PER_FLUSH:,} in one transaction, before commit (after gc.collect())",
                "goal": "0", "value": f"{counted['alive_after_collection']:,}",
                "sqlalchemy": f"{theirs['alive_after_collection']:,}" if theirs else "-",
                "met": counted["alive_after_collection"] == 0,
            })
    return out


def render(data: dict[str, Any]) -> str:
    """The whole report as Markdown (also what the console shows at the end)."""
    sizes = data["sizes"]
    results = data["results"]
    by_case = _by_case(results)
    order = list(dict.fromkeys(r["case"] for r in results))
    labels = {r["case"]: r["label"] for r in results}
    n_max = max(sizes)
    env = data["environment"]
    baseline = by_case.get(BASELINE, {})
    out = [
        f"# INSERT primary-key retrieval: {data['database']} database",
        "",
        f"Generated by `{data['command']}` on {env['date']}: Python {env['python']}, SQLite {env['sqlite']}, "
        f"{env['machine']}; minialchemy backend in the main process: **{env['backend']}** ({env['backend_reason']}).",
        "",
        "Each cell is the median of several rounds into an empty table on a warm connection (see "
        "`benchmarks/insert_report.py`). ORM rows time constructing the N objects, `add_all` and `commit` "
        "(which flushes); raw sqlite3 rows time `BEGIN`, the INSERTs and `COMMIT`. Each case's first run "
        "was checked: object *i* got key *i* + 1 and that row holds its values. The ratio baseline, raw "
        f"batched RETURNING, sends {data['batch_rows']} rows per `INSERT ... VALUES ... RETURNING id` and sorts the keys.",
        "",
        "## Median time",
        "",
        _table(["strategy", *[f"N={n:,}" for n in sizes]],
               [[labels[c], *[format_seconds(by_case[c][n]["median_s"]) if n in by_case[c] else "-" for n in sizes]] for c in order]),
        "",
        "## Rows per second",
        "",
        _table(["strategy", *[f"N={n:,}" for n in sizes]],
               [[labels[c], *[format_rate(by_case[c][n]["rows_per_s"]) if n in by_case[c] else "-" for n in sizes]] for c in order]),
        "",
        "## Ratio to raw batched RETURNING (1.00 = raw batched; higher is slower)",
        "",
        _table(["strategy", *[f"N={n:,}" for n in sizes]],
               [[labels[c], *[f"{by_case[c][n]['median_s'] / baseline[n]['median_s']:.2f}" if n in by_case[c] and n in baseline else "-"
                              for n in sizes]] for c in order]),
        "",
        f"## At N = {n_max:,}",
        "",
    ]
    summary = []
    for c in order:
        r = by_case[c].get(n_max)
        if r is None:
            continue
        phases = r.get("phases_s")
        detail = ", ".join(f"{k} {format_seconds(v)}" for k, v in phases.items()) if phases else ""
        ratio = f"{r['median_s'] / baseline[n_max]['median_s']:.2f}x" if n_max in baseline else "-"
        goal = f"<= {RUN_TARGET}x" if c.startswith("minialchemy-batched") else ""
        summary.append([labels[c], format_seconds(r["median_s"]), format_rate(r["rows_per_s"]), ratio, goal, str(r["rounds"]), detail])
    out += [_table(["strategy", "median", "rows/s", "vs raw batched", "target (issue 12)", "rounds",
                    "ORM phases (medians; gc = time in the garbage collector, inside the others; after_construct = the run less construct)"],
                   summary), ""]
    goals = targets(data)
    if goals:
        out += [f"## Targets (issues 5 and 12, N = {n_max:,}; every figure from this run)", "",
                _table(["backend", "issue", "measure", "target", "measured", "SQLAlchemy (same run)", "met"],
                       [[g["backend"], str(g.get("issue", 5)), g["target"], g.get("goal", ""), g["value"], g.get("sqlalchemy", "-"),
                         "yes" if g["met"] else "**no**"] for g in goals], align_left=3), ""]
        for backend, pairs in data.get("target_pairs", {}).items():
            pair_ratios = sorted(o / r for o, r in zip(pairs["orm_s"], pairs["raw_s"]) if r > 0)
            out += [f"Issue 12's ratios for the {backend} twins come from {pairs['pairs']} pairs timed back to back after "
                    f"the rounds above (raw batched RETURNING and the batched flush alone, taking turns at going first; "
                    f"see `benchmarks/insert_report.py`): raw median {format_seconds(statistics.median(pairs['raw_s']))} "
                    f"(from {format_seconds(min(pairs['raw_s']))} to {format_seconds(max(pairs['raw_s']))}), minialchemy "
                    f"median {format_seconds(statistics.median(pairs['orm_s']))} (from {format_seconds(min(pairs['orm_s']))} "
                    f"to {format_seconds(max(pairs['orm_s']))}); the pair-by-pair ratio ran from {pair_ratios[0]:.2f}x to "
                    f"{pair_ratios[-1]:.2f}x.", ""]
        alive = data.get("alive")
        if alive:
            out += [f"Objects alive: {ALIVE_FLUSHES} times, {ALIVE_PER_FLUSH:,} new `User` objects are constructed, added "
                    "and flushed, and the program drops its references; before the COMMIT a weak reference to each "
                    "object says whether it lives: "
                    + "; ".join(f"{name}: {c['alive']:,} as reference counting left them, {c['alive_after_collection']:,} "
                                f"after `gc.collect()`" for name, c in alive.items()) + ".", ""]
    if data.get("sweep_raw"):
        sweep = data["sweep_raw"]
        forms = list(dict.fromkeys(s["form"] for s in sweep))
        sizes_s = list(dict.fromkeys(s["rows_per_statement"] for s in sweep))
        cell = {(s["form"], s["rows_per_statement"]): s["median_s"] for s in sweep}
        out += [f"## Rows per batched statement (raw sqlite3, N = {sweep[0]['n']:,})", "",
                _table(["rows / statement", *forms],
                       [[f"{size:,}", *[format_seconds(cell[(f, size)]) if (f, size) in cell else "-" for f in forms]] for size in sizes_s]),
                ""]
        for form in forms:
            out.append(f"- {form}: " + _plateau([s for s in sweep if s["form"] == form]))
        out += ["", f"SQLite's bind-parameter limit here: {data['bind_limit']:,} (so up to {data['bind_limit'] // 2:,} "
                "rows of 2 columns per statement; the largest size swept is that or all N rows).", ""]
    if data.get("sweep_flush"):
        sweep = data["sweep_flush"]
        best = min(sweep, key=lambda s: s["median_s"])
        out += [f"## Rows per statement in minialchemy's flush (flush only, N = {sweep[0]['n']:,}, backend {env['backend']})", "",
                _table(["insertmanyvalues_page_size", "flush median", "vs best"],
                       [[f"{s['rows_per_statement']:,}", format_seconds(s["median_s"]), f"{s['median_s'] / best['median_s']:.2f}"] for s in sweep]),
                "",
                f"{_plateau(sweep)} The flush's default, `insertmanyvalues.INSERT_BATCH_ROWS`, is "
                f"{data['batch_rows']} rows per statement.", ""]
    out += ["![rows per second against N](" + data["chart"] + ")", ""]
    return "\n".join(out)


def _plateau(sweep: list[dict[str, Any]], within: float = 0.05) -> str:
    """Which rows-per-statement sizes are best, and which are within ``within`` of it."""
    best = min(sweep, key=lambda s: s["median_s"])
    near = [s["rows_per_statement"] for s in sweep if s["median_s"] <= best["median_s"] * (1 + within)]
    return (f"best {best['rows_per_statement']:,} rows per statement ({format_seconds(best['median_s'])}); "
            f"within {within:.0%} of it: {', '.join(f'{n:,}' for n in near)}.")


def draw_chart(data: dict[str, Any], path: Path) -> bool:
    """Rows/s against N, log-log, one line per strategy; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    by_case = _by_case(data["results"])
    styles = {"raw sqlite3": ":", "minialchemy": "-", "SQLAlchemy": "--"}
    fig, ax = plt.subplots(figsize=(12, 6), dpi=100)
    for case, per_n in by_case.items():
        ns = sorted(per_n)
        first = per_n[ns[0]]
        ax.plot(ns, [per_n[n]["rows_per_s"] for n in ns], styles.get(first["group"], "-"), marker="o", markersize=3,
                label=first["label"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (rows inserted, keys retrieved)")
    ax.set_ylabel("rows per second (median)")
    ax.set_title(f"INSERT with primary-key retrieval, {data['database']} SQLite database")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def environment() -> dict[str, str]:
    from minialchemy import _accel

    return {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "backend": _accel.BACKEND,
        "backend_reason": _accel.REASON,
    }


def run(args: argparse.Namespace) -> int:
    """``report.py --insert``: measure, print, write the files."""
    if args.child:
        return child_main(args)
    from minialchemy.engine import insertmanyvalues

    def say(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    sizes = [int(s) for s in args.sizes.split(",")]
    batch_rows = insertmanyvalues.INSERT_BATCH_ROWS
    database = "file" if args.file else "in-memory"
    suffix = "_file" if args.file else ""
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render_only:
        data = json.loads((args.out / f"insert_pk{suffix}.json").read_text(encoding="utf-8"))
        draw_chart(data, args.out / data["chart"])
        (args.out / f"insert_pk{suffix}.md").write_text(render(data) + "\n", encoding="utf-8")
        say(f"rewrote {args.out / f'insert_pk{suffix}.md'} and {data['chart']} from the .json\n")
        return 0
    command = "python benchmarks/report.py --insert" + (" --file" if args.file else "")
    data: dict[str, Any] = {
        "database": database, "command": command, "sizes": sizes, "batch_rows": batch_rows,
        "environment": environment(), "chart": f"insert_pk{suffix}.png",
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        db = Database(directory if args.file else None)
        probe = sqlite3.connect(":memory:")
        bind_limit = probe.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if hasattr(probe, "getlimit") else 32766
        probe.close()
        data["bind_limit"] = bind_limit
        max_rows = bind_limit // 2  # the benchmark table writes 2 columns per row
        say(f"INSERT primary-key report, {database} database, N = {sizes}\n")
        cases = [*insert_cases.raw_cases(batch_rows), *insert_cases.minialchemy_cases()]
        results = measure(cases, sizes, db, args.budget, say)
        if args.target_pairs > 0:
            # before SQLAlchemy is imported, as the cases above (the garbage collector's share)
            by_key = {case.key: case for case in cases}
            backend = data["environment"]["backend"]
            say(f"issue-12 target pairs at N={max(sizes):,}: raw batched RETURNING and minialchemy ({backend}) batched, "
                f"back to back, {args.target_pairs} pairs ...")
            pairs = time_target_pairs(by_key[BASELINE], by_key[f"minialchemy-batched-{backend}"], max(sizes), db,
                                      args.target_pairs)
            data["target_pairs"] = {backend: pairs}
            say(f" raw {format_seconds(statistics.median(pairs['raw_s']))}, minialchemy "
                f"{format_seconds(statistics.median(pairs['orm_s']))}\n")
        if not args.no_sqlalchemy:
            # imported only now (see the module docstring: the garbage collector's share)
            results += measure(insert_cases.sqlalchemy_cases(), sizes, db, args.budget, say)
        if not args.no_pure and data["environment"]["backend"] != "python":
            results += run_pure_child(args, sizes, say)
        elif not args.no_pure:
            say("(the main process already runs the pure-Python twins: no child process)\n")
        data["results"] = results
        say(f"objects alive after {ALIVE_FLUSHES} flushes of {ALIVE_PER_FLUSH:,} in one transaction ...")
        data["alive"] = measure_alive(args, data["environment"]["backend"])
        say(" " + ", ".join(f"{k}: {v['alive_after_collection']}" for k, v in data["alive"].items()) + "\n")
        if not args.no_sweep:
            say("batch-size sweep:\n")
            data["sweep_raw"] = sweep_raw(db, args.sweep_rows, max_rows, min(args.budget, 0.4), say)
            data["sweep_flush"] = sweep_flush(db, args.flush_sweep_rows, max_rows, say)
    data["seconds"] = time.perf_counter() - started
    data["targets"] = targets(data)
    chart = args.out / data["chart"]
    charted = draw_chart(data, chart)
    if not charted:
        say("matplotlib is not installed: no chart (pip install \".[bench]\")\n")
    markdown = render(data)
    (args.out / f"insert_pk{suffix}.md").write_text(markdown + "\n", encoding="utf-8")
    (args.out / f"insert_pk{suffix}.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    say("\n" + markdown + "\n")
    written = ".json, .png" if charted else ".json (no .png)"
    say(f"\nwrote {args.out / f'insert_pk{suffix}.md'}, {written} in {data['seconds']:.0f} s\n")
    return 0


if __name__ == "__main__":  # the child process of run_pure_child (and a shortcut)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
