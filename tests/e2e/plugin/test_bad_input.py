"""Bad input: one line, the right exit code, nothing changed, no traceback; usage errors before any request."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.plugin_runs import one_error_line, run_plugin
from tests.e2e.workloads import create_vm
from tests.sandbox.manifests import seed_document
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox


def test_unknown_vm_suggests_close_names(virt_expose) -> None:
    result = virt_expose("vm", "exmple-vm", "-n", "example-namespace", "--port", "80")
    line = one_error_line(result)
    assert line == ('error: Error from server (NotFound): virtualmachines.kubevirt.io "exmple-vm" not found '
                    'in namespace "example-namespace"; did you mean "example-vm"?')
    assert result.verbs() == ["GET virtualmachines", "LIST virtualmachines"]


def test_missing_namespace(virt_expose) -> None:
    result = virt_expose("vm", "example-vm", "-n", "no-such-namespace", "--port", "80")
    assert one_error_line(result) == \
        'error: Error from server (NotFound): namespace "no-such-namespace" not found'


@pytest.mark.parametrize("args, message", [
    (("--port", "eighty"), 'invalid port "eighty"'),
    (("--port", "80", "--protocol", "ICMP"), 'invalid protocol "ICMP"'),
    (("--port", "80", "--type", "ExternalName"), "ExternalName is not supported"),
    (("--port", "80", "--type", "Bogus"), 'invalid --type "Bogus"'),
    (("--port", "80", "--ip-families", "IPv4,IPv6", "--ip-family-policy", "SingleStack"), "SingleStack"),
    (("--port", "80", "--selector", "a!=b"), "equality-based"),
    (("--port", "80", "--name", "Not_A_Name"), 'invalid --name "Not_A_Name"'),
    (("--port", "80", "--restart", "sometimes"), 'invalid --restart "sometimes"'),
])
def test_bad_flags_exit_2_before_any_request(virt_expose, args: tuple[str, ...], message: str) -> None:
    result = virt_expose("vm", "example-vm", *args)
    assert message in one_error_line(result, code=2)
    assert result.requests == []


def test_bad_flags_are_found_even_without_a_cluster(sandbox: RunningSandbox, tmp_path: Path) -> None:
    env = dict(sandbox.env, KUBECONFIG=str(tmp_path / "missing"))
    result = run_plugin(sandbox, "vm", "x", "--port", "0", env=env)
    assert "See 'kubectl virt-expose --help' for usage." in one_error_line(result, code=2)


def test_a_vm_only_on_a_secondary_network_is_refused(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    manifest = seed_document("example-vm")
    manifest["metadata"]["name"] = "multus-only"
    template_spec = manifest["spec"]["template"]["spec"]
    template_spec["networks"] = [{"name": "storage", "multus": {"networkName": "storage-net"}}]
    template_spec["domain"]["devices"]["interfaces"] = [{"name": "storage", "bridge": {}}]
    create_vm(sandbox, namespace, manifest)
    result = virt_expose("vm", "multus-only", "-n", namespace, "--port", "80")
    assert "has no interface on the pod network" in one_error_line(result)
    assert all(verb.split()[0] in ("GET", "LIST") for verb in result.verbs())

