"""Clusters that lack an API the plugin can use: KubeVirt not installed (every command says so, before
any write), OpenShift's Routes absent (`list` shows no Route, `--route` is refused: see
test_expose_route.py)."""

from __future__ import annotations

import pytest

from tests.e2e.plugin_runs import run_plugin
from tests.e2e.workloads import create_vm
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

NO_KUBEVIRT = ("the server has no kubevirt.io/v1 API (virtualmachines.kubevirt.io not found): "
               "is OpenShift Virtualization / KubeVirt installed?")


@pytest.mark.sandbox(kubevirt=None, seed="empty")
@pytest.mark.parametrize("command", [("vm", "web", "--port", "80"), ("vm", "a", "b", "--port", "80"),
                                     ("list",), ("delete", "vm", "web")])
def test_without_kubevirt_every_command_says_so(command: tuple[str, ...], sandbox: RunningSandbox,
                                                namespace: str) -> None:
    result = run_plugin(sandbox, *command, "-n", namespace)
    assert result.code == 1, result
    assert result.stderr == f"error: {NO_KUBEVIRT}\n"
    assert all(request.split()[0] == "GET" for request in result.requests)


@pytest.mark.sandbox(route_api=False)
def test_without_the_route_api_list_shows_no_route(sandbox: RunningSandbox, namespace: str) -> None:
    create_vm(sandbox, namespace, vm_manifest("plain", running=False))
    assert run_plugin(sandbox, "vm", "plain", "-n", namespace, "--port", "80").code == 0
    result = run_plugin(sandbox, "list", "-n", namespace)
    assert result.code == 0, result
    header, row = result.stdout.splitlines()
    assert row.split()[:2] == ["plain", "plain"]
    assert row.split()[header.split().index("ROUTE")] == "<none>"
    assert result.stderr == ""
