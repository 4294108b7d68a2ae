"""virt-expose as one file: the start-up (`_virt_expose_start` in the archive, run by its `__main__.py`).

The archive (built by `tests/packaging/build_dist.py`) holds:
- `__main__.py` (zipapp_main.py), which puts the cache on sys.path when it is ready and calls `main`;
- `_virt_expose_start.py` (this), `oc_virt_expose/` and `yaml/` (PyYAML's pure-Python half): the plugin
  and what it imports;
- `deps.zip` (stored): the other dependencies, shtab alone today, which only the generation of completion
  scripts imports.

Start-up, so that no run but the first compiles anything, even under PYTHONDONTWRITEBYTECODE=1:
1. site-packages and installed import hooks leave sys.path and sys.meta_path: the bundled copies are the
   ones imported, whatever the machine has installed.
2. The plugin and PyYAML run from `~/.cache/virt-expose/<build>/app` (XDG_CACHE_HOME or
   VIRT_EXPOSE_CACHE move it), unpacked by the first run of any command (~40 files) and compiled for
   the running interpreter into its `__pycache__` (one set per `sys.implementation.cache_tag`, so any
   Python 3.9+ shares the folder) as unchecked-hash .pyc: no mtime in them, no stat of the source.
   Where no cache folder can be written, they run from the archive (compiled in memory at each run).
3. `deps.zip` is unpacked and compiled the same way only when one of its modules is first imported (a
   finder on sys.meta_path): `--help`, `--version` and completion never pay for it.
"""

import os
import sys

_DEPS: "frozenset[str]" = frozenset()  # set by build_dist.py: the top-level modules in deps.zip
_APP = ("_virt_expose_start.py", "oc_virt_expose/", "yaml/")
_NESTED = "deps.zip"
# completion.dispatch's cases, checked here so that other commands do not import it
_COMPLETERS = ("kubectl_complete-", "oc_complete-")
_HIDDEN = (["__complete"], ["__complete_tcsh"])


def _unpack(archive: str, target: str, nested: bool) -> bool:
    """Unpack into `target` once (atomically) and compile it for this interpreter; False if impossible."""
    tag = sys.implementation.cache_tag
    marker = os.path.join(target, f".compiled-{tag}")
    if os.path.exists(marker):
        return True
    try:
        if not os.path.isdir(target):
            _extract(archive, target, nested)
        if tag:
            import compileall
            import py_compile

            compileall.compile_dir(target, quiet=2, workers=1,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            open(marker, "w").close()
        return True
    except OSError:
        return False


def _extract(archive: str, target: str, nested: bool) -> None:
    import shutil
    import tempfile
    import zipfile

    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=".unpacking-", dir=parent)
    try:
        with zipfile.ZipFile(archive) as outer:
            if nested:
                with outer.open(_NESTED) as stored, zipfile.ZipFile(stored) as inner:  # seekable: stored
                    inner.extractall(partial)
            else:
                outer.extractall(partial, [name for name in outer.namelist() if name.startswith(_APP)])
        try:
            os.rename(partial, target)
        except OSError:
            if not os.path.isdir(target):  # else another process unpacked the same build first
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _temporary(archive: str) -> str:
    """Where no cache can be written: the closure unpacked for this run only."""
    import atexit
    import shutil
    import tempfile

    target = os.path.join(tempfile.mkdtemp(prefix="virt-expose-"), "deps")
    atexit.register(shutil.rmtree, os.path.dirname(target), True)
    _extract(archive, target, nested=True)
    return target


class _Bundle:
    """Finds the modules of deps.zip, unpacking it on first use."""

    def __init__(self, archive: str, target: str) -> None:
        self.archive = archive
        self.target = target
        self.path = ""

    def find_spec(self, name: str, path: object = None, target: object = None):  # -> ModuleSpec | None
        if path is not None or name not in _DEPS:
            return None
        if not self.path:
            unpacked = _unpack(self.archive, self.target, nested=True)
            self.path = self.target if unpacked else _temporary(self.archive)
            sys.path.insert(1, self.path)  # for importlib.metadata and path scans; order after the app
        from importlib.machinery import PathFinder

        return PathFinder.find_spec(name, [self.path])

    def invalidate_caches(self) -> None:
        pass


def _isolate() -> None:
    """Only the standard library besides what this archive brings."""
    sys.path[:] = [entry for entry in sys.path
                   if os.path.basename(entry.rstrip("/\\")) not in ("site-packages", "dist-packages")]
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if getattr(finder, "__module__", "").startswith(("_frozen_importlib", "importlib"))]


def main(archive: str, root: str) -> int:
    """Run the plugin from the archive at `archive`, with its cache in `root` (`<cache>/<build>`)."""
    _isolate()
    app = os.path.join(root, "app")
    if _unpack(archive, app, nested=False):  # else the archive, first on sys.path, serves them
        sys.path[:] = [app] + [entry for entry in sys.path if entry != app and os.path.abspath(entry) != archive]
    sys.meta_path.insert(0, _Bundle(archive, os.path.join(root, "deps")))

    code = None
    if os.path.basename(sys.argv[0]).startswith(_COMPLETERS) or sys.argv[1:2] in _HIDDEN:
        from oc_virt_expose.cli.completion import dispatch

        code = dispatch(sys.argv[0], sys.argv[1:])
    if code is None:
        from oc_virt_expose.cli import main as run

        code = run()
    return code
