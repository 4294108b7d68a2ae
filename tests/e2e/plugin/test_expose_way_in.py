"""The way in: after `expose`, the summary says what to type (ssh, xfreerdp, a URL) from outside the cluster
(node addresses from one LIST of nodes) and from inside it, with the guest's cloud-init user; a user who may
not list nodes gets the addresses as before; `--external-traffic-policy Local` warns about live migration."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.workloads import create_vm, launcher_pod
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

CLOUD_CONFIG = "#cloud-config\nuser: fedora\npassword: fedora\nchpasswd: { expire: False }\n"


def with_cloud_init(manifest: dict[str, Any], user_data: str = CLOUD_CONFIG) -> dict[str, Any]:
    """The VM with a cloud-init NoCloud disk, as OpenShift's templates declare one."""
    spec = manifest["spec"]["template"]["spec"]
    spec["domain"]["devices"]["disks"] = [{"name": "cloudinitdisk", "disk": {"bus": "virtio"}}]
    spec["volumes"] = [{"name": "cloudinitdisk", "cloudInitNoCloud": {"userData": user_data}}]
    return manifest


def node_ports(sandbox: RunningSandbox, namespace: str, name: str) -> dict[int, int]:
    service = sandbox.get("service", name, namespace=namespace)
    return {port["port"]: port["nodePort"] for port in service["spec"]["ports"]}


def ready_node_addresses(sandbox: RunningSandbox) -> list[str]:
    """Every ready node's InternalIP (the sandbox's nodes have no ExternalIP), by node name."""
    nodes = sorted(sandbox.get("nodes")["items"], key=lambda node: node["metadata"]["name"])
    return [next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP") for node in nodes
            if any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])]


def test_node_port_ssh_http_rdp_with_the_cloud_init_user(sandbox: RunningSandbox, namespace: str,
                                                         virt_expose) -> None:
    create_vm(sandbox, namespace, with_cloud_init(vm_manifest("lab")))
    host = launcher_pod(sandbox, namespace, "lab")["status"]["hostIP"]
    result = virt_expose("vm", "lab", "-n", namespace, "--port", "22,80,3389", "--type", "NodePort")
    assert result.code == 0, result
    ports = node_ports(sandbox, namespace, "lab")
    dns = f"lab.{namespace}.svc"
    lines = result.stdout.splitlines()
    assert lines[-6:] == [
        f"SSH: ssh -p {ports[22]} fedora@{host}",
        f"SSH inside the cluster: ssh -p 22 fedora@{dns}",
        f"HTTP: http://{host}:{ports[80]}/",
        f"HTTP inside the cluster: http://{dns}/",
        f"RDP: xfreerdp /v:{host}:{ports[3389]}",
        f"RDP inside the cluster: xfreerdp /v:{dns}:3389",
    ]
    others = [address for address in ready_node_addresses(sandbox) if address != host][:2]
    examples = ", ".join(f"{address}:{ports[22]}" for address in [host, *others])
    assert f"From outside the cluster: node port {ports[22]}/TCP of every node, e.g. {examples}" in lines
    assert result.verbs()[-2:] == ["WATCH endpointslices", "LIST nodes"]  # one LIST, after verification


def test_cluster_ip_way_in_is_from_inside_only(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("inner"))
    result = virt_expose("vm", "inner", "-n", namespace, "--port", "2222:22,8443")
    assert result.code == 0, result
    assert result.stdout.splitlines()[-2:] == [f"SSH inside the cluster: ssh -p 2222 <user>@inner.{namespace}.svc",
                                               f"HTTPS inside the cluster: https://inner.{namespace}.svc:8443/"]
    assert "LIST nodes" not in result.verbs()


def test_stopped_vm_node_port_summary_lists_node_addresses(sandbox: RunningSandbox, namespace: str,
                                                           virt_expose) -> None:
    create_vm(sandbox, namespace, with_cloud_init(vm_manifest("sleeper", running=False)))
    result = virt_expose("vm", "sleeper", "-n", namespace, "--port", "22", "--type", "NodePort")
    assert result.code == 0, result
    port = node_ports(sandbox, namespace, "sleeper")[22]
    addresses = ready_node_addresses(sandbox)
    examples = ", ".join(f"{address}:{port}" for address in addresses[:3])
    assert f"From outside the cluster: node port {port}/TCP of every node, e.g. {examples}" in result.stdout
    assert f"SSH: ssh -p {port} fedora@{addresses[0]}" in result.stdout
    assert result.verbs() == ["GET virtualmachines", "GET services", "LIST networkpolicies", "POST services",
                              "PATCH virtualmachines", "LIST nodes"]

    documents = virt_expose("vm", "sleeper", "-n", namespace, "--port", "22", "--type", "NodePort", "-o", "yaml")
    assert documents.code == 0, documents
    assert "LIST nodes" not in documents.verbs()  # no summary with -o: no nodes to list


NODES_FORBIDDEN_USER = "way-in-user"


def test_without_the_right_to_list_nodes_the_summary_says_as_before(sandbox: RunningSandbox, namespace: str,
                                                                    virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("guest", running=False))
    sandbox.kubectl("create", "serviceaccount", NODES_FORBIDDEN_USER, namespace=namespace)
    sandbox.kubectl("create", "rolebinding", NODES_FORBIDDEN_USER, "--clusterrole=edit",
                    f"--serviceaccount={namespace}:{NODES_FORBIDDEN_USER}", namespace=namespace)
    user = ("--as", f"system:serviceaccount:{namespace}:{NODES_FORBIDDEN_USER}")
    result = virt_expose("vm", "guest", "-n", namespace, "--port", "22", "--type", "NodePort", *user)
    assert result.code == 0, result
    port = node_ports(sandbox, namespace, "guest")[22]
    assert f"From outside the cluster: node port {port}/TCP of every node\n" in result.stdout
    assert f"SSH: ssh -p {port} <user>@<node address>\n" in result.stdout
    assert any(request.startswith("GET /api/v1/nodes?") for request in result.requests)  # tried once, 403
    assert result.stderr == ""


def test_external_traffic_policy_local_warns_and_names_the_vms_node(sandbox: RunningSandbox, namespace: str,
                                                                     virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("local"))
    host = launcher_pod(sandbox, namespace, "local")["status"]["hostIP"]
    result = virt_expose("vm", "local", "-n", namespace, "--port", "80", "--type", "NodePort",
                         "--external-traffic-policy", "Local")
    assert result.code == 0, result
    assert result.stderr.startswith("Warning: --external-traffic-policy Local: only the node running the VM answers")
    assert "live migration" in result.stderr
    assert sandbox.get("service", "local", namespace=namespace)["spec"]["externalTrafficPolicy"] == "Local"
    port = node_ports(sandbox, namespace, "local")[80]
    assert (f"From outside the cluster: node port {port}/TCP of the node running the VM (external traffic policy "
            f"Local), e.g. {host}:{port}") in result.stdout
    assert f"HTTP: http://{host}:{port}/" in result.stdout

    refused = virt_expose("vm", "local", "-n", namespace, "--port", "80", "--external-traffic-policy", "Local")
    assert refused.code == 2, refused
    assert refused.stderr.startswith("error: --external-traffic-policy needs --type NodePort or --type LoadBalancer")
