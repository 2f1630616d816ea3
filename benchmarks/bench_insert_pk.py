"""pytest-benchmark suite for INSERT primary-key retrieval: ``pytest benchmarks/bench_insert_pk.py``.

The cases are ``insert_cases.py``'s (raw sqlite3, minialchemy per-row / batched / client keys
with this process's backend, SQLAlchemy when installed), at N = 1, 100, 10 000 and 100 000
rows.  Each test checks one run for correctness first (object *i* got key *i* + 1, and that row
holds its values), then times pedantic rounds into an emptied table on the same warm
connection: 50 rounds for small N, 10 for 10 000, 3 for 100 000.
``python benchmarks/report.py --insert`` measures the same cases into tables and a chart.
"""

import gc
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import insert_cases  # noqa: E402  (a sibling module, found through the line above)
from minialchemy.engine import insertmanyvalues  # noqa: E402

SIZES = [1, 100, 10_000, 100_000]
CASES = insert_cases.all_cases(insertmanyvalues.INSERT_BATCH_ROWS)


def rounds_for(n: int) -> int:
    return 3 if n >= 100_000 else 10 if n >= 10_000 else 50


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"N={n}")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.key)
def test_insert_with_primary_keys(benchmark, case, n):
    benchmark.group = f"N={n}"
    benchmark.extra_info["strategy"] = case.label
    prepared = case.prepare(n, insert_cases.Database())
    try:
        outcome = prepared.run()  # warm-up, and proof that the keys are right
        insert_cases.verify(case, n, prepared, outcome)

        def setup():
            prepared.reset()
            if n >= 1000:  # as insert_report.py: big rounds do not pay for earlier garbage
                gc.collect()

        benchmark.pedantic(prepared.run, setup=setup, rounds=rounds_for(n), iterations=1)
    finally:
        prepared.close()
