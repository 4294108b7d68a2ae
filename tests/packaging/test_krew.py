"""krew: the manifest as krew's own validator and installer see it, and the plugin krew installs, run through
the link krew made."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.packaging import build_dist
from tests.packaging.conftest import PATIENT, SYSTEM_PATH, VENV_BIN, Built, create_vms, kubeconfig_in_namespace
from tests.sandbox.running import RunningSandbox

# every <os, arch> krew v0.4.3 knows (cmd/validate-krew-manifest allPlatforms), and CPUs beyond them
KREW_PLATFORMS = [("linux", "386"), ("linux", "amd64"), ("linux", "arm"), ("linux", "arm64"),
                  ("darwin", "386"), ("darwin", "amd64"), ("darwin", "arm64")]
OTHER_CPUS = [("linux", "ppc64le"), ("linux", "s390x"), ("linux", "riscv64"), ("linux", "loong64")]
WINDOWS = [("windows", "386"), ("windows", "amd64"), ("windows", "arm64")]


@dataclass
class Krew:
    root: Path
    env: dict[str, str]

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(VENV_BIN / "kubectl"), *args], capture_output=True, text=True, timeout=120,
                              env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL)

    def install(self, built: Built, **env: str) -> subprocess.CompletedProcess[str]:
        return self.run("krew", "install", f"--manifest={built.manifest}", f"--archive={built.archive}", env=env)


def new_krew(directory: Path, krew_programs: dict[str, Path]) -> Krew:
    """A KREW_ROOT of its own, krew as `kubectl krew` (a kubectl-krew link on PATH), no network."""
    tools = directory / "tools"
    tools.mkdir(parents=True)
    (tools / "kubectl-krew").symlink_to(krew_programs["krew"])
    root = directory / "krew-root"
    path = os.pathsep.join([str(tools), str(root / "bin"), str(VENV_BIN), SYSTEM_PATH])
    env = {"HOME": str(directory), "PATH": path, "KREW_ROOT": str(root), "KREW_NO_UPGRADE_CHECK": "1",
           "VIRT_EXPOSE_CACHE": str(directory / "cache"), **PATIENT}
    return Krew(root, env)


@pytest.fixture(scope="module")
def installed(built: Built, krew_programs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Krew:
    krew = new_krew(tmp_path_factory.mktemp("krew"), krew_programs)
    result = krew.install(built)
    assert result.returncode == 0, result.stderr
    assert "Installed plugin: virt-expose" in result.stderr + result.stdout
    assert "python3 (3.9 or newer)" in result.stderr + result.stdout  # the caveats are shown
    return krew


def test_krew_validates_the_manifest(built: Built, krew_programs: dict[str, Path], tmp_path: Path) -> None:
    named = tmp_path / "virt-expose.yaml"  # krew-index takes the plugin's name from the file's
    shutil.copyfile(built.manifest, named)
    result = subprocess.run([str(krew_programs["validate-krew-manifest"]), "-manifest", str(named), "-skip-install"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "no overlapping spec.platform[].selector" in result.stderr


def test_manifest_is_what_krew_index_expects(built: Built) -> None:
    manifest = yaml.safe_load(built.manifest.read_text())
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert manifest["kind"] == "Plugin" and manifest["metadata"]["name"] == "virt-expose"
    spec = manifest["spec"]
    assert spec["version"] == f"v{build_dist.package_version()}"
    assert spec["homepage"].startswith("https://") and spec["shortDescription"] and spec["description"]
    assert "python3 (3.9 or newer)" in spec["caveats"]  # prerequisites only (test_krew_manifest_text.py)
    for platform in spec["platforms"]:
        selector = platform["selector"]
        keys = set(selector.get("matchLabels", {})) | {expr["key"] for expr in selector.get("matchExpressions", [])}
        assert keys <= {"os", "arch"}, selector
        assert platform["bin"] == "oc-virt_expose"
        assert {item["from"] for item in platform["files"]} == {"oc-virt_expose", "LICENSE", "README.md"}


@pytest.mark.parametrize(("goos", "goarch"), KREW_PLATFORMS + OTHER_CPUS + WINDOWS)
def test_krew_picks_one_platform_on_linux_and_macos_on_every_cpu(
        goos: str, goarch: str, built: Built, krew_programs: dict[str, Path], tmp_path: Path) -> None:
    result = new_krew(tmp_path, krew_programs).install(built, KREW_OS=goos, KREW_ARCH=goarch)
    if goos == "windows":
        assert result.returncode != 0
        assert "does not offer installation for this platform" in result.stderr
    else:
        assert result.returncode == 0, result.stderr


def test_licence_lands_in_the_install_folder(installed: Krew) -> None:
    folder = installed.root / "store" / "virt-expose" / f"v{build_dist.package_version()}"
    assert sorted(path.name for path in folder.iterdir()) == ["LICENSE", "README.md", "oc-virt_expose"]
    assert (folder / "LICENSE").read_bytes() == (build_dist.REPO / "LICENSE").read_bytes()


def test_plugin_runs_through_krews_link(installed: Krew) -> None:
    link = installed.root / "bin" / "kubectl-virt_expose"
    assert link.is_symlink()
    version = installed.run("virt-expose", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"virt-expose {build_dist.package_version()}\n"
    usage = installed.run("virt-expose", "--help")
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith("usage: kubectl virt-expose [expose] TYPE NAME")


def test_completion_link_the_readme_describes_works(installed: Krew, built: Built) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (command,) = re.findall(r"`(ln -sf [^`]*kubectl_complete-virt_expose\")`", readme)
    subprocess.run(["sh", "-c", command], env=installed.env, check=True)
    result = installed.run("__complete", "virt-expose", "")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == ":4"
    assert [line.split("\t")[0] for line in result.stdout.splitlines()[:-1]] == [
        "expose", "list", "delete", "vm", "vmi", "vmirs"]
    assert not re.search(r"(?i)error|traceback", result.stderr)


@pytest.mark.sandbox
def test_krew_installed_plugin_exposes_a_vm(installed: Krew, sandbox: RunningSandbox, namespace: str) -> None:
    create_vms(sandbox, namespace, "krew-vm")
    env = {"KUBECONFIG": str(sandbox.kubeconfig)}
    result = installed.run("virt-expose", "vm", "krew-vm", "-n", namespace, "--port", "80", env=env)
    assert result.returncode == 0, result.stderr
    service = sandbox.get("service", "krew-vm", namespace=namespace)
    assert [port["port"] for port in service["spec"]["ports"]] == [80]


@pytest.mark.sandbox
def test_krew_installed_plugin_completes_vm_names(installed: Krew, sandbox: RunningSandbox, namespace: str,
                                                  tmp_path: Path) -> None:
    create_vms(sandbox, namespace, "first-vm", "second-vm")
    link = installed.root / "bin" / "kubectl_complete-virt_expose"
    if not link.exists():
        link.symlink_to(installed.root / "bin" / "kubectl-virt_expose")
    env = {"KUBECONFIG": str(kubeconfig_in_namespace(sandbox, namespace, tmp_path))}
    result = installed.run("__complete", "virt-expose", "vm", "", env=env)
    assert result.stdout.splitlines() == ["first-vm", "second-vm", ":4"], result.stderr
