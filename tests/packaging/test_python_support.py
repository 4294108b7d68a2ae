"""Python 3.9+ (RHEL 9 and macOS ship 3.9): checked statically (vermin, ruff's target), and on real
interpreters, the oldest supported and the newest this machine has: `pip install .` into a venv of each, and
the one-file build run by each, expose a running VM of the sandbox (verified) and complete VM names through
kubectl. One version number; the console scripts `pip install .` declares."""

from __future__ import annotations

import configparser
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

import oc_virt_expose
from tests.packaging.conftest import (
    PATIENT,
    SYSTEM_PATH,
    Built,
    clean_env,
    create_vms,
    kubeconfig_in_namespace,
)
from tests.packaging.install import install_fresh_venv
from tests.sandbox.running import RunningSandbox

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ZIPAPP = [REPO / "tests" / "packaging" / "zipapp_main.py", REPO / "tests" / "packaging" / "zipapp_start.py"]


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config


def test_plugin_and_one_file_start_up_need_nothing_newer_than_python_3_9() -> None:
    result = subprocess.run([str(VENV_BIN / "vermin"), "-q", "--no-tips", "--violations", "-t=3.9-",
                             str(REPO / "oc_virt_expose"), *map(str, ZIPAPP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_and_the_package_say_python_3_9() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["tool"]["ruff"]["target-version"] == "py39"
    assert setup_cfg()["options"]["python_requires"] == ">=3.9"


def test_version_has_one_source() -> None:
    assert setup_cfg()["metadata"]["version"] == "attr: oc_virt_expose.__version__"
    assert importlib.metadata.version("virt-expose") == oc_virt_expose.__version__
    shown = subprocess.run([str(VENV_BIN / "oc-virt_expose"), "--version"], capture_output=True, text=True)
    assert shown.stdout.split() == ["virt-expose", oc_virt_expose.__version__]
    manifest = yaml.safe_load((REPO / "plugin-manifest.yaml").read_text())  # `make dist` writes it
    assert manifest["spec"]["version"] == f"v{oc_virt_expose.__version__}"


def test_pip_install_declares_the_plugin_and_completion_executables() -> None:
    scripts = dict(line.split(" = ") for line in setup_cfg()["options.entry_points"]["console_scripts"].split("\n")
                   if " = " in line)
    assert scripts == {
        "oc-virt_expose": "oc_virt_expose.cli:main",
        "kubectl-virt_expose": "oc_virt_expose.cli:main",
        "kubectl_complete-virt_expose": "oc_virt_expose.cli.completion:kubectl_complete",
        "oc_complete-virt_expose": "oc_virt_expose.cli.completion:kubectl_complete",
    }
    installed = {entry.name for entry in importlib.metadata.entry_points(group="console_scripts")
                 if entry.dist is not None and entry.dist.name == "virt-expose"}
    assert installed == set(scripts)


@pytest.fixture(scope="module", params=["oldest", "newest"])
def python(request: pytest.FixtureRequest,
           oldest_and_newest_python: dict[str, tuple[tuple[int, int], Path]]) -> tuple[tuple[int, int], Path]:
    return oldest_and_newest_python[request.param]


@pytest.fixture(scope="module")
def pip_installed(python: tuple[tuple[int, int], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m venv` and that venv's `pip install .`: its bin folder."""
    return install_fresh_venv(tmp_path_factory.mktemp("pip-install"), python[1])


def tools(folder: Path, **links: Path) -> Path:
    """A folder of symbolic links for PATH: kubectl (the test venv's) and `links` (name -> target)."""
    folder.mkdir()
    for name, target in {"kubectl": VENV_BIN / "kubectl", **links}.items():
        (folder / name).symlink_to(target)
    return folder


def expose_and_complete(sandbox: RunningSandbox, namespace: str, folder: Path,
                        env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`kubectl virt-expose vm running-vm` on a running VM, then `kubectl virt-expose vm <TAB>` through
    kubectl's plugin-completion helper, as a user of the plugin on `env`'s PATH runs them."""
    create_vms(sandbox, namespace, "running-vm", running=True)
    create_vms(sandbox, namespace, "stopped-vm")
    exposed = subprocess.run(["kubectl", "virt-expose", "vm", "running-vm", "-n", namespace, "--port", "80"],
                             capture_output=True, text=True, timeout=180,
                             env={**env, "KUBECONFIG": str(sandbox.kubeconfig)})
    in_namespace = {**env, "KUBECONFIG": str(kubeconfig_in_namespace(sandbox, namespace, folder))}
    completed = subprocess.run(["kubectl", "__complete", "virt-expose", "vm", ""], capture_output=True, text=True,
                               timeout=60, env=in_namespace)
    return exposed, completed.stdout.splitlines()


def test_pip_install_pulls_only_pyyaml_and_shtab(pip_installed: Path) -> None:
    listed = subprocess.run([str(pip_installed / "python"), "-c", "from importlib.metadata import distributions; "
                             "print(*sorted({d.metadata['Name'] for d in distributions()}))"],
                            capture_output=True, text=True, check=True).stdout.split()
    venv_own = {"pip", "setuptools"}  # setuptools: 3.9's venvs come with it
    assert set(listed) - venv_own == {"PyYAML", "shtab", "virt-expose"}


@pytest.mark.sandbox
def test_pip_install_on_the_oldest_and_newest_python_exposes_and_completes(
        python: tuple[tuple[int, int], Path], pip_installed: Path, sandbox: RunningSandbox, namespace: str,
        tmp_path: Path) -> None:
    version, _ = python
    ran_by = subprocess.run([str(pip_installed / "python"), "-c", "import sys; print(*sys.version_info[:2])"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert tuple(map(int, ran_by)) == version
    env = clean_env(PATH=f"{pip_installed}:{tools(tmp_path / 'tools')}:{SYSTEM_PATH}", HOME=str(tmp_path),
                    **PATIENT)
    exposed, offered = expose_and_complete(sandbox, namespace, tmp_path, env)
    assert exposed.returncode == 0, exposed.stderr
    assert "service/running-vm verified: 1 ready endpoint" in exposed.stdout, exposed.stdout
    assert offered == ["running-vm", "stopped-vm", ":4"]


@pytest.mark.sandbox
def test_one_file_build_on_the_oldest_and_newest_python_exposes_and_completes(
        python: tuple[tuple[int, int], Path], built: Built, sandbox: RunningSandbox, namespace: str,
        tmp_path: Path) -> None:
    version, interpreter = python
    # installed as krew does, with the completion helper linked to it as its caveats say; `python3` is this one
    folder = tools(tmp_path / "tools", python3=interpreter, **{"kubectl-virt_expose": built.executable,
                                                                 "kubectl_complete-virt_expose": built.executable})
    cache = tmp_path / "cache"
    env = clean_env(PATH=f"{folder}:{SYSTEM_PATH}", HOME=str(tmp_path), VIRT_EXPOSE_CACHE=str(cache), **PATIENT)
    exposed, offered = expose_and_complete(sandbox, namespace, tmp_path, env)
    assert exposed.returncode == 0, exposed.stderr
    assert "service/running-vm verified: 1 ready endpoint" in exposed.stdout, exposed.stdout
    assert offered == ["running-vm", "stopped-vm", ":4"]
    (build,) = cache.iterdir()  # compiled by the interpreter that ran it, for its version only
    compiled = [marker.name for marker in (build / "app").glob(".compiled-*")]
    assert compiled == [f".compiled-cpython-{version[0]}{version[1]}"]
