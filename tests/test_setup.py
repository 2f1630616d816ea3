"""Set-up with no surprises: after an install whose compiled twins could not be built, the
installed package says why (``python -m minialchemy info``), and plain ``pytest`` skips the
compiled half with one reason instead of failing (CI's MINIALCHEMY_REQUIRE_COMPILED=1 still
fails it).

A fallback install is imitated by a copy of the installed package without its compiled
extensions, holding the build report setup.py writes (``minialchemy/_ext/build_report.txt``).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import minialchemy

TESTS = Path(__file__).resolve().parent
REPORT = (
    "the compiled twins could not be built: CompileError: command 'gcc' failed with exit code 1\n"
    "    ext/identity.c:1:10: fatal error: Python.h: No such file or directory\n"
)


@pytest.fixture
def fallback_install(tmp_path):
    """A directory to put first on PYTHONPATH: minialchemy without compiled twins, with the
    build report of the compiler error that left them out."""
    root = tmp_path / "site"
    shutil.copytree(
        Path(minialchemy.__file__).parent,
        root / "minialchemy",
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "build_report.txt"),
    )
    (root / "minialchemy" / "_ext" / "build_report.txt").write_text(REPORT, encoding="utf-8")
    return root


def run(root, *arguments, **extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIALCHEMY_")}
    env.update(PYTHONPATH=str(root), **extra_env)
    return subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, env=env, cwd=root, timeout=300
    )


def test_info_prints_why_the_compiled_twins_are_missing(fallback_install):
    completed = run(fallback_install, "-m", "minialchemy", "info")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    backend = next(line for line in lines if line.startswith("backend"))
    assert backend.startswith("backend     python: compiled extension not importable")
    assert "the build said: the compiled twins could not be built: CompileError" in backend
    build = lines.index("build       the compiled twins could not be built: CompileError: command 'gcc' failed with exit code 1")
    assert lines[build + 1] == "            ext/identity.c:1:10: fatal error: Python.h: No such file or directory"


def test_info_says_nothing_about_the_build_of_an_install_without_a_report():
    completed = subprocess.run([sys.executable, "-m", "minialchemy", "info"], capture_output=True, text=True)
    assert completed.returncode == 0
    assert [line for line in completed.stdout.splitlines() if line.startswith("build ")] == []


def test_plain_pytest_skips_the_compiled_half_with_one_reason(fallback_install):
    completed = run(fallback_install, "-m", "pytest", str(TESTS / "test_identity.py"), "-q", "-rs", "-p", "no:cacheprovider")
    assert completed.returncode == 0, completed.stdout[-3000:]
    skipped = [line for line in completed.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1
    assert re.match(r"SKIPPED \[\d+\] .*test_identity.py: the compiled twins are not installed \(", skipped[0])
    assert "python -m minialchemy info" in skipped[0]
    assert re.search(r"\d+ passed, \d+ skipped", completed.stdout)


def test_ci_still_insists_on_the_compiled_twins(fallback_install):
    completed = run(
        fallback_install, "-m", "pytest", str(TESTS / "test_identity.py"), "-q", "-p", "no:cacheprovider",
        MINIALCHEMY_REQUIRE_COMPILED="1",
    )
    assert completed.returncode != 0
    assert "minialchemy._ext.identity is not importable" in completed.stdout
