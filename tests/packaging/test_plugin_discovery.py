"""A real install (`install.py`: the wheel built from the sources, into a fresh venv, dependencies resolved by
pip), found by kubectl's own plugin discovery on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from oc_virt_expose import __version__
from tests.packaging.conftest import PATIENT, SYSTEM_PATH, VENV_BIN, create_vms
from tests.packaging.install import install_fresh_venv
from tests.sandbox.running import RunningSandbox

PROGRAMS = ("oc-virt_expose", "kubectl-virt_expose", "kubectl_complete-virt_expose", "oc_complete-virt_expose")


@dataclass
class FreshVenv:
    bin: Path
    env: dict[str, str]

    def run(self, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(command), capture_output=True, text=True, timeout=120,
                              env={**self.env, **(env or {})})


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    work = tmp_path_factory.mktemp("discovery")
    venv_bin = install_fresh_venv(work)
    tools = work / "tools"  # kubectl alone, not the test venv's own copy of the plugin
    tools.mkdir()
    (tools / "kubectl").symlink_to(VENV_BIN / "kubectl")
    env = {"HOME": str(work), "PATH": os.pathsep.join([str(venv_bin), str(tools), SYSTEM_PATH]), **PATIENT}
    return FreshVenv(venv_bin, env)


def test_pip_install_puts_the_plugin_and_completion_helpers_on_path(fresh: FreshVenv) -> None:
    for program in PROGRAMS:
        assert shutil.which(program, path=fresh.env["PATH"]) == str(fresh.bin / program)


def test_kubectl_plugin_list_finds_it(fresh: FreshVenv) -> None:
    result = fresh.run("kubectl", "plugin", "list")
    assert result.returncode == 0, result.stderr
    assert str(fresh.bin / "kubectl-virt_expose") in result.stdout.splitlines()
    assert "warning" not in result.stderr.lower()


def test_kubectl_virt_expose_runs_the_plugin(fresh: FreshVenv) -> None:
    result = fresh.run("kubectl", "virt-expose", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: kubectl virt-expose [expose] TYPE NAME")
    assert fresh.run("kubectl", "virt-expose", "--version").stdout == f"virt-expose {__version__}\n"


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["vm"], ["vm", "x", "--type", "ExternalName"],
                                  ["vm", "x", "--port", "99999"]])
def test_oc_name_behaves_identically(fresh: FreshVenv, args: list[str]) -> None:
    through_kubectl = fresh.run("kubectl", "virt-expose", *args)
    as_oc = fresh.run("oc-virt_expose", *args)
    assert as_oc.returncode == through_kubectl.returncode
    for oc_text, kubectl_text in ((as_oc.stdout, through_kubectl.stdout), (as_oc.stderr, through_kubectl.stderr)):
        assert oc_text == kubectl_text.replace("kubectl virt-expose", "oc virt-expose")


def test_kubectl_completes_the_installed_plugin(fresh: FreshVenv) -> None:
    result = fresh.run("kubectl", "__complete", "virt-expose", "")
    assert result.stdout.splitlines() == [
        "expose", "list", "delete", "vm\tVirtualMachine", "vmi\tVirtualMachineInstance",
        "vmirs\tVirtualMachineInstanceReplicaSet", ":4"]


@pytest.mark.sandbox
def test_kubectl_virt_expose_exposes_a_vm_of_the_sandbox(fresh: FreshVenv, sandbox: RunningSandbox,
                                                          namespace: str) -> None:
    create_vms(sandbox, namespace, "found-vm")
    env = {"KUBECONFIG": str(sandbox.kubeconfig)}
    result = fresh.run("kubectl", "virt-expose", "vm", "found-vm", "-n", namespace, "--port", "80", env=env)
    assert result.returncode == 0, result.stderr
    assert [port["port"] for port in sandbox.get("service", "found-vm", namespace=namespace)["spec"]["ports"]] == [80]
