"""The sandbox's users (contexts of its kubeconfig, see tests/sandbox/users.py): each kind of credential works
through the real kubectl and the Python client, and the API server's own 401 and 403 answer the others,
on its own resources and on virt-api's aggregated API alike."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, config

from tests.sandbox.audit import RequestCounter
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

SEED = "example-namespace"
RESTRICTED = f"system:serviceaccount:{SEED}:restricted"
RESTART = f"/apis/subresources.kubevirt.io/v1/namespaces/{SEED}/virtualmachines/web-vm/restart"


def whoami(sandbox: RunningSandbox, context: str) -> dict:
    return json.loads(sandbox.kubectl("auth", "whoami", "-o", "json", context=context).stdout)["status"]["userInfo"]


def test_contexts_of_the_kubeconfig(sandbox: RunningSandbox) -> None:
    contexts = sandbox.kubectl("config", "get-contexts", "-o", "name").stdout.split()
    assert sorted(contexts) == ["anonymous", "bad-token", "cert-user", "exec-user", "faults", "restricted", "sandbox"]
    assert sandbox.kubectl("config", "current-context").stdout.strip() == "sandbox"
    view = json.loads(sandbox.kubectl("config", "view", "-o", "json").stdout)
    assert {c["context"]["namespace"] for c in view["contexts"]} == {SEED}
    assert whoami(sandbox, "sandbox")["username"] == whoami(sandbox, "faults")["username"] == "sandbox-admin"


def test_restricted_user_reads_its_namespace_and_nothing_more(sandbox: RunningSandbox,
                                                             requests_made: RequestCounter) -> None:
    assert whoami(sandbox, "restricted")["username"] == RESTRICTED
    listing = sandbox.kubectl("get", "vm,vmi,pods,services,endpointslices", "-o", "name", context="restricted")
    assert "virtualmachine.kubevirt.io/web-vm" in listing.stdout.split()
    denied = [
        ["get", "vm", "-n", "other-namespace"],
        ["label", "vm", "example-vm", "x=y"],
        ["get", "secrets"],
        ["replace", "--raw", RESTART, "-f", "-"],  # virt-api's aggregated API, as `virtctl restart` calls it
    ]
    for args in denied:
        result = sandbox.kubectl(*args, context="restricted", check=False, input="{}")
        assert result.returncode != 0 and "Error from server (Forbidden)" in result.stderr, (args, result.stderr)
    assert f'User "{RESTRICTED}" cannot update resource "virtualmachines/restart" in API group ' \
        '"subresources.kubevirt.io"' in result.stderr
    forbidden = [(r.verb, r.path, r.code) for r in requests_made.requests(user=RESTRICTED) if r.code >= 400]
    assert forbidden == [
        ("list", "/apis/kubevirt.io/v1/namespaces/other-namespace/virtualmachines", 403),
        ("patch", f"/apis/kubevirt.io/v1/namespaces/{SEED}/virtualmachines/example-vm", 403),
        ("list", f"/api/v1/namespaces/{SEED}/secrets", 403),
        ("update", RESTART, 403),
    ]


def test_no_credentials_and_an_unknown_token(sandbox: RunningSandbox, requests_made: RequestCounter) -> None:
    """Without credentials, the API server's default anonymous authentication makes the request
    system:anonymous's: 403 (kubectl would prompt for a username in that context, so the Python client asks);
    with a token it does not know: 401."""
    anonymous = client.CoreV1Api(config.new_client_from_config(str(sandbox.kubeconfig), context="anonymous"))
    with pytest.raises(client.ApiException) as denied:
        anonymous.list_namespaced_pod(SEED)
    message = json.loads(denied.value.body)["message"]
    assert denied.value.status == 403 and message.startswith('pods is forbidden: User "system:anonymous" cannot list')
    for args in (["get", "pods"], ["replace", "--raw", RESTART, "-f", "-"]):
        unknown = sandbox.kubectl(*args, context="bad-token", check=False, input="{}")
        assert unknown.returncode != 0 and "error: You must be logged in to the server (Unauthorized)" in \
            unknown.stderr, unknown.stderr
    refused = requests_made.requests(user="system:anonymous") + requests_made.requests(user="")  # "": unknown
    # kubectl v1.37.1 with a token the server refuses: its discovery of the core group, refused six times,
    # then the list itself; `--raw` skips discovery. The Python client sent no credentials at all.
    assert [(r.user, r.verb, r.uri, r.code) for r in refused] == [
        ("system:anonymous", "list", f"/api/v1/namespaces/{SEED}/pods", 403),
        *[("", "get", "/api?timeout=32s", 401)] * 6,
        ("", "list", f"/api/v1/namespaces/{SEED}/pods?limit=500", 401),
        ("", "update", RESTART, 401),
    ]


def test_client_certificate_user(sandbox: RunningSandbox, namespace: str) -> None:
    user = whoami(sandbox, "cert-user")
    assert user["username"] == "sandbox-cert-user" and "kubeadm:cluster-admins" in user["groups"]
    sandbox.kubectl("create", "configmap", "made-by-cert", "-n", namespace, context="cert-user")
    assert sandbox.get("configmap", "made-by-cert", namespace=namespace)["metadata"]["name"] == "made-by-cert"
    assert "node-1" in sandbox.kubectl("get", "nodes", "-o", "name", context="cert-user").stdout


def test_exec_plugin_user_with_kubectl_and_the_python_client(sandbox: RunningSandbox) -> None:
    assert whoami(sandbox, "exec-user")["username"] == "system:serviceaccount:default:sandbox-exec-user"
    assert "virtualmachine.kubevirt.io/example-vm" in \
        sandbox.kubectl("get", "vm", "-o", "name", context="exec-user").stdout.split()
    api = client.CustomObjectsApi(config.new_client_from_config(str(sandbox.kubeconfig), context="exec-user"))
    vms = api.list_namespaced_custom_object("kubevirt.io", "v1", SEED, "virtualmachines")
    assert "example-vm" in {vm["metadata"]["name"] for vm in vms["items"]}
    denied = sandbox.kubectl("get", "nodes", context="exec-user", check=False)  # `edit` has no cluster scope
    assert "Error from server (Forbidden)" in denied.stderr
