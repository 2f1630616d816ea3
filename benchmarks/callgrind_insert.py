"""Instruction counts of issue 12's INSERT run, steady under any machine load.

Run it under callgrind, collecting only inside ``functools.reduce`` (which this script calls
once, around the measured work, and which nothing else here calls)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=functools_reduce --callgrind-out-file=cg.out \\
        python benchmarks/callgrind_insert.py orm        # or: raw, after-construct
    callgrind_annotate cg.out | grep 'PROGRAM TOTALS'

``raw``: raw batched ``INSERT ... RETURNING`` at 500 rows a statement; ``orm``: construct
100 000 ``User`` objects, ``add_all``, ``flush``, ``commit``, ``close`` (the batched flush);
``after-construct``: the same without the construction.  Each runs once untimed first (a warm
connection and statement cache, as in ``insert_report.py``), then once measured.  Add
``--cache-sim=yes`` to count cache misses too.
"""

import functools
import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import insert_cases  # noqa: E402  (a sibling module, found through the line above)
from insert_cases import Database  # noqa: E402


def main(what: str, n: int) -> None:
    if what == "raw":
        prepared = insert_cases.make_raw_batched(500, ordered=False)(n, Database(None))
    else:
        prepared = insert_cases.make_minialchemy(False)(n, Database(None))
    prepared.reset()
    prepared.run()  # warm-up, not counted
    prepared.reset()
    gc.collect()
    if what in ("raw", "orm"):
        functools.reduce(lambda _, run: run(), [prepared.run], None)
        return
    from minialchemy.orm import Session

    User = insert_cases.minialchemy_model()
    objects = [User(name=name, fullname=fullname) for name, fullname in insert_cases.rows_for(n)]

    def after_construct() -> None:
        session = Session(prepared.engine)
        session.add_all(objects)
        session.flush()
        session.commit()
        session.close()

    functools.reduce(lambda _, run: run(), [after_construct], None)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "orm", int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
