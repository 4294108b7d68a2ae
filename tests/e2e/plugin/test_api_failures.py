"""Failures of the cluster and of the way to it, against the real API server (and its fault proxy): refused
credentials and rights, a refused Service, no answer or no trusted one, server errors after a write. Each is
one line with the right exit code and no traceback, and nothing is left half-done without saying so and
saying that re-running the same command finishes the job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oc_virt_expose.model.network import unread_policies_warning
from tests.e2e.plugin_runs import SEED_FLAGS, one_error_line, run_plugin
from tests.e2e.sandbox_infrastructure import FAULTS_CONTEXT, FaultProxy
from tests.e2e.workloads import create_vm, service_or_none, template_labels
from tests.sandbox.manifests import SEED_NAMESPACE, seed_document, vm_manifest
from tests.sandbox.pki import CertificateAuthority
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

CLUSTER_IP_FLAGS = ("--name", "example-service", "--selector", "special=key", "--port", "80", "--target-port",
                    "9376")  # the seed's flags without its node port, which is one for the whole cluster
RE_RUN = "re-running the same command finishes the job"


def server_of(sandbox: RunningSandbox, context: str = "sandbox") -> str:
    config = json.loads(sandbox.kubeconfig.read_text())
    cluster = next(c["context"]["cluster"] for c in config["contexts"] if c["name"] == context)
    return str(next(c["cluster"]["server"] for c in config["clusters"] if c["name"] == cluster))


# -- credentials and rights ------------------------------------------------------------------------------

def test_401_says_the_credentials_were_rejected_and_to_log_in_again(sandbox: RunningSandbox) -> None:
    result = run_plugin(sandbox, "vm", "example-vm", "--port", "80", "--context", "bad-token")
    line = one_error_line(result)
    assert line.startswith("error: You must be logged in to the server (Unauthorized): ")
    assert server_of(sandbox, "bad-token") in line and "rejected the credentials" in line
    assert "log in again" in line
    assert result.verbs() == ["GET virtualmachines"]


def test_403_at_the_first_write_names_verb_and_resource_and_changes_nothing(sandbox: RunningSandbox) -> None:
    """`restricted` may only read in example-namespace: the Service (the first write) is refused."""
    vm_before = sandbox.get("vm", "example-vm", namespace=SEED_NAMESPACE)
    result = run_plugin(sandbox, "vm", "example-vm", *SEED_FLAGS, "--context", "restricted")
    line = one_error_line(result, warnings=[unread_policies_warning(SEED_NAMESPACE)])
    assert line.startswith("error: Error from server (Forbidden): ")
    assert 'cannot create resource "services"' in line and "system:serviceaccount:" in line
    assert "done before the failure" not in line  # nothing was done
    vm_after = sandbox.get("vm", "example-vm", namespace=SEED_NAMESPACE)
    assert vm_after["metadata"]["resourceVersion"] == vm_before["metadata"]["resourceVersion"]
    assert service_or_none(sandbox, SEED_NAMESPACE, "example-service") is None


def test_403_on_the_service_names_create_services_and_changes_nothing(sandbox: RunningSandbox) -> None:
    """web-vm runs on KubeVirt 1.7: its pod's id label is the selector, so the Service is the only write."""
    vm_before = sandbox.get("vm", "web-vm", namespace=SEED_NAMESPACE)
    result = run_plugin(sandbox, "vm", "web-vm", "--name", "web-refused", "--context", "restricted")
    line = one_error_line(result, warnings=[unread_policies_warning(SEED_NAMESPACE)])
    assert line.startswith("error: Error from server (Forbidden): ")
    assert 'cannot create resource "services"' in line
    assert "POST services" in result.verbs()
    assert sandbox.get("vm", "web-vm", namespace=SEED_NAMESPACE)["metadata"]["resourceVersion"] == \
        vm_before["metadata"]["resourceVersion"]
    assert service_or_none(sandbox, SEED_NAMESPACE, "web-refused") is None


# -- the server refuses the Service ----------------------------------------------------------------------

def test_422_gives_the_servers_field_message(sandbox: RunningSandbox, namespace: str) -> None:
    create_vm(sandbox, namespace, vm_manifest("ranged"))
    result = run_plugin(sandbox, "vm", "ranged", "-n", namespace, "--port", "80", "--type", "NodePort",
                        "--node-port", "20000")
    line = one_error_line(result)
    assert line.startswith('error: The Service "ranged" is invalid: spec.ports[0].nodePort: ')
    assert "provided port is not in the valid range" in line
    assert service_or_none(sandbox, namespace, "ranged") is None


def test_a_refused_service_comes_before_the_vm_is_labeled(sandbox: RunningSandbox, namespace: str) -> None:
    """The Service is the first write: what the API server refuses of it leaves the VM as it was."""
    create_vm(sandbox, namespace, seed_document("example-vm"))
    flags = [*SEED_FLAGS[:-1], "20000"]
    result = run_plugin(sandbox, "vm", "example-vm", "-n", namespace, *flags)
    line = one_error_line(result)
    assert "provided port is not in the valid range" in line
    assert "done before the failure" not in line and RE_RUN not in line
    assert template_labels(sandbox, namespace, "example-vm") == {}
    assert service_or_none(sandbox, namespace, "example-service") is None


def test_a_node_port_taken_changes_nothing(sandbox: RunningSandbox, namespace: str, other_namespace: str) -> None:
    """As a new user tried it: the node port is another Service's, the VM is left as it was."""
    create_vm(sandbox, namespace, seed_document("example-vm"))
    taken = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "holder"},
             "spec": {"type": "NodePort", "selector": {"app": "other"},
                      "ports": [{"port": 80, "nodePort": 30999}]}}
    sandbox.apply(taken, other_namespace)
    result = run_plugin(sandbox, "vm", "example-vm", "-n", namespace, "--selector", "other=label", "--type",
                        "NodePort", "--port", "81", "--node-port", "30999")
    line = one_error_line(result)
    assert "provided port is already allocated" in line
    assert "done before the failure" not in line and RE_RUN not in line
    assert [verb for verb in result.verbs() if verb.split()[0] in ("POST", "PATCH", "PUT")] == ["POST services"]
    assert template_labels(sandbox, namespace, "example-vm") == {}


# -- no answer, or no trusted answer ---------------------------------------------------------------------

def test_tls_verification_failure_is_one_line_and_insecure_skip_tls_verify_works(
        sandbox: RunningSandbox, tmp_path: Path) -> None:
    other = CertificateAuthority.create(tmp_path / "other-ca", "not-the-cluster-ca")
    config = json.loads(sandbox.kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["certificate-authority"] = str(other.cert_file)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps(config))
    env = dict(sandbox.env, KUBECONFIG=str(kubeconfig))

    result = run_plugin(sandbox, "vm", "example-vm", "--port", "80", "--dry-run=server", env=env)
    line = one_error_line(result)
    assert server_of(sandbox) in line and "certificate verification" in line
    assert result.requests == []

    insecure = run_plugin(sandbox, "vm", "example-vm", "--port", "80", "--dry-run=server",
                          "--insecure-skip-tls-verify", env=env)
    assert insecure.code == 0, insecure
    assert service_or_none(sandbox, SEED_NAMESPACE, "example-vm") is None  # a dry run


def test_connection_refused_is_one_line(virt_expose) -> None:
    result = virt_expose("vm", "example-vm", "--port", "80", "--server", "https://127.0.0.1:1")
    assert "refused" in one_error_line(result)


def test_timeout_is_one_line(sandbox: RunningSandbox, fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule("delay", method="GET", path="/virtualmachines/example-vm$", seconds=5)
    result = run_plugin(sandbox, "vm", "example-vm", "--port", "80", "--context", FAULTS_CONTEXT,
                        "--request-timeout", "1s")
    line = one_error_line(result)
    assert server_of(sandbox, FAULTS_CONTEXT) in line and "timeout" in line and "1s" in line
    assert template_labels(sandbox, SEED_NAMESPACE, "example-vm") == {}


# -- faults after a write --------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [500, 503])
def test_server_error_on_the_service_changes_nothing_and_re_running_does_the_job(
        sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy, status: int) -> None:
    create_vm(sandbox, namespace, seed_document("example-vm"))
    rule = fault_proxy.add_rule("status", status=status, method="POST", path=f"/namespaces/{namespace}/services$")
    result = run_plugin(sandbox, "vm", "example-vm", "-n", namespace, *CLUSTER_IP_FLAGS, "--context", FAULTS_CONTEXT)
    line = one_error_line(result)
    assert "done before the failure" not in line
    assert fault_proxy.rule(rule["id"])["hits"] == 1  # no Retry-After: not retried
    assert template_labels(sandbox, namespace, "example-vm") == {}
    assert service_or_none(sandbox, namespace, "example-service") is None

    again = run_plugin(sandbox, "vm", "example-vm", "-n", namespace, *CLUSTER_IP_FLAGS, "--context", FAULTS_CONTEXT)
    assert again.code == 0, again
    assert again.stdout.splitlines()[:2] == ["service/example-service created",
                                             "virtualmachine.kubevirt.io/example-vm labeled"]
    assert template_labels(sandbox, namespace, "example-vm") == {"special": "key"}


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_on_the_label_says_what_was_done_and_re_running_finishes(
        sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy, status: int) -> None:
    create_vm(sandbox, namespace, seed_document("example-vm"))
    rule = fault_proxy.add_rule("status", status=status, method="PATCH",
                                path=f"/namespaces/{namespace}/virtualmachines/example-vm$")
    result = run_plugin(sandbox, "vm", "example-vm", "-n", namespace, *CLUSTER_IP_FLAGS, "--context", FAULTS_CONTEXT)
    line = one_error_line(result)
    assert "done before the failure: service/example-service created" in line
    assert line.endswith(f"; {RE_RUN}")
    assert fault_proxy.rule(rule["id"])["hits"] == 1  # no Retry-After: not retried
    assert template_labels(sandbox, namespace, "example-vm") == {}
    service = service_or_none(sandbox, namespace, "example-service")
    assert service is not None

    again = run_plugin(sandbox, "vm", "example-vm", "-n", namespace, *CLUSTER_IP_FLAGS, "--context", FAULTS_CONTEXT)
    assert again.code == 0, again
    assert again.stdout.splitlines()[:2] == ["service/example-service unchanged",
                                             "virtualmachine.kubevirt.io/example-vm labeled"]
    assert template_labels(sandbox, namespace, "example-vm") == {"special": "key"}
    after = service_or_none(sandbox, namespace, "example-service")
    assert after is not None and after["metadata"]["resourceVersion"] == service["metadata"]["resourceVersion"]


def test_429_with_retry_after_is_retried_transparently(
        sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy) -> None:
    create_vm(sandbox, namespace, seed_document("example-vm"))
    rule = fault_proxy.add_rule("status", status=429, retryAfter=1, method="POST",
                                path=f"/namespaces/{namespace}/services$")
    result = run_plugin(sandbox, "vm", "example-vm", "-n", namespace, *CLUSTER_IP_FLAGS, "--context", FAULTS_CONTEXT)
    assert result.code == 0, result
    assert fault_proxy.rule(rule["id"])["hits"] == 1
    assert result.verbs().count("POST services") == 2
    assert result.stdout.splitlines()[0] == "service/example-service created"
    assert "Warning" not in result.stderr and "error" not in result.stderr
