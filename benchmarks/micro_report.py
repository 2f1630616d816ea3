"""The micro-benchmark report: ``python benchmarks/report.py --micro`` (or run this file).

One run measures every hot path of issues 4 and 12 three or four ways, side by side:

- the compiled twins and SQLAlchemy 2.1 (when installed), in one pytest-benchmark process;
- the pure-Python twins (``MINIALCHEMY_PURE_PYTHON=1``) in a second process (``minialchemy._accel``
  picks the twins once per process);
- each next to its plain-Python baseline measured in the same process (``benchmarks/bench_micro.py``
  says how each operation is timed);
- memory per loaded object (``benchmarks/bench_memory.py``: tracemalloc, 100 000 rows, next to a
  plain class instance per fetched row) and ``import minialchemy.orm`` next to ``import sqlite3``
  (``benchmarks/bench_import.py``: fresh interpreters taking turns, medians), in the same run.

It prints one table (figure, ratio to the baseline, issue 12's target beside it, SQLAlchemy's
ratio from the same run, compiled-over-Python speed-up), what the garbage collector does while
rows are loaded, and writes the same to ``benchmarks/results/micro.md`` and ``micro.json``.
"""

import argparse
import json
import os
import platform
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
IMPORT_RUNS = 9
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
    """Run bench_micro.py under pytest-benchmark in a child process; return its JSON."""
    env = dict(os.environ)
    env["MINIALCHEMY_PURE_PYTHON"] = "1" if pure else "0"
    env["MINIALCHEMY_BENCH_SQLALCHEMY"] = "1" if with_sqlalchemy else "0"
    with tempfile.TemporaryDirectory(prefix="minialchemy-micro-") as tmp:
        output = Path(tmp) / "bench.json"
        command = [
            sys.executable, "-m", "pytest", str(HERE / "bench_micro.py"), "-q", "-p", "no:cacheprovider",
            f"--benchmark-json={output}", "--benchmark-columns=median,rounds", "--benchmark-sort=name",
            f"--rootdir={HERE}",
        ]
        say(f"$ {'MINIALCHEMY_PURE_PYTHON=1 ' if pure else ''}{' '.join(command[1:5])} ...")
        completed = subprocess.run(command, env=env, capture_output=True, text=True, cwd=HERE)
        if completed.returncode != 0 or not output.exists():
            sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
            raise SystemExit(f"bench_micro.py failed ({'pure Python' if pure else 'compiled'} run)")
        data = json.loads(output.read_text())
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


def _measure_imports(with_sqlalchemy: bool, say: Any) -> dict[str, float]:
    """Median milliseconds of each import statement: baseline, cython, python, sqlalchemy."""
    import bench_import

    statements = {impl: statement for impl, statement in IMPORT_STATEMENTS.items()
                  if with_sqlalchemy or impl != "sqlalchemy"}
    say(f"$ python benchmarks/bench_import.py --runs {IMPORT_RUNS} ...")
    with tempfile.TemporaryDirectory(prefix="minialchemy-import-") as workdir:
        medians = bench_import.import_medians(list(statements.values()), IMPORT_RUNS, workdir)
    names = {"minialchemy": "cython"}
    return {names.get(impl, impl): medians[statement] for impl, statement in statements.items()
            if isinstance(medians[statement], float)}


def _ns_per_op(data: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(measure, impl) -> median ns per operation (per row for statement measures)."""
    result = {}
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        result[(info["measure"], info["impl"])] = bench["stats"]["median"] / info["ops"] * 1e9
    return result


def _backend(data: dict[str, Any]) -> Optional[str]:
    for bench in data["benchmarks"]:
        if bench["extra_info"]["impl"] == "minialchemy":
            return bench["extra_info"]["backend"]
    return None


def summarise(
    compiled: dict[str, Any], pure: dict[str, Any], memory: Optional[dict[str, float]] = None,
    imports: Optional[dict[str, float]] = None,
) -> dict[str, Any]:
    """The rows of the report, from the two runs, the memory figures and the import times
    (each ``{"baseline", "cython", "python", "sqlalchemy"} -> figure``)."""
    fast, slow = _ns_per_op(compiled), _ns_per_op(pure)
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
        row["target_met"] = None if row["target"] is None or row["cython_ratio"] is None else row["cython_ratio"] <= row["target"]
        row["speedup_met"] = None if row["speedup"] is None else row["speedup"] >= SPEEDUP_TARGET
        rows.append(row)
    return {
        "rows": rows,
        "empty_loop_ns": {"compiled_run": loop_fast, "pure_run": loop_slow},
        "gc_profile": {"compiled_run": compiled.get("gc_profile"), "pure_run": pure.get("gc_profile")},
        "backends": {"compiled_run": _backend(compiled), "pure_run": _backend(pure)},
        "machine": compiled.get("machine_info", {}).get("cpu", {}).get("brand_raw") or platform.processor(),
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


def render_markdown(summary: dict[str, Any]) -> str:
    lines = [
        "# Micro-benchmarks: hot paths of the ORM (issues 4 and 12)",
        "",
        f"Measured {summary['date']} on {summary['machine']}, CPython {summary['python']}; "
        f"command: `python benchmarks/report.py --micro` (pytest-benchmark medians; compiled twins and "
        f"SQLAlchemy in one process, pure-Python twins in a second one; backends seen: "
        f"{summary['backends']['compiled_run']} / {summary['backends']['pure_run']}).",
        "",
        "Figures are ns per operation (per row for load and flush), bytes per object for memory "
        "(`benchmarks/bench_memory.py`) and milliseconds for the import (`benchmarks/bench_import.py`: "
        "fresh interpreters taking turns, medians). Ratios are to the baseline measured in the same "
        "run; the target column is issue 12's (issue 4's for attribute get) for the compiled twins' "
        "ratio, and the SQLAlchemy column is SQLAlchemy's ratio to the same baseline. Per-operation "
        "measures run in a `for _ in range(10_000)` loop whose own cost (empty loop: "
        f"{_fmt(summary['empty_loop_ns']['compiled_run'])} ns compiled run, "
        f"{_fmt(summary['empty_loop_ns']['pure_run'])} ns pure run) is in every figure, baseline "
        "included -- the method behind the SQLAlchemy ratios quoted in the issues; the second table "
        "subtracts it.",
        "",
        "| measure | baseline | baseline | Cython | Python | SQLAlchemy | Cython x | target | SQLAlchemy x | Python x | Cython / Python speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for row in summary["rows"]:
        target = "" if row["target"] is None else f"<= {row['target']:g}x {_verdict(row['target_met'])}"
        unit = row.get("unit", "ns")
        lines.append(
            f"| {row['label']} | {row['baseline']} | {_figure(row['baseline_ns'], unit)} | "
            f"{_figure(row['cython_ns'], unit)} | {_figure(row['python_ns'], unit)} | "
            f"{_figure(row['sqlalchemy_ns'], unit)} | {_fmt(row['cython_ratio'], 2)} | {target} | "
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
        imports = _measure_imports(with_sqlalchemy, say)
        summary = json.loads(json.dumps(summarise(compiled, pure, memory, imports)))  # JSON keys, as re-rendering sees them
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
