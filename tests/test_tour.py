"""The guided tour (README's first command) runs to the end and shows what the tutorial shows."""

import io
import subprocess
import sys

from minialchemy.tour import Tour


def test_tour_runs_every_step_and_shows_sql_and_states():
    out = io.StringIO()
    assert Tour(out=out).run() == 0
    text = out.getvalue()
    assert "squidward.id -> 4" in text and "krabs.id -> 5" in text
    assert "some_squidward is squidward -> True" in text
    assert "SQL  UPDATE user_account SET fullname=? WHERE user_account.id = ?" in text
    assert "why: autoflush before SELECT" in text
    assert "sandy.fullname -> 'Sandy Squirrel Extraordinaire'" in text
    assert "fullname -> 'Sandy Cheeks'" in text
    assert "type(problem).__name__ -> 'DetachedInstanceError'" in text
    assert "squidward  detached" in text
    assert text.rstrip().endswith("tests/orm/test_seed_narrative.py too.")


def test_tour_command_line():
    completed = subprocess.run(
        [sys.executable, "-m", "minialchemy", "tour"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert "== 17. Re-adding a detached object" in completed.stdout
