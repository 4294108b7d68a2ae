"""`make dist`: the one-file executable `dist/oc-virt_expose` and krew's archive `dist/virt-expose.tar.gz`,
whose sha256 and version go into `plugin-manifest.yaml`.

Why here: this is release tooling, not part of the installed package (the wheel stays the plugin alone);
it lives beside the tests that check what it makes, as `tests/sandbox/build.py` does for the sandbox.

- The dependencies are the plugin's runtime ones, PyYAML and shtab (`kubernetes` is a test dependency:
  no command imports it), from `dist-lock.txt`: exact versions and sha256 of the wheels, chosen for
  Python 3.9 (the oldest Python the file runs on; PyYAML 6.0.4 needs 3.10) and pure Python: shtab's
  `py3-none-any` wheel and only the `.py` files of PyYAML's wheel (its C extension is optional). Wheels
  are fetched with pip once into `.cache/dist-wheels` and checked against the lock's hashes.
- Reproducible: entries sorted, fixed timestamps (1980-01-01) and modes, no bytecode inside (each
  interpreter compiles its own into a cache, see `zipapp_start.py`), gzip without name or time. Deflate
  output depends on the zlib version: the same machine image gives the same bytes.

    python -m tests.packaging.build_dist [--out DIR] [--manifest FILE]
    python -m tests.packaging.build_dist --lock     # re-resolve dist-lock.txt (needs PyPI)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LOCK = HERE / "dist-lock.txt"
MAIN = HERE / "zipapp_main.py"  # the archive's __main__.py
START = HERE / "zipapp_start.py"  # the archive's _virt_expose_start.py
WHEELS = REPO / ".cache" / "dist-wheels"
ROOTS = ("PyYAML", "shtab==1.13.0")
PYTHON_FLOOR = "3.9"
EXECUTABLE = "oc-virt_expose"
ARCHIVE = "virt-expose.tar.gz"
SHEBANG = b"#!/usr/bin/env python3\n"
EPOCH = (1980, 1, 1, 0, 0, 0)
EPOCH_SECONDS = 315532800  # 1980-01-01T00:00:00Z
APP_PACKAGES = ("oc_virt_expose", "yaml")  # importable straight from the archive, unpacked on first run
NESTED = "deps.zip"
# pip's selectors for the two kinds of wheel in the lock
_PURE = ("--platform", "any", "--implementation", "py", "--abi", "none")
_PYYAML = ("--platform", "manylinux2014_x86_64", "--implementation", "cp", "--abi", "cp39")


def package_version() -> str:
    text = (REPO / "oc_virt_expose" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if not match:
        raise SystemExit("no __version__ in oc_virt_expose/__init__.py")
    return match.group(1)


# -- the dependency closure -------------------------------------------------------------------------


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True)


def _selectors(requirement: str) -> tuple[str, ...]:
    return _PYYAML if requirement.lower().startswith("pyyaml") else _PURE


def lock() -> None:
    """Resolve ROOTS for Python 3.9 and write each wheel's version and sha256 to dist-lock.txt."""
    with tempfile.TemporaryDirectory() as scratch:
        _pip("download", "--only-binary=:all:", "--python-version", PYTHON_FLOOR, *_PYYAML,
             "-d", scratch, *ROOTS)  # resolves the closure
        resolved = sorted(Path(scratch).glob("*.whl"))
        lines = []
        for wheel in resolved:
            name, version = wheel.name.split("-")[:2]
            requirement = f"{name}=={version}"
            target = Path(scratch) / _selectors(requirement)[1]
            _pip("download", "--no-deps", "--only-binary=:all:", "--python-version", PYTHON_FLOOR,
                 *_selectors(requirement), "-d", str(target), requirement)
            (chosen,) = target.glob(f"{name}-{version}-*.whl")
            lines.append(f"{requirement} --hash=sha256:{hashlib.sha256(chosen.read_bytes()).hexdigest()}")
    header = (f"# The one-file build's dependency closure (python -m tests.packaging.build_dist --lock):\n"
              f"# {', '.join(ROOTS)} resolved for Python {PYTHON_FLOOR}; pure-Python wheels, and PyYAML's\n"
              f"# .py files from its manylinux wheel.\n")
    LOCK.write_text(header + "\n".join(lines) + "\n")


def wheels() -> list[Path]:
    """The locked wheels, downloaded once into .cache/dist-wheels; each one found by its locked sha256."""
    requirements = [line for line in LOCK.read_text().splitlines() if line and not line.startswith("#")]
    wanted = {line.rpartition("sha256:")[2]: line for line in requirements}
    for attempt in (1, 2):
        present = {hashlib.sha256(path.read_bytes()).hexdigest(): path for path in WHEELS.rglob("*.whl")}
        missing = [line for digest, line in wanted.items() if digest not in present]
        if not missing:
            return sorted(present[digest] for digest in wanted)
        if attempt == 2:
            raise SystemExit(f"wheels not found after download: {missing}")
        for selectors in (_PURE, _PYYAML):
            chosen = [line for line in missing if _selectors(line) == selectors]
            if chosen:
                with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
                    listing.write("\n".join(chosen) + "\n")
                    listing.flush()
                    _pip("download", "--no-deps", "--only-binary=:all:", "--require-hashes", "--python-version",
                         PYTHON_FLOOR, *selectors, "-d", str(WHEELS / selectors[1]), "-r", listing.name)
    raise AssertionError("unreachable")


def _wheel_files(path: Path) -> dict[str, bytes]:
    files = {}
    with zipfile.ZipFile(path) as wheel:
        for info in wheel.infolist():
            name = info.filename
            if info.is_dir() or name.endswith((".dist-info/RECORD", ".pyc", ".so", ".pyd", ".dylib")):
                continue
            if name.startswith("_yaml/"):  # PyYAML's shim for its C extension
                continue
            if name.split("/")[0].endswith(".data"):
                raise SystemExit(f"{path.name}: unexpected {name} (data outside the package)")
            files[name] = wheel.read(info)
    return files


# -- archives -----------------------------------------------------------------------------------------


def zip_bytes(files: dict[str, bytes], *, prefix: bytes = b"") -> bytes:
    """A zip with sorted entries, fixed times and modes; `.zip` members stored, the rest deflated."""
    buffer = io.BytesIO()
    buffer.write(prefix)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, EPOCH)
            info.create_system = 3  # unix, whatever the build machine
            info.external_attr = 0o644 << 16
            stored = name.endswith(".zip")
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name], compresslevel=None if stored else 9)
    return buffer.getvalue()


def tar_gz(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A .tar.gz with sorted entries, owner root, fixed times; no name or time in the gzip header."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            data, mode = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, EPOCH_SECONDS
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as stream:
        stream.write(raw.getvalue())
    return packed.getvalue()


def _app_files() -> dict[str, bytes]:
    package = REPO / "oc_virt_expose"
    return {path.relative_to(REPO).as_posix(): path.read_bytes()
            for path in sorted(package.rglob("*.py")) if "__pycache__" not in path.parts}


def _top_level(name: str) -> str | None:
    first = name.split("/")[0]
    if first.endswith((".dist-info", ".data")):
        return None
    return first[:-3] if first.endswith(".py") else first


def executable() -> bytes:
    """The one-file program: a python3 shebang and a zip whose __main__.py is zipapp_main.py."""
    app = _app_files()
    deps: dict[str, bytes] = {}
    for wheel in wheels():
        pyyaml = wheel.name.lower().startswith("pyyaml-")
        for name, data in _wheel_files(wheel).items():
            (app if pyyaml or _top_level(name) in APP_PACKAGES else deps)[name] = data
    nested = zip_bytes(deps)
    digest = hashlib.sha256(nested)  # names the cache folder: a new build never uses an old one's files
    for name, data in sorted({**app, "main": MAIN.read_bytes(), "start": START.read_bytes()}.items()):
        digest.update(name.encode() + b"\0" + data + b"\0")
    build_id = f"{package_version()}-{digest.hexdigest()[:16]}"
    top = sorted({top for name in deps if (top := _top_level(name))})
    app["_virt_expose_start.py"] = _fill(START, '_DEPS: "frozenset[str]" = frozenset()',
                                         f'_DEPS: "frozenset[str]" = frozenset({top!r})')
    main = _fill(MAIN, 'BUILD = "unbuilt"', f'BUILD = "{build_id}"')
    return zip_bytes({**app, NESTED: nested, "__main__.py": main}, prefix=SHEBANG)


def _fill(template: Path, line: str, value: str) -> bytes:
    text = template.read_text()
    if text.count(line) != 1:
        raise SystemExit(f"{template.name}: expected one {line!r}")
    return text.replace(line, value).encode()


def update_manifest(manifest: Path, sha256: str, version: str) -> None:
    """Write the archive's sha256 and the version (also in the download URI) into the krew manifest."""
    text = manifest.read_text()
    text, versions = re.subn(r"(?m)^(  version: )v\S+$", rf"\g<1>v{version}", text)
    text, uris = re.subn(r"(/download/)v[^/\s]+(/)", rf"\g<1>v{version}\g<2>", text)
    text, sums = re.subn(r"(?m)^(    sha256: )\S+$", rf"\g<1>{sha256}", text)
    if versions != 1 or not sums or sums != uris:
        raise SystemExit(f"{manifest}: expected one spec.version and a uri and sha256 per platform")
    manifest.write_text(text)


def build(out: Path, manifest: Path | None) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    program = executable()
    target = out / EXECUTABLE
    target.write_bytes(program)
    target.chmod(0o755)
    archive = out / ARCHIVE
    archive.write_bytes(tar_gz({EXECUTABLE: (program, 0o755),
                                "LICENSE": ((REPO / "LICENSE").read_bytes(), 0o644),
                                "README.md": ((REPO / "README.md").read_bytes(), 0o644)}))
    if manifest is not None:
        update_manifest(manifest, hashlib.sha256(archive.read_bytes()).hexdigest(), package_version())
    return target, archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.packaging.build_dist", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default: dist)")
    parser.add_argument("--manifest", type=Path, default=REPO / "plugin-manifest.yaml",
                        help="krew manifest to update (default: plugin-manifest.yaml)")
    parser.add_argument("--no-manifest", action="store_true", help="leave the manifest alone")
    parser.add_argument("--lock", action="store_true", help="re-resolve dist-lock.txt instead of building")
    args = parser.parse_args(argv)
    if args.lock:
        lock()
        return 0
    for path in build(args.out, None if args.no_manifest else args.manifest):
        print(f"{path} sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
