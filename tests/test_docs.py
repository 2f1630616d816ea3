"""The pages in docs/ are executed: every ``>>>`` example must print what the page shows."""

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: the pages with examples (prose-only pages have no ``>>>`` to run)
PAGES = sorted(page for page in DOCS.glob("*.md") if ">>> " in page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_doc_page_examples_run_as_shown(page):
    failures, attempted = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        encoding="utf-8",
    )
    assert attempted > 0, f"{page.name} has no examples"
    assert failures == 0, f"{failures} of {attempted} examples in {page.name} failed (see output above)"


def test_readme_sample_prints_the_object_it_reads_back():
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    sample = readme.split("```python\n", 1)[1].split("```", 1)[0]
    completed = subprocess.run([sys.executable, "-c", sample], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    printed = completed.stdout.splitlines()
    assert "User(id=1, name='sandy', fullname='Sandy Cheeks')" in printed
    assert any("INSERT INTO user_account" in line for line in printed)  # the echo log


@pytest.mark.parametrize("name", ["how_it_works.md", "insert_strategies.md"])
def test_argument_pages_open_with_a_paragraph_for_a_learner(name):
    text = (DOCS / name).read_text(encoding="utf-8")
    opening = text.split("\n## ", 1)[0]
    assert "**For a learner.** This page answers" in opening
    assert "glossary.md" in opening and "tutorial.md" in opening


def test_the_tutorial_page_has_the_learner_sections():
    headings = [line for line in (DOCS / "tutorial.md").read_text(encoding="utf-8").splitlines() if line.startswith("## ")]
    for wanted in (
        "## Relationships in use",
        "## Keeping values after commit: `expire_on_commit=False`",
        "## Explicit transactions: `session.begin()`",
        "## Why a failed flush needs `rollback()`",
        "## What will the next flush do?",
    ):
        assert wanted in headings
