"""`pip install` of the plugin as a user gets it: the wheel built from the sources (not an editable install)
into a fresh venv, with its dependencies from a local wheelhouse (`.cache/wheelhouse`, filled once from PyPI
with tests/constraints.txt), so pip resolves the declared requirements for real and no network is needed
after the first run."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".cache" / "wheelhouse"
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "oc_virt_expose")


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True,
                   capture_output=True)


def wheelhouse() -> Path:
    """The runtime dependencies as wheels, downloaded once per tests/constraints.txt."""
    constraints = REPO / "tests" / "constraints.txt"
    marker = WHEELHOUSE / f".complete-{hashlib.sha256(constraints.read_bytes()).hexdigest()[:16]}"
    if not marker.exists():
        _pip("download", "-d", str(WHEELHOUSE), "-c", str(constraints), "PyYAML", "shtab")
        marker.touch()
    return WHEELHOUSE


def install_fresh_venv(work: Path) -> Path:
    """A venv in `work/venv` with the plugin installed from its wheel; its bin folder."""
    source = work / "source"
    source.mkdir(parents=True)
    for name in SOURCES:  # a copy: building in the work tree would leave build/ and egg-info there
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(REPO / name, source / name)
    _pip("wheel", "--no-deps", "-w", str(work / "wheel"), str(source))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / "venv")], check=True)
    _pip("--python", str(work / "venv" / "bin" / "python"), "install", "--no-index", "--find-links",
         str(wheelhouse()), "--find-links", str(work / "wheel"), "virt-expose")
    return work / "venv" / "bin"
