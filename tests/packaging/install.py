"""`pip install .` as a user runs it: `python -m venv` with the chosen interpreter, then that venv's own pip
installs a copy of the sources (the wheel built by pip, with setuptools in an isolated build environment,
not an editable install). Its dependencies and build backend come from a local wheelhouse per Python version
(`.cache/wheelhouse/pyXY`, filled once from PyPI by that pip with tests/constraints.txt), so pip resolves
the declared requirements for real and no network is needed after the first run."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".cache" / "wheelhouse"
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "oc_virt_expose")
CONSTRAINTS = REPO / "tests" / "constraints.txt"
BUILD_BACKEND = "setuptools>=77"  # pyproject.toml's build-system.requires


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def _pip(python: Path, *args: str) -> None:
    _run(str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args)


def wheelhouse(python: Path) -> Path:
    """The runtime dependencies and the build backend as wheels for `python` (a venv's), downloaded once per
    Python version and tests/constraints.txt."""
    version = _run(str(python), "-c", "import sys; print('py%d%d' % sys.version_info[:2])").strip()
    folder = WHEELHOUSE / version
    marker = folder / f".complete-{hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()[:16]}"
    if not marker.exists():
        _pip(python, "download", "-d", str(folder), "-c", str(CONSTRAINTS), "PyYAML", "shtab", BUILD_BACKEND)
        marker.touch()
    return folder


def install_fresh_venv(work: Path, python: str | Path = sys.executable) -> Path:
    """A venv of `python` in `work/venv` with the plugin installed by its own pip; its bin folder."""
    source = work / "source"
    source.mkdir(parents=True)
    for name in SOURCES:  # a copy: building in the work tree would leave build/ and egg-info there
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(REPO / name, source / name)
    venv = work / "venv"
    _run(str(python), "-m", "venv", str(venv))
    venv_python = venv / "bin" / "python"
    _pip(venv_python, "install", "--no-index", "--find-links", str(wheelhouse(venv_python)), str(source))
    return venv / "bin"
