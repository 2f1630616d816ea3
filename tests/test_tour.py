"""The guided tour (README's first command): every statement runs on its own with its SQL and
its value right under it, the models and the seed rows come first, the output fits the width,
and colour is used only on a terminal."""

import io
import re
import subprocess
import sys
from pathlib import Path

from minialchemy.orm.identity import IdentitySet
from minialchemy.tour import SECTIONS, TUTORIAL, Section, Step, Tour, _short_repr

ANSI = re.compile(r"\033\[[0-9;]*m")


def run_tour(**kwargs):
    out = kwargs.pop("out", None) or io.StringIO()
    assert Tour(out=out, **kwargs).run() == 0
    return out.getvalue()


def under(text, statement):
    """The lines printed under the first statement (``>>> ...`` line) that starts with
    ``statement``, up to the next statement, step heading or objects block."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  >>> {statement}"))
    block = []
    for line in lines[start + 1:]:
        if line.startswith(("  >>> ", "==", "  objects:")) or not line.strip():
            break
        if not line.startswith("  ... "):
            block.append(line.strip())
    return block


def sql_under(text, statement):
    return [line[len("SQL  "):] for line in under(text, statement) if line.startswith("SQL  ")]


def test_tour_runs_every_step_and_shows_values_and_states():
    text = run_tour()
    assert under(text, "squidward.id") == ["None"]
    assert under(text, "some_squidward is squidward") == ["True"]
    assert "History(added=['Sandy Squirrel'], unchanged=(), deleted=['Sandy Cheeks'])" in text
    assert under(text, "type(problem).__name__") == ["'DetachedInstanceError'"]
    assert "    squidward  detached" in text
    assert text.rstrip().endswith("tests/orm/test_seed_narrative.py too.")


def test_sql_appears_under_the_statement_that_sent_it():
    text = run_tour()
    assert sql_under(text, 'sandy = session.execute(select(User).filter_by(name="sandy"))') == [
        "SELECT user_account.id, user_account.name, user_account.fullname FROM"
    ]
    assert sql_under(text, 'sandy.fullname = "Sandy Squirrel"') == []
    assert sql_under(text, "session.execute(select(User.fullname)")[0].startswith("UPDATE user_account SET fullname=?")
    assert sql_under(text, "session.delete(patrick)") == []
    assert sql_under(text, "patrick in session.deleted") == []


def test_deleting_patrick_sets_his_address_user_id_to_null_as_the_step_promises():
    text = run_tour()
    flushed = sql_under(text, 'session.execute(select(User).where(User.name == "patrick")).first()')
    kinds = [statement.split()[0] for statement in flushed]
    assert kinds == ["SELECT", "UPDATE", "DELETE", "SELECT"]
    assert flushed[1].startswith("UPDATE address SET user_id=? WHERE address.id = ?")
    assert "params (None, 4)" in " ".join(under(text, 'session.execute(select(User).where(User.name == "patrick")).first()'))


def test_models_and_seed_rows_are_shown_first():
    text = run_tour()
    story = text.index("== 2. Instances of classes represent rows")
    assert text.index(">>> class User(Base):") < story
    assert text.index(">>> class Address(Base):") < story
    assert text.index("addresses: Mapped[List[\"Address\"]]") < story
    address_rows = [line.split() for line in text[text.index("rows in address:"):story].splitlines()[1:]]
    assert ["4", "patrick@sqlalchemy.org", "3"] in address_rows
    user_rows = [line.split() for line in text[text.index("rows in user_account:"):story].splitlines()[1:]]
    assert ["3", "patrick", "Patrick", "Star"] in user_rows


def test_every_line_fits_80_columns_when_piped():
    text = run_tour()
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert too_wide == []


def test_lines_fit_the_width_asked_for():
    text = run_tour(width=120)
    widths = [len(line) for line in text.splitlines()]
    assert max(widths) <= 120 and max(widths) > 80


def test_no_colour_when_piped():
    assert not ANSI.search(run_tour())


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_colour_on_a_terminal_unless_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = run_tour(out=FakeTerminal(), width=80)
    assert ANSI.search(coloured)
    address = re.compile("0x[0-9a-f]+")
    assert address.sub("", ANSI.sub("", coloured)) == address.sub("", run_tour(width=80))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(run_tour(out=FakeTerminal(), width=80))


class Member:
    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f"Member(n={self.n}, text='a rather long representation of a member of the set')"


def test_long_set_reprs_are_shortened():
    users = IdentitySet([Member(n) for n in range(6)])
    lines = _short_repr(users, 78)
    assert lines[0] == "IdentitySet of 6:"
    assert len(lines) == 6 and lines[-1] == "  ... and 2 more"
    assert all(len(line) <= 78 for line in lines)
    assert _short_repr(IdentitySet(), 78) == ["IdentitySet([])"]


def test_the_first_reason_points_to_the_glossary():
    text = run_tour()
    first_why = text.index("why: ")
    assert text.index("docs/glossary.md") > first_why
    assert text.count("docs/glossary.md") == 1
    assert (Path(__file__).resolve().parent.parent / "docs" / "glossary.md").exists()


def test_a_section_can_be_added():
    extra = Section(
        "Counting",
        "A chapter added after the tutorial, reusing its models.",
        [Step("How many users?", "One SELECT.", "session = Session(engine)\nlen(session.scalars(select(User)).all())")],
        watch=("sandy",),
    )
    text = run_tour(sections=[TUTORIAL, extra])
    tutorial_steps = len(TUTORIAL.steps)
    assert f"== {tutorial_steps + 1}. How many users? " in text
    assert under(text, "len(session.scalars(select(User)).all())")[-1] == "5"


def test_readme_names_the_pause_option():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "python -m minialchemy tour --pause" in readme


def test_tour_command_line():
    completed = subprocess.run(
        [sys.executable, "-m", "minialchemy", "tour"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert "== 18. Re-adding a detached object" in completed.stdout
    assert not ANSI.search(completed.stdout)


def test_n_plus_one_section_shows_the_lazy_loads_the_warning_and_the_fix():
    text = run_tour()
    lazy = under(text, "with warnings.catch_warnings(record=True) as caught:")
    selects = [line for line in lazy if line.startswith("SQL  SELECT address")]
    assert len(selects) == 12
    assert "why: lazy load of User.addresses #12" in " ".join(lazy)
    assert under(text, "len(caught), caught[0].category.__name__") == ["(1, 'NPlusOneWarning')"]
    fix = text.split("selectinload: one more SELECT for all of them", 1)[1]
    eager = [line for line in under(fix, "users = session.scalars(") if line.startswith("SQL  SELECT")]
    assert len(eager) == 2 and eager[1].startswith("SQL  SELECT address.id")
    assert under(fix, "[len(user.addresses) for user in users]") == ["[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]


def test_tree_section_shows_the_plan_by_levels_and_the_leaves_deleted_first():
    text = run_tour()
    tree = text.split("A tree in one table: the adjacency list", 1)[1]
    assert under(tree, '" / ".join(') == ["'SYNC 3 / INSERT 1 / SYNC 2 / INSERT 2 / SYNC 1 / INSERT 1'"]
    inserts = [line for line in sql_under(tree, "session.commit()") if line.startswith("INSERT INTO node")]
    assert len(inserts) == 4
    assert under(tree, "[(n.name, n.parent_id) for n in")[-1] == "[('root', None), ('a', 1), ('b', 1), ('a1', 2)]"
    deleting = tree.split("Deleting a subtree: leaves first", 1)[1]
    deletes = [line for line in under(deleting, "session.commit()") if line.startswith("params")]
    assert [line.split(";")[0] for line in deletes] == ["params (4,)", "params (2,)"]  # a1, then a
    assert under(deleting, "session.scalars(select(Node.name)")[-1] == "['root', 'b']"
