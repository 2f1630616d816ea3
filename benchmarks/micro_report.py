"""The micro-benchmark report: ``python benchmarks/report.py --micro`` (or run this file).

One run measures every hot path of issues 4 and 12 three or four ways, side by side:

- the compiled twins and SQLAlchemy 2.1 (when installed), in one process;
- the pure-Python twins (``MINIALCHEMY_PURE_PYTHON=1``) in a second process (``minialchemy._accel``
  picks the twins once per process);
- each next to its plain-Python baseline measured in the same process, the implementations of a
  measure taking turns round by round (``python benchmarks/bench_micro.py --interleaved``;
  ``benchmarks/bench_micro.py`` says how each operation is timed);
- memory per loaded object (``benchmarks/bench_memory.py``: tracemalloc, 100 000 rows, next to a
  plain class instance per fetched row) and ``import minialchemy.orm`` next to ``import sqlite3``
  (``benchmarks/bench_import.py``: fresh interpreters taking turns), in the same run.

Each ratio is given two ways, as the INSERT report does: the ratio of the medians, and the median
of the round-by-round ratios (minialchemy's round *i* over the baseline's round *i*, which ran next
to each other, so that a change in the machine's load between two moments moves both figures of a
ratio alike).  A target counts as met only when both ratios are within it.

It prints one table (figure, ratio to the baseline, issue 12's target beside it, SQLAlchemy's
ratio from the same run, compiled-over-Python speed-up), what the garbage collector does while
rows are loaded, and writes the same to ``benchmarks/results/micro.md`` and ``micro.json``.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: measure -> (what it is, what the ratio is to)
MEASURES = {
    "attr_get": ("attribute get, loaded object", "a plain attribute"),
    "attr_set": ("attribute set, persistent object", "a plain attribute"),
    "construct": ("construct a transient object (2 keywords)", "a plain class, same keyword __init__"),
    "session_get": ("Session.get, identity-map hit", "a dict lookup of the identity key"),
    "identityset_add": ("IdentitySet.add (a member again)", "set.add"),
    "identityset_contains": ("obj in IdentitySet", "in a set"),
    "update_params": ("update_params of one modified object", "(none: twins only)"),
    "load_10k": ("load 10k rows into objects (per row)", "raw cursor.fetchall()"),
    "load_100k": ("load 100k rows into objects (per row)", "raw cursor.fetchall()"),
    "flush_10k": ("flush 10k modified objects (per row)", "raw executemany UPDATE"),
    "memory": ("memory per loaded object (tracemalloc, 100 000 rows)", "a plain class instance built from the same fetched rows"),
    "import": ("import minialchemy.orm (fresh interpreters, median)", "import sqlite3"),
}
PER_OPERATION = {"attr_get", "attr_set", "construct", "session_get", "identityset_add", "identityset_contains", "update_params"}
#: the unit of each measure's figures (ns per operation or per row unless said here)
UNITS = {"memory": "B", "import": "ms"}

#: issue 12's targets (issue 4's for attr_get): measure -> highest ratio of the compiled twins
#: to the baseline
TARGETS = {
    "attr_get": 1.2,
    "attr_set": 2.0,
    "construct": 1.5,
    "session_get": 2.0,
    "load_100k": 3.0,
    "flush_10k": 1.5,
    "memory": 2.0,
    "import": 3.0,
}
#: ... and every compiled path at least this many times faster than its pure-Python twin (issue 4)
SPEEDUP_TARGET = 3.0
NO_SPEEDUP = {"memory", "import"}  # sizes and start-up times: no speed-up to ask for

#: fresh interpreters per import statement (the statements take turns)
IMPORT_RUNS = 15
#: the import statements timed: impl -> statement.  Each child sets the backend itself before
#: importing (``os`` is imported at start-up, so ``import os`` costs nothing).
IMPORT_STATEMENTS = {
    "baseline": "import sqlite3",
    "minialchemy": "import os; os.environ['MINIALCHEMY_PURE_PYTHON'] = '0'; import minialchemy.orm",
    "python": "import os; os.environ['MINIALCHEMY_PURE_PYTHON'] = '1'; import minialchemy.orm",
    "sqlalchemy": "import sqlalchemy.orm",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``--micro`` (prefixed: they share report.py's parser)."""
    group = parser.add_argument_group("--micro options")
    group.add_argument("--micro-no-sqlalchemy", action="store_true", help="leave SQLAlchemy out even when installed")
    group.add_argument("--micro-out", type=Path, default=RESULTS, help="directory for micro.md/.json (default benchmarks/results)")
    group.add_argument("--micro-from-json", type=Path, default=None, help=argparse.SUPPRESS)  # re-render a micro.json


def _run_benchmarks(pure: bool, with_sqlalchemy: bool, say: Any) -> dict[str, Any]:
    """Run bench_micro.py's interleaved rounds in a child process; return its JSON."""
    env = dict(os.environ)
    env["MINIALCHEMY_PURE_PYTHON"] = "1" if pure else "0"
    env["MINIALCHEMY_BENCH_SQLALCHEMY"] = "1" if with_sqlalchemy else "0"
    command = [sys.executable, str(HERE / "bench_micro.py"), "--interleaved"]
    say(f"$ {'MINIALCHEMY_PURE_PYTHON=1 ' if pure else ''}python benchmarks/bench_micro.py --interleaved ...")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, cwd=HERE)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit(f"bench_micro.py failed ({'pure Python' if pure else 'compiled'} run)")
    data = json.loads(completed.stdout)
    gc_profile = subprocess.run(
        [sys.executable, str(HERE / "bench_micro.py"), "--gc-profile"], env=env, capture_output=True, text=True, check=True
    )
    data["gc_profile"] = json.loads(gc_profile.stdout)
    return data


def _measure_memory(with_sqlalchemy: bool, say: Any) -> dict[str, float]:
    """Bytes per loaded object: baseline, cython, python, sqlalchemy (bench_memory.py)."""
    import bench_memory

    say(f"$ python benchmarks/bench_memory.py --rows {bench_memory.ROWS} ...")
    return bench_memory.memory_per_object_all(bench_memory.ROWS, with_sqlalchemy=with_sqlalchemy)


def _measure_imports(with_sqlalchemy: bool, say: Any) -> tuple[dict[str, float], dict[str, float]]:
    """Median milliseconds of each import statement, and the median of its round-by-round ratios
    to ``import sqlite3``: each ``{baseline, cython, python, sqlalchemy} -> figure``."""
    import bench_import

    statements = {impl: statement for impl, statement in IMPORT_STATEMENTS.items()
                  if with_sqlalchemy or impl != "sqlalchemy"}
    say(f"$ python benchmarks/bench_import.py --runs {IMPORT_RUNS} ...")
    with tempfile.TemporaryDirectory(prefix="minialchemy-import-") as workdir:
        samples = bench_import.import_samples(list(statements.values()), IMPORT_RUNS, workdir)
    names = {"minialchemy": "cython"}
    base = samples[statements["baseline"]]
    medians, ratios = {}, {}
    for impl, statement in statements.items():
        taken = samples[statement]
        if isinstance(taken, bench_import.ImportFailed):
            continue
        medians[names.get(impl, impl)] = statistics.median(taken) / 1000
        if not isinstance(base, bench_import.ImportFailed):
            ratios[names.get(impl, impl)] = statistics.median(value / b for value, b in zip(taken, base))
    return medians, ratios


def _ns_per_op(data: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(measure, impl) -> median ns per operation over the rounds (per row for statement
    measures)."""
    result = {}
    for measure, entry in data["measures"].items():
        for impl, seconds in entry["seconds_per_op"].items():
            taken = [value for value in seconds if value is not None]
            if taken:
                result[(measure, impl)] = statistics.median(taken) * 1e9
    return result


def _round_ratios(data: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(measure, impl) -> median over the rounds of impl's round ÷ the baseline's same round."""
    result = {}
    for measure, entry in data["measures"].items():
        base = entry["seconds_per_op"].get("baseline")
        if not base:
            continue
        for impl, seconds in entry["seconds_per_op"].items():
            ratios = [value / b for value, b in zip(seconds, base) if value is not None and b]
            if ratios:
                result[(measure, impl)] = statistics.median(ratios)
    return result


def _backend(data: dict[str, Any]) -> Optional[str]:
    return data.get("backend")


def _machine() -> str:
    """The CPU's model name (Linux), or what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summarise(
    compiled: dict[str, Any], pure: dict[str, Any], memory: Optional[dict[str, float]] = None,
    imports: Optional[dict[str, float]] = None, import_ratios: Optional[dict[str, float]] = None,
) -> dict[str, Any]:
    """The rows of the report, from the two runs, the memory figures, the import times and the
    import's round-by-round ratios (each ``{"baseline", "cython", "python", "sqlalchemy"} ->
    figure``)."""
    fast, slow = _ns_per_op(compiled), _ns_per_op(pure)
    rounds_fast, rounds_slow = _round_ratios(compiled), _round_ratios(pure)
    for impl, key, table in (("cython", "minialchemy", rounds_fast), ("python", "minialchemy", rounds_slow),
                             ("sqlalchemy", "sqlalchemy", rounds_fast)):
        if impl in (import_ratios or {}):
            table[("import", key)] = import_ratios[impl]
    for measure, figures in (("memory", memory or {}), ("import", imports or {})):
        for impl, key, table in (("baseline", "baseline", fast), ("baseline", "baseline", slow),
                                 ("cython", "minialchemy", fast), ("python", "minialchemy", slow),
                                 ("sqlalchemy", "sqlalchemy", fast)):
            if impl in figures:
                table[(measure, key)] = figures[impl]
    loop_fast, loop_slow = fast.get(("empty_loop", "baseline")), slow.get(("empty_loop", "baseline"))
    rows = []
    for measure, (label, baseline_label) in MEASURES.items():
        base_c, base_p = fast.get((measure, "baseline")), slow.get((measure, "baseline"))
        cy, py, sa = fast.get((measure, "minialchemy")), slow.get((measure, "minialchemy")), fast.get((measure, "sqlalchemy"))

        def ratio(value: Optional[float], base: Optional[float]) -> Optional[float]:
            return None if value is None or base is None else value / base

        def op_only(value: Optional[float], base: Optional[float], loop: Optional[float]) -> Optional[float]:
            if measure not in PER_OPERATION or None in (value, base, loop) or base - loop <= 0:
                return None
            return (value - loop) / (base - loop)

        row = {
            "measure": measure,
            "label": label,
            "baseline": baseline_label,
            "baseline_ns": base_c,
            "cython_ns": cy,
            "python_ns": py,
            "sqlalchemy_ns": sa,
            "cython_ratio": ratio(cy, base_c),
            "python_ratio": ratio(py, base_p),
            "sqlalchemy_ratio": ratio(sa, base_c),
            "cython_ratio_rounds": rounds_fast.get((measure, "minialchemy")),
            "python_ratio_rounds": rounds_slow.get((measure, "minialchemy")),
            "sqlalchemy_ratio_rounds": rounds_fast.get((measure, "sqlalchemy")),
            "cython_ratio_op_only": op_only(cy, base_c, loop_fast),
            "python_ratio_op_only": op_only(py, base_p, loop_slow),
            "sqlalchemy_ratio_op_only": op_only(sa, base_c, loop_fast),
            "unit": UNITS.get(measure, "ns"),
            "speedup": None if cy is None or py is None or measure in NO_SPEEDUP else py / cy,
            "speedup_op_only": None,
            "target": TARGETS.get(measure),
        }
        if measure in PER_OPERATION and None not in (cy, py, loop_fast, loop_slow):
            row["speedup_op_only"] = (py - loop_slow) / (cy - loop_fast)
        # met only if both ways of counting are within the target (memory has no rounds)
        counted = [value for value in (row["cython_ratio"], row["cython_ratio_rounds"]) if value is not None]
        row["target_met"] = None if row["target"] is None or row["cython_ratio"] is None else max(counted) <= row["target"]
        row["speedup_met"] = None if row["speedup"] is None else row["speedup"] >= SPEEDUP_TARGET
        rows.append(row)
    return {
        "rows": rows,
        "empty_loop_ns": {"compiled_run": loop_fast, "pure_run": loop_slow},
        "gc_profile": {"compiled_run": compiled.get("gc_profile"), "pure_run": pure.get("gc_profile")},
        "backends": {"compiled_run": _backend(compiled), "pure_run": _backend(pure)},
        "machine": _machine(),
        "rounds": {"compiled_run": compiled.get("rounds"), "pure_run": pure.get("rounds")},
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "speedup_target": SPEEDUP_TARGET,
    }


def _fmt(value: Optional[float], digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:,.{digits}f}{suffix}"


def _figure(value: Optional[float], unit: str) -> str:
    """A figure with its unit: ``13.4 ns``, ``250 B``, ``5.7 ms``."""
    return "-" if value is None else f"{_fmt(value, 0 if unit == 'B' else 1)} {unit}"


def _verdict(met: Optional[bool]) -> str:
    return "" if met is None else ("met" if met else "MISSED")


def _rounds_said(summary: dict[str, Any]) -> str:
    """How many timed rounds each measure had (``?`` for a summary recorded before rounds)."""
    rounds = summary.get("rounds") or {}
    return str(rounds.get("compiled_run") or "?")


def render_markdown(summary: dict[str, Any]) -> str:
    lines = [
        "# Micro-benchmarks: hot paths of the ORM (issues 4 and 12)",
        "",
        f"Measured {summary['date']} on {summary['machine']}, CPython {summary['python']}; "
        f"command: `python benchmarks/report.py --micro` (compiled twins and SQLAlchemy in one "
        f"process, pure-Python twins in a second one, each measure's implementations taking turns "
        f"for {_rounds_said(summary)} rounds; backends seen: "
        f"{summary['backends']['compiled_run']} / {summary['backends']['pure_run']}).",
        "",
        "Figures are medians over the rounds: ns per operation (per row for load and flush), bytes "
        "per object for memory (`benchmarks/bench_memory.py`) and milliseconds for the import "
        "(`benchmarks/bench_import.py`: fresh interpreters taking turns). Ratios are to the baseline "
        "measured in the same run, two ways: the ratio of the medians (`x`), and the median of the "
        "round-by-round ratios (`x rounds`: each round of minialchemy over the baseline's round "
        "that ran next to it). The target column is issue 12's (issue 4's for attribute get) for "
        "the compiled twins, met only when both ratios are within it; the SQLAlchemy column is "
        "SQLAlchemy's ratio of medians to the same baseline (in load and flush, which take it up "
        "to a second a round, it takes part in the first few rounds only). Per-operation "
        "measures run in a `for _ in range(10_000)` loop whose own cost (empty loop: "
        f"{_fmt(summary['empty_loop_ns']['compiled_run'])} ns compiled run, "
        f"{_fmt(summary['empty_loop_ns']['pure_run'])} ns pure run) is in every figure, baseline "
        "included -- the method behind the SQLAlchemy ratios quoted in the issues; the second table "
        "subtracts it.",
        "",
        "| measure | baseline | baseline | Cython | Python | SQLAlchemy | Cython x | Cython x rounds | target | SQLAlchemy x | Python x | Cython / Python speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for row in summary["rows"]:
        target = "" if row["target"] is None else f"<= {row['target']:g}x {_verdict(row['target_met'])}"
        unit = row.get("unit", "ns")
        lines.append(
            f"| {row['label']} | {row['baseline']} | {_figure(row['baseline_ns'], unit)} | "
            f"{_figure(row['cython_ns'], unit)} | {_figure(row['python_ns'], unit)} | "
            f"{_figure(row['sqlalchemy_ns'], unit)} | {_fmt(row['cython_ratio'], 2)} | "
            f"{_fmt(row.get('cython_ratio_rounds'), 2)} | {target} | "
            f"{_fmt(row['sqlalchemy_ratio'], 1)} | {_fmt(row['python_ratio'], 2)} | "
            f"{_fmt(row['speedup'], 2, 'x')} {_verdict(row['speedup_met'])} |"
        )
    lines += [
        "",
        "With the loop's own cost subtracted (per-operation measures only):",
        "",
        "| measure | Cython x | Python x | SQLAlchemy x | Cython / Python speed-up |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in summary["rows"]:
        if row["measure"] in PER_OPERATION:
            lines.append(
                f"| {row['label']} | {_fmt(row['cython_ratio_op_only'], 2)} | {_fmt(row['python_ratio_op_only'], 2)} | "
                f"{_fmt(row['sqlalchemy_ratio_op_only'], 1)} | {_fmt(row['speedup_op_only'], 2, 'x')} |"
            )
    lines += ["", "## The garbage collector while 100,000 rows load", ""]
    lines += [
        "Collections per generation (and seconds in them) during one load, from `gc.callbacks`, and "
        "the same load with the collector disabled (`python benchmarks/bench_micro.py --gc-profile`):",
        "",
        "| run | impl | load s | gen0 | gen1 | gen2 | s in gen2 | load s, gc disabled | x fetchall, gc disabled |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run, profile in summary["gc_profile"].items():
        if not profile:
            continue
        base = profile.get("baseline", {}).get("seconds_with_gc_disabled")
        for impl in ("baseline", "minialchemy", "sqlalchemy"):
            entry = profile.get(impl)
            if not entry:
                continue
            name = f"minialchemy ({profile['backend']})" if impl == "minialchemy" else impl
            counts, seconds = entry["collections"], entry["gc_seconds"]
            lines.append(
                f"| {run} | {name} | {entry['seconds']:.3f} | {counts['0']} | {counts['1']} | {counts['2']} | "
                f"{seconds['2']:.3f} | {entry['seconds_with_gc_disabled']:.3f} | "
                f"{_fmt(None if not base else entry['seconds_with_gc_disabled'] / base, 2)} |"
            )
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    say = print
    if args.micro_from_json:
        summary = json.loads(Path(args.micro_from_json).read_text())
    else:
        with_sqlalchemy = not args.micro_no_sqlalchemy
        compiled = _run_benchmarks(pure=False, with_sqlalchemy=with_sqlalchemy, say=say)
        pure = _run_benchmarks(pure=True, with_sqlalchemy=False, say=say)
        memory = _measure_memory(with_sqlalchemy, say)
        imports, import_ratios = _measure_imports(with_sqlalchemy, say)
        summary = json.loads(json.dumps(summarise(compiled, pure, memory, imports, import_ratios)))  # JSON keys, as re-rendering sees them
        if summary["backends"]["compiled_run"] != "cython":
            say("WARNING: the compiled run used the pure-Python twins (is the build installed?)")
    markdown = render_markdown(summary)
    print(markdown)
    out = Path(args.micro_out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.micro_from_json:
        (out / "micro.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "micro.md").write_text(markdown)
    say(f"wrote {out / 'micro.md'} and {out / 'micro.json'}")
    missed = [row["measure"] for row in summary["rows"] if row["target_met"] is False]
    if missed:
        say(f"targets missed: {', '.join(missed)}")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Micro-benchmarks of the ORM's hot paths (issues 4 and 12).")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
