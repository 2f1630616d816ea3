"""An editor that helps: mypy, with no plugin, understands the tutorial's models.

``tests/typing/tutorial_types.py`` holds ``reveal_type`` lines, each followed by the type mypy
must reveal (``user.name`` is ``str``, ``user.fullname`` is ``str | None``, ``User.name`` is a
column expression, ``user.addresses`` is ``list[Address]``, ``session.get(User, 1)`` is
``User | None``); ``tutorial_type_errors.py`` holds mistakes mypy must report.  The package is
found as installed, which works only because it ships ``py.typed`` (PEP 561).  The code of
docs/tutorial.md must type-check too.
"""

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import minialchemy

TYPING = Path(__file__).resolve().parent / "typing"
DOCS = Path(__file__).resolve().parent.parent / "docs"
NOTE = re.compile(r'^(?P<file>[\w.]+):(?P<line>\d+): note: Revealed type is "(?P<type>.*)"$')
ERROR = re.compile(r"^(?P<file>[\w.]+):(?P<line>\d+): error: .*\[(?P<code>[\w-]+)\]$")


def run_mypy(directory, *files, cache):
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache), "--no-error-summary",
         "--hide-error-context", "--no-pretty", *files],
        capture_output=True, text=True, cwd=directory, timeout=300,
    )
    return completed.stdout.splitlines()


def expectations(path, marker):
    """``{line number: expected text}`` for lines ending in ``# <marker>: <text>``."""
    found = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if f"# {marker}: " in line:
            found[number] = line.split(f"# {marker}: ", 1)[1].strip()
    return found


def test_the_package_ships_py_typed():
    assert resources.files(minialchemy).joinpath("py.typed").is_file()


def test_mypy_infers_the_tutorial_models_types(tmp_path):
    output = run_mypy(TYPING, "tutorial_types.py", "tutorial_type_errors.py", cache=tmp_path / "cache")
    revealed = {}
    errors = {}
    for line in output:
        if match := NOTE.match(line):
            revealed[int(match["line"])] = match["type"]
        elif match := ERROR.match(line):
            errors[(match["file"], int(match["line"]))] = match["code"]
        else:
            raise AssertionError(f"unexpected mypy output: {line}")
    assert revealed == expectations(TYPING / "tutorial_types.py", "revealed")
    expected_errors = {
        ("tutorial_type_errors.py", number): code
        for number, code in expectations(TYPING / "tutorial_type_errors.py", "error").items()
    }
    assert errors == expected_errors


def test_the_tutorial_page_type_checks(tmp_path):
    code = []
    for line in (DOCS / "tutorial.md").read_text(encoding="utf-8").splitlines():
        if line.startswith((">>> ", "... ")):
            code.append(line[4:])
        elif line == "...":
            code.append("")
    (tmp_path / "tutorial_page.py").write_text("\n".join(code) + "\n", encoding="utf-8")
    output = run_mypy(tmp_path, "tutorial_page.py", cache=tmp_path / "cache")
    assert output == []
