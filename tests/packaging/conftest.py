"""Fixtures of the packaging tests: the built dist/, krew's programs, shells, a kubeconfig, VMs to complete
and expose, the Python interpreters of this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.workloads import create_vm
from tests.packaging import build_dist
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# Completion gives up after 0.8 s (test_shell_completion checks that); tests of what it offers give it more,
# since the sandbox's own processes can keep a 2-core CI machine busy for seconds.
PATIENT = {"VIRT_EXPOSE_COMPLETION_TIMEOUT": "10"}
KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: alpha
contexts:
- name: alpha
  context: {{cluster: local, user: someone, namespace: first-ns}}
- name: beta
  context: {{cluster: local, user: someone, namespace: second-ns}}
clusters:
- name: local
  cluster: {{server: "{server}"}}
users:
- name: someone
  user: {{}}
"""


@dataclass(frozen=True)
class Built:
    executable: Path
    archive: Path
    manifest: Path  # a copy of plugin-manifest.yaml with this build's sha256


def build_into(directory: Path) -> Built:
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "plugin-manifest.yaml"
    shutil.copyfile(REPO / "plugin-manifest.yaml", manifest)
    executable, archive = build_dist.build(directory, manifest)
    return Built(executable, archive, manifest)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """`make dist`'s work, into a temporary folder (the repository's dist/ and manifest stay as they are)."""
    return build_into(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def krew_programs() -> dict[str, Path]:
    """krew v0.4.3's own programs, built from its Go module (cached like the sandbox's; see build.py)."""
    from tests.sandbox.build import binary

    return {name: binary(name) for name in ("krew", "validate-krew-manifest")}


@pytest.fixture(scope="session")
def zsh() -> str:
    """Debian's zsh, installed with apt-get when the machine lacks it (CI machines start fresh)."""
    found = shutil.which("zsh")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("zsh is missing and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "zsh"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    found = shutil.which("zsh")
    assert found, "apt-get installed zsh, but it is not on PATH"
    return found


@pytest.fixture
def offline_kubeconfig(tmp_path: Path) -> Path:
    """Two contexts (namespaces first-ns, second-ns) on a server where nothing listens."""
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server="http://127.0.0.1:9"))
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no venv, no Python settings of this test run."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "VIRTUAL_ENV", "KUBECONFIG", "PYTEST", "COV_"))}
    env["PATH"] = os.pathsep.join(entry for entry in env.get("PATH", SYSTEM_PATH).split(os.pathsep)
                                  if Path(entry).resolve() != VENV_BIN.resolve())
    env.update(extra)
    return env


def create_vms(sandbox: RunningSandbox, namespace: str, *names: str, running: bool = False) -> None:
    """Small VMs on the pod network; stopped, or running and waited for until Ready."""
    for name in names:
        create_vm(sandbox, namespace, vm_manifest(name, running=running))


def kubeconfig_in_namespace(sandbox: RunningSandbox, namespace: str, directory: Path) -> Path:
    """A copy of the sandbox's kubeconfig whose current context points at `namespace`."""
    copy = directory / "kubeconfig-in-namespace"
    shutil.copyfile(sandbox.kubeconfig, copy)
    subprocess.run([str(VENV_BIN / "kubectl"), "--kubeconfig", str(copy), "config", "set-context", "--current",
                    "--namespace", namespace], check=True, capture_output=True)
    return copy


def cpython_interpreters() -> dict[tuple[int, int], Path]:
    """This machine's CPython 3 interpreters by version: pyenv's (PYENV_ROOT, else ~/.pyenv) first, then any
    `python3.N` on PATH."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = sorted(pyenv_root.glob("versions/*/bin/python3"))
    candidates += [Path(found) for minor in range(6, 30) if (found := shutil.which(f"python3.{minor}"))]
    interpreters: dict[tuple[int, int], Path] = {}
    which = "import sys; print(sys.implementation.name, *sys.version_info[:2])"
    for candidate in candidates:  # a pyenv shim of a version not selected exits 127: not counted
        probe = subprocess.run([str(candidate), "-c", which], capture_output=True, text=True, timeout=60)
        words = probe.stdout.split()
        if probe.returncode == 0 and len(words) == 3 and words[0] == "cpython":
            interpreters.setdefault((int(words[1]), int(words[2])), candidate)
    return interpreters


@pytest.fixture(scope="session")
def oldest_and_newest_python() -> dict[str, tuple[tuple[int, int], Path]]:
    """The oldest and the newest interpreter found of those the package supports ("oldest", "newest" ->
    (version, path)); the oldest must be the floor itself (python_requires), else the test fails."""
    floor = tuple(int(part) for part in build_dist.PYTHON_FLOOR.split("."))
    supported = {version: path for version, path in cpython_interpreters().items() if version >= floor}
    if floor not in supported:
        found = ", ".join(f"{major}.{minor}" for major, minor in sorted(supported)) or "none"
        pytest.fail(f"no CPython {build_dist.PYTHON_FLOOR} on this machine (looked for $PYENV_ROOT/versions/*/bin/"
                    f"python3 and python3.N on PATH; of the supported versions found: {found}): "
                    f"the package declares Python {build_dist.PYTHON_FLOOR}+ and this test proves it on a real one; "
                    f"install it, e.g. `pyenv install {build_dist.PYTHON_FLOOR}`", pytrace=False)
    newest = max(supported)
    return {"oldest": (floor, supported[floor]), "newest": (newest, supported[newest])}
