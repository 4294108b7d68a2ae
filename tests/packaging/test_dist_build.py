"""`make dist`: one reproducible file that runs with nothing but python3, compiles once, unpacks lazily."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

from packaging.specifiers import SpecifierSet

from tests.packaging import build_dist
from tests.packaging.conftest import VENV_BIN, Built, build_into, clean_env

NATIVE = (".so", ".pyd", ".dylib", ".dll", ".pyc")
# every top-level name in the file: the start-up, the plugin and its runtime dependencies PyYAML and shtab
# (no `kubernetes`: a test dependency, which no command imports)
TOP_LEVEL = {"__main__", "_virt_expose_start", "deps.zip", "oc_virt_expose", "yaml", "shtab"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(built: Built, *args: str, cache: Path, python: str | None = None, **env: str) -> subprocess.CompletedProcess:
    command = [python, str(built.executable)] if python else [str(built.executable)]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120,
                          env=clean_env(VIRT_EXPOSE_CACHE=str(cache), **env))


def test_two_builds_are_byte_for_byte_identical(built: Built, tmp_path: Path) -> None:
    again = build_into(tmp_path / "again")
    for first, second in ((built.executable, again.executable), (built.archive, again.archive),
                          (built.manifest, again.manifest)):
        assert sha256(first) == sha256(second), first.name


def test_manifest_gets_the_archive_sha256_and_the_version(built: Built) -> None:
    text = built.manifest.read_text()
    assert re.findall(r"sha256: (\S+)", text) == [sha256(built.archive)] * 2
    assert f"version: v{build_dist.package_version()}\n" in text
    assert text.count(f"/download/v{build_dist.package_version()}/virt-expose.tar.gz") == 2


def test_krew_archive_holds_the_executable_licence_and_readme(built: Built) -> None:
    with tarfile.open(built.archive) as archive:
        members = {member.name: member for member in archive.getmembers()}
        assert sorted(members) == ["LICENSE", "README.md", "oc-virt_expose"]
        assert members["oc-virt_expose"].mode == 0o755
        assert archive.extractfile("oc-virt_expose").read() == built.executable.read_bytes()
    assert built.archive.read_bytes()[4:8] == b"\0\0\0\0"  # no time in the gzip header


def test_executable_is_one_pure_python_file(built: Built) -> None:
    data = built.executable.read_bytes()
    assert data.startswith(b"#!/usr/bin/env python3\n")
    assert os.access(built.executable, os.X_OK)
    with zipfile.ZipFile(built.executable) as outer:
        names = outer.namelist()
        assert names == sorted(names)
        assert {info.date_time for info in outer.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        with zipfile.ZipFile(io.BytesIO(outer.read("deps.zip"))) as inner:
            nested = inner.namelist()
            metadata = [inner.read(name).decode() for name in nested if name.endswith(".dist-info/METADATA")]
    everything = names + nested
    assert not [name for name in everything if name.endswith(NATIVE)]
    top_level = {name.split("/")[0].removesuffix(".py") for name in everything if ".dist-info" not in name}
    assert top_level == TOP_LEVEL
    assert "oc_virt_expose/cli/main.py" in names and "__main__.py" in names and "yaml/__init__.py" in names
    for text in metadata:  # the bundled distributions run on the oldest Python we support
        requires = re.search(r"^Requires-Python: (.+)$", text, re.M)
        assert requires is None or "3.9" in SpecifierSet(requires.group(1)), requires.group(1)


def test_runs_with_the_system_python3_outside_any_venv(built: Built, tmp_path: Path) -> None:
    env = clean_env()
    python3 = shutil.which("python3", path=env["PATH"])
    assert python3 and ".venv" not in python3
    result = run(built, "--help", cache=tmp_path / "cache")  # through the shebang
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: oc virt-expose [expose] TYPE NAME")
    assert run(built, "--version", cache=tmp_path / "cache").stdout == f"virt-expose {build_dist.package_version()}\n"


def test_help_unpacks_only_the_plugin_and_later_runs_compile_nothing(built: Built, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = run(built, "--help", cache=cache, PYTHONDONTWRITEBYTECODE="1")
    assert first.returncode == 0, first.stderr
    (build,) = cache.iterdir()
    assert sorted(path.name for path in build.iterdir()) == ["app"]  # not the bundled dependencies
    assert list((build / "app" / "oc_virt_expose" / "cli" / "__pycache__").glob("main.*.pyc"))
    python3 = shutil.which("python3", path=clean_env()["PATH"])
    second = run(built, "--help", cache=cache, python=python3, PYTHONDONTWRITEBYTECODE="1", PYTHONVERBOSE="1")
    assert second.returncode == 0, second.stderr
    loaded = re.findall(rf"^# code object from '?({re.escape(str(cache))}\S*?)'?$", second.stderr, re.M)
    assert loaded and all(path.endswith(".pyc") for path in loaded), loaded  # none compiled from source
    assert any("/oc_virt_expose/cli/__pycache__/main." in path for path in loaded)


def test_bundled_dependencies_unpack_on_first_import(built: Built, tmp_path: Path) -> None:
    """What generating completion scripts sees: shtab from deps.zip, unpacked when first imported; and
    nothing of the machine's site-packages (the test venv has kubernetes) leaks in."""
    probe = f"""
import runpy, sys
start = runpy.run_path({str(built.executable)!r}, run_name="probe")  # __main__.py with another name
sys.path.insert(0, {str(built.executable)!r})
import _virt_expose_start as boot
boot._isolate()
sys.meta_path.insert(0, boot._Bundle({str(built.executable)!r}, start["root"] + "/deps"))
import shtab
print(shtab.__version__, shtab.__file__)
try:
    import kubernetes
except ModuleNotFoundError:
    print("no-kubernetes")
"""
    python3 = shutil.which("python3", path=clean_env()["PATH"])
    site_packages = subprocess.run([str(VENV_BIN / "python"), "-c", "import kubernetes, os; print(os.path.dirname("
                                    "os.path.dirname(kubernetes.__file__)))"], capture_output=True, text=True,
                                   check=True).stdout.strip()  # where a leak would come from
    result = subprocess.run([python3, "-c", probe], capture_output=True, text=True, timeout=300,
                            env=clean_env(VIRT_EXPOSE_CACHE=str(tmp_path / "cache"), PYTHONPATH=site_packages))
    assert result.returncode == 0, result.stderr
    version, module, kubernetes = result.stdout.split()
    assert version == "1.13.0"
    assert module.startswith(str(tmp_path / "cache")) and module.endswith("/deps/shtab/__init__.py")
    assert kubernetes == "no-kubernetes"


def test_runs_from_the_archive_where_no_cache_can_be_written(built: Built, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = run(built, "--version", cache=blocker / "cache")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"virt-expose {build_dist.package_version()}\n"
