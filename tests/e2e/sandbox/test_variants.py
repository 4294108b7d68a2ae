"""The sandbox's cheap variants are what they say: the same start minus one part, the rest as real as ever.

`--no-route-api` is the cluster on which the plugin must refuse `--route`; `--no-kubevirt` the one on which it
must say that KubeVirt is not installed."""

from __future__ import annotations

import pytest

from tests.sandbox.running import RunningSandbox


def api_groups(sandbox: RunningSandbox) -> set[str]:
    """The API groups discovery serves (`kubectl api-versions`: GROUP/VERSION, or VERSION for the core group;
    a group of subresources only, as virt-api's, has no line in `kubectl api-resources`)."""
    return {version.rpartition("/")[0] for version in sandbox.kubectl("api-versions").stdout.split()}


def resources(sandbox: RunningSandbox) -> list[str]:
    """`kubectl api-resources` names: RESOURCE.GROUP, or RESOURCE for the core group."""
    return sandbox.kubectl("api-resources", "-o", "name").stdout.split()


@pytest.mark.sandbox(route_api=False)
def test_without_the_route_api_routes_are_unknown_and_kubevirt_is_there(sandbox: RunningSandbox) -> None:
    groups, names = api_groups(sandbox), resources(sandbox)
    assert "route.openshift.io" not in groups
    assert "routes.route.openshift.io" not in names
    assert {"kubevirt.io", "subresources.kubevirt.io"} <= groups
    assert "virtualmachines.kubevirt.io" in names
    refused = sandbox.kubectl("get", "routes", check=False)
    assert refused.returncode != 0 and "the server doesn't have a resource type \"routes\"" in refused.stderr
    webhooks = sandbox.get("mutatingwebhookconfigurations")["items"]
    assert [hook["metadata"]["name"] for hook in webhooks] == ["virt-api-mutator"]


@pytest.mark.sandbox(kubevirt=None, seed="empty")
def test_without_kubevirt_no_kubevirt_api_and_pods_still_run(sandbox: RunningSandbox, namespace: str) -> None:
    groups = api_groups(sandbox)
    assert not {group for group in groups if group.endswith("kubevirt.io")}
    assert not [name for name in resources(sandbox) if name.endswith("kubevirt.io")]
    assert "route.openshift.io" in groups
    apiservices = sandbox.kubectl("get", "apiservices", "-o", "name").stdout.split()
    assert not [name for name in apiservices if "kubevirt" in name]
    assert sandbox.kubectl("get", "namespace", "kubevirt", check=False).returncode != 0
    nodes = sandbox.get("nodes")["items"]
    assert len(nodes) == 2
    assert not [label for node in nodes for label in node["metadata"]["labels"] if "kubevirt.io" in label]
    # The control plane, the scheduler and the kubelets (kwok) still run a plain pod.
    sandbox.kubectl("wait", "serviceaccount/default", "--for=create", "--timeout=30s", namespace=namespace)
    sandbox.kubectl("run", "web", "--image=registry.example/web:1", "--restart=Never", namespace=namespace)
    sandbox.kubectl("wait", "pod/web", "--for=condition=Ready", "--timeout=60s", namespace=namespace)
    assert sandbox.get("pod", "web", namespace=namespace)["spec"]["nodeName"].startswith("node-")
