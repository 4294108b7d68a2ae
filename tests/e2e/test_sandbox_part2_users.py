"""The sandbox's users (contexts of its kubeconfig, see tests/sandbox/users.py): each kind of credential works
through the real kubectl and the Python client, and the API server's own 401 and 403 answer the others,
on its own resources and on virt-api's aggregated API alike."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, config

from tests.conftest import RunningSandbox
from tests.sandbox.audit import RequestCounter

pytestmark = pytest.mark.sandbox

SEED = "example-namespace"
RESTRICTED = f"system:serviceaccount:{SEED}:restricted"
RESTART = f"/apis/subresources.kubevirt.io/v1/namespaces/{SEED}/virtualmachines/web-vm/restart"


def whoami(sandbox: RunningSandbox, context: str) -> dict:
    return json.loads(sandbox.kubectl("auth", "whoami", "-o", "json", context=context).stdout)["status"]["userInfo"]


def test_contexts_of_the_kubeconfig(sandbox: RunningSandbox) -> None:
    contexts = sandbox.kubectl("config", "get-contexts", "-o", "name").stdout.split()
    assert {"sandbox", "restricted", "cert-user", "exec-user", "anonymous", "bad-token"} <= set(contexts)
    assert sandbox.kubectl("config", "current-context").stdout.strip() == "sandbox"
    view = json.loads(sandbox.kubectl("config", "view", "-o", "json").stdout)
    assert {c["context"]["namespace"] for c in view["contexts"]} == {SEED}


def test_restricted_user_reads_its_namespace_and_nothing_more(sandbox: RunningSandbox,
                                                             requests_made: RequestCounter) -> None:
    assert whoami(sandbox, "restricted")["username"] == RESTRICTED
    listing = sandbox.kubectl("get", "vm,vmi,pods,services,endpointslices", context="restricted").stdout
    assert "virtualmachine.kubevirt.io/example-vm" in listing and "service/" not in listing.split("NAME")[0]
    denied = {
        "other namespace": ["get", "vm", "-n", "other-namespace"],
        "write": ["label", "vm", "example-vm", "x=y"],
        "secrets": ["get", "secrets"],
        "aggregated API": ["replace", "--raw", RESTART, "-f", "-"],
    }
    for what, args in denied.items():
        result = sandbox.kubectl(*args, context="restricted", check=False, input="{}")
        assert result.returncode != 0 and "(Forbidden)" in result.stderr, (what, result.stderr)
    assert "cannot update resource \"virtualmachines/restart\" in API group \"subresources.kubevirt.io\"" in \
        sandbox.kubectl("replace", "--raw", RESTART, "-f", "-", context="restricted", check=False, input="{}").stderr
    forbidden = [r for r in requests_made.requests(user=RESTRICTED) if r.code == 403]
    assert [(r.verb, r.path) for r in forbidden] == [
        ("get", "/apis/kubevirt.io/v1/namespaces/other-namespace/virtualmachines"),
        ("patch", f"/apis/kubevirt.io/v1/namespaces/{SEED}/virtualmachines/example-vm"),
        ("list", f"/api/v1/namespaces/{SEED}/secrets"),
        ("update", RESTART),
        ("update", RESTART),
    ]
    assert sandbox.get("vm", "web-vm", namespace=SEED)["status"]["printableStatus"] == "Running"


def test_anonymous_and_unknown_token(sandbox: RunningSandbox, requests_made: RequestCounter) -> None:
    anonymous = sandbox.kubectl("get", "pods", context="anonymous", check=False)
    assert "(Forbidden)" in anonymous.stderr and "User \"system:anonymous\" cannot list resource" in anonymous.stderr
    for args in (["get", "pods"], ["replace", "--raw", RESTART, "-f", "-"]):
        unknown = sandbox.kubectl(*args, context="bad-token", check=False, input="{}")
        assert unknown.returncode != 0 and "Unauthorized" in unknown.stderr, unknown.stderr
    codes = {(r.user, r.code) for r in requests_made.requests(user_agent="kubectl/") if r.code in (401, 403)}
    assert codes == {("system:anonymous", 403), ("", 401)}


def test_client_certificate_user(sandbox: RunningSandbox, namespace: str) -> None:
    user = whoami(sandbox, "cert-user")
    assert user["username"] == "sandbox-cert-user" and "kubeadm:cluster-admins" in user["groups"]
    sandbox.kubectl("create", "configmap", "made-by-cert", "-n", namespace, context="cert-user")
    created = sandbox.get("configmap", "made-by-cert", namespace=namespace)
    assert created["metadata"]["managedFields"][0]["manager"] == "kubectl-create"
    assert sandbox.kubectl("auth", "can-i", "update", "virtualmachines/restart", "--subresource", "",
                           "-n", namespace, context="cert-user", check=False).stdout.strip() == "yes"


def test_exec_plugin_user_with_kubectl_and_the_python_client(sandbox: RunningSandbox) -> None:
    assert whoami(sandbox, "exec-user")["username"] == "system:serviceaccount:default:sandbox-exec-user"
    assert "example-vm" in sandbox.kubectl("get", "vm", "-o", "name", context="exec-user").stdout
    api = client.CustomObjectsApi(config.new_client_from_config(str(sandbox.kubeconfig), context="exec-user"))
    vms = api.list_namespaced_custom_object("kubevirt.io", "v1", SEED, "virtualmachines")
    assert "example-vm" in {vm["metadata"]["name"] for vm in vms["items"]}
    denied = sandbox.kubectl("get", "nodes", context="exec-user", check=False)  # `edit` is namespaced
    assert "(Forbidden)" in denied.stderr
