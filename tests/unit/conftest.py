"""Fixtures of several unit-test folders: a fresh interpreter that runs the plugin (or imports a module) and
tells which modules were loaded by the end (`sys.modules` after the fact)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("kubernetes", "yaml", "urllib3", "requests")
"""Top-level packages that `--help`, `--version`, usage errors and completion never need."""

# Runs `python -m oc_virt_expose ARGS` (runpy, as -m does) and writes sys.modules to the file named first,
# whatever the exit, so stdout and stderr stay the plugin's own.
_RUN_PLUGIN = """\
import runpy, sys
record, sys.argv[1:] = sys.argv[1], sys.argv[2:]
try:
    runpy.run_module("oc_virt_expose", run_name="__main__", alter_sys=True)
finally:
    with open(record, "w") as stream:
        stream.write("\\n".join(sorted(sys.modules)))
"""
_RUN_CODE = """\
import sys
record = sys.argv[1]
exec(sys.argv[2])
with open(record, "w") as stream:
    stream.write("\\n".join(sorted(sys.modules)))
"""


class Ran(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    modules: frozenset[str]
    """Every module loaded when the interpreter ended."""

    def loaded(self, prefixes: tuple[str, ...]) -> set[str]:
        """The loaded modules that are, or are inside, one of `prefixes` (`ssl`, `oc_virt_expose.access`)."""
        return {m for m in self.modules if any(m == p or m.startswith(p + ".") for p in prefixes)}

    @property
    def heavy(self) -> set[str]:
        return self.loaded(HEAVY)


FreshRun = Callable[..., Ran]


@pytest.fixture
def run_plugin(tmp_path: Path) -> FreshRun:
    """`run_plugin(*args, env=None)`: `python -m oc_virt_expose ARGS` in a fresh interpreter, as a user runs it."""
    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        return _fresh(tmp_path, _RUN_PLUGIN, list(args), env)

    return run


@pytest.fixture
def run_code(tmp_path: Path) -> FreshRun:
    """`run_code(code)`: Python statements alone in a fresh interpreter (`import oc_virt_expose.x`)."""
    def run(code: str) -> Ran:
        return _fresh(tmp_path, _RUN_CODE, [code], None)

    return run


def _fresh(tmp_path: Path, code: str, args: list[str], env: dict[str, str] | None) -> Ran:
    record = tmp_path / f"modules-{len(list(tmp_path.glob('modules-*')))}.txt"
    result = subprocess.run([sys.executable, "-c", code, str(record), *args], capture_output=True, text=True,
                            cwd=REPO, env=env, timeout=60)
    modules = frozenset(record.read_text().split("\n")) if record.exists() else frozenset()
    assert modules, f"the interpreter recorded no modules: {result.stderr}"
    return Ran(result.returncode, result.stdout, result.stderr, modules)
