"""The seed scenario (OpenShift Virtualization 8.3.3) in one command, its re-run, dry runs and -o."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.e2e.plugin_runs import SEED_FLAGS
from tests.e2e.workloads import create_vm, service_or_none, template_labels
from tests.sandbox.audit import RequestCounter
from tests.sandbox.manifests import SEED_NAMESPACE, seed_document
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

SEED_COMMAND = ("vm", "example-vm", *SEED_FLAGS)
SEED_REQUESTS = ["GET virtualmachines", "GET services", "LIST networkpolicies", "POST services",
                 "PATCH virtualmachines", "LIST nodes"]


def test_seed_scenario_end_to_end_and_its_re_run_changes_nothing(
        sandbox: RunningSandbox, seed_namespace: str, virt_expose, requests_made: RequestCounter) -> None:
    first = virt_expose(*SEED_COMMAND, "-n", seed_namespace)
    assert first.code == 0, first
    served = requests_made.requests(user_agent="virt-expose/")  # as the API server's audit log counts them
    assert [request.verb for request in served] == ["get", "get", "list", "create", "patch", "list"]
    assert first.stdout.splitlines()[:3] == [
        "service/example-service created",
        "virtualmachine.kubevirt.io/example-vm labeled",
        "service/example-service verified: its selector special=key matches the VM's template; the VM is "
        "stopped and will serve once started (--start, or virtctl start example-vm)",
    ]
    assert "node port 30000/TCP" in first.stdout
    assert first.verbs() == SEED_REQUESTS  # a stopped VM is verified statically; the nodes give the summary addresses

    service = sandbox.get("service", "example-service", namespace=seed_namespace)
    spec = service["spec"]
    assert spec["type"] == "NodePort"
    assert spec["selector"] == {"special": "key"}
    assert [{k: p[k] for k in ("protocol", "port", "targetPort", "nodePort")} for p in spec["ports"]] == [
        {"protocol": "TCP", "port": 80, "targetPort": 9376, "nodePort": 30000}]
    assert "name" not in spec["ports"][0]
    owner = service["metadata"]["ownerReferences"][0]
    vm = sandbox.get("vm", "example-vm", namespace=seed_namespace)
    assert (owner["kind"], owner["name"], owner["uid"]) == ("VirtualMachine", "example-vm", vm["metadata"]["uid"])
    assert service["metadata"]["labels"]["virt-expose.kubevirt.io/vm"] == "example-vm"
    assert vm["spec"]["template"]["metadata"]["labels"] == {"special": "key"}
    assert vm["spec"]["running"] is False

    requests_made.start()
    again = virt_expose(*SEED_COMMAND, "-n", seed_namespace)
    assert again.code == 0, again
    assert again.stdout.splitlines()[0] == "service/example-service unchanged"
    assert again.verbs() == ["GET virtualmachines", "GET services", "LIST networkpolicies", "LIST nodes"]
    assert len(requests_made.requests(user_agent="virt-expose/")) == 4
    after = sandbox.get("service", "example-service", namespace=seed_namespace)
    assert after["metadata"]["resourceVersion"] == service["metadata"]["resourceVersion"]
    assert sandbox.get("vm", "example-vm", namespace=seed_namespace)["metadata"]["resourceVersion"] == \
        vm["metadata"]["resourceVersion"]


def test_seed_scenario_with_the_contexts_namespace(sandbox: RunningSandbox, seed_namespace: str,
                                                  virt_expose) -> None:
    """The sandbox's kubeconfig has example-namespace as its context's namespace, as `oc project` sets."""
    result = virt_expose(*SEED_COMMAND, verbose=False)
    assert result.code == 0, result
    assert result.stderr == ""
    assert service_or_none(sandbox, SEED_NAMESPACE, "example-service") is not None


def test_dry_run_client_prints_the_service_and_the_vm_change_and_writes_nothing(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, seed_document("example-vm"))
    before = sandbox.get("vm", "example-vm", namespace=namespace)
    result = virt_expose(*SEED_COMMAND, "-n", namespace, "--dry-run=client")
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert lines[:3] == ["service/example-service created (dry run)",
                         "virtualmachine.kubevirt.io/example-vm labeled (dry run)",
                         "  spec.template.metadata.labels: +special=key"]
    printed = yaml.safe_load("\n".join(lines[3:]))
    assert printed["kind"] == "Service" and printed["spec"]["selector"] == {"special": "key"}
    assert all(verb.split()[0] in ("GET", "LIST") for verb in result.verbs()), result.verbs()
    assert service_or_none(sandbox, namespace, "example-service") is None
    after = sandbox.get("vm", "example-vm", namespace=namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_dry_run_server_sends_every_write_as_a_dry_run(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, seed_document("example-vm"))
    result = virt_expose(*SEED_COMMAND, "-n", namespace, "--dry-run=server", "-o", "json")
    assert result.code == 0, result
    writes = [r for r in result.requests if not r.startswith("GET ")]
    assert [r.split(" ")[0] for r in writes] == ["POST", "PATCH"]
    assert all("dryRun=All" in r for r in writes), writes
    assert "virtualmachine.kubevirt.io/example-vm labeled (server dry run)" in result.stderr
    assert json.loads(result.stdout)["spec"]["ports"][0]["nodePort"] == 30000
    assert service_or_none(sandbox, namespace, "example-service") is None
    assert template_labels(sandbox, namespace, "example-vm") == {}


def test_output_yaml_prints_the_service_as_created(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, seed_document("example-vm"))
    result = virt_expose("vm", "example-vm", "-n", namespace, "--port", "80", "-o", "yaml")
    assert result.code == 0, result
    printed = yaml.safe_load(result.stdout)
    created = sandbox.get("service", "example-vm", namespace=namespace)
    assert printed["metadata"]["uid"] == created["metadata"]["uid"]
    assert printed["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert printed["spec"]["selector"] == {"kubevirt.io/domain": "example-vm"}
    assert "service/example-vm created" in result.stderr  # change lines leave stdout to the document


def test_output_name(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, seed_document("example-vm"))
    result = virt_expose("vm/example-vm", "-n", namespace, "--port", "80", "-o", "name", "--name", "named")
    assert result.code == 0, result
    assert result.stdout == "service/named\n"


def test_a_different_existing_service_is_refused_and_nothing_changes_then_overwrite_updates_it(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, seed_document("example-vm"))
    sandbox.kubectl("create", "service", "nodeport", "example-service", "--tcp=80:8080", namespace=namespace)
    existing = sandbox.get("service", "example-service", namespace=namespace)

    refused = virt_expose(*SEED_COMMAND, "-n", namespace)
    assert refused.code == 1, refused
    assert refused.stderr.startswith('error: service "example-service" already exists and differs: ')
    assert "--overwrite" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert all(verb.split()[0] in ("GET", "LIST") for verb in refused.verbs())
    assert template_labels(sandbox, namespace, "example-vm") == {}

    updated = virt_expose(*SEED_COMMAND, "-n", namespace, "--overwrite")
    assert updated.code == 0, updated
    assert "service/example-service configured" in updated.stdout
    service = sandbox.get("service", "example-service", namespace=namespace)
    assert service["metadata"]["uid"] == existing["metadata"]["uid"]
    assert service["spec"]["clusterIP"] == existing["spec"]["clusterIP"]
    assert service["spec"]["selector"] == {"special": "key"}
    assert service["spec"]["ports"][0]["targetPort"] == 9376
    assert service["spec"]["ports"][0]["nodePort"] == 30000
