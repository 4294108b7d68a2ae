"""`kubectl virt-expose list`: every Service that selects each VM (made by hand with kubectl or by
virt-expose), its ready endpoints and Route URL, as a kubectl table, -o wide|yaml|json|name, -A, NAME
filters, and one LIST per kind whatever the number of VMs (from the API server's audit log)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.e2e.plugin_runs import Result
from tests.e2e.workloads import create_vm, fresh_namespace
from tests.sandbox.audit import RequestCounter
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.router import DOMAIN
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

LISTS = ["list /apis/kubevirt.io/v1/namespaces/{ns}/virtualmachines",
         "list /api/v1/namespaces/{ns}/pods",
         "list /api/v1/namespaces/{ns}/services",
         "list /apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
         "list /apis/route.openshift.io/v1/namespaces/{ns}/routes"]
"""What `list` costs in a namespace, whatever the number of VMs: one LIST per kind."""


def table(result: Result) -> list[dict[str, str]]:
    """The rows of a `kubectl get`-style table, after checking its layout: every cell of a column starts
    where its header starts, with at least 3 spaces before it."""
    assert result.code == 0, result
    header, *lines = result.stdout.splitlines()
    starts = [match.start() for match in re.finditer(r"\S+", header)]
    assert all(header[start - 3:start] == "   " for start in starts[1:]), header
    rows = []
    for line in lines:
        assert [match.start() for match in re.finditer(r"\S+", line)] == starts, f"\n{header}\n{line}"
        rows.append(dict(zip(header.split(), line.split())))
    return rows


def create_service_by_hand(sandbox: RunningSandbox, namespace: str, name: str, selector: str,
                           tcp: str = "80:8080") -> None:
    """As a user does: `kubectl create service clusterip`, then `kubectl set selector`."""
    sandbox.kubectl("create", "service", "clusterip", name, f"--tcp={tcp}", namespace=namespace)
    sandbox.kubectl("set", "selector", "service", name, selector, namespace=namespace)


def wait_ready_endpoint(sandbox: RunningSandbox, namespace: str, service: str) -> None:
    """Until the Service's EndpointSlice has a ready endpoint (watched by kubectl wait)."""
    selector = f"kubernetes.io/service-name={service}"
    sandbox.kubectl("wait", "endpointslices", "-l", selector, "--for=create", "--timeout=60s", namespace=namespace)
    sandbox.kubectl("wait", "endpointslices", "-l", selector, "--for=jsonpath={.endpoints[0].conditions.ready}=true",
                    "--timeout=60s", namespace=namespace)


def create_route(sandbox: RunningSandbox, namespace: str, name: str, service: str) -> str:
    """A Route to the Service, by kubectl apply, admitted by the sandbox's router; returns its URL."""
    sandbox.apply({"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": name},
                   "spec": {"to": {"kind": "Service", "name": service}}}, namespace)
    sandbox.kubectl("wait", f"route/{name}", "--for=jsonpath={.status.ingress[0].conditions[0].status}=True",
                    "--timeout=30s", namespace=namespace)
    return f"http://{name}-{namespace}.{DOMAIN}"


@pytest.fixture
def exposed(sandbox: RunningSandbox, namespace: str, virt_expose) -> str:
    """A namespace with VM `web` (running, template label app=web) exposed by virt-expose on SSH (NodePort),
    a Service made by hand selecting its template label with a Route, one made by hand selecting its pod's
    `vmi.kubevirt.io/id`, a Service of another workload, and VM `idle` (stopped) that nothing selects."""
    create_vm(sandbox, namespace, vm_manifest("web", template_labels={"app": "web"}))
    create_vm(sandbox, namespace, vm_manifest("idle", running=False, template_labels={"app": "idle"}))
    made = virt_expose("vm", "web", "--name", "web-ssh", "--port", "22", "--type", "NodePort", "-n", namespace)
    assert made.code == 0, made
    create_service_by_hand(sandbox, namespace, "by-hand", "app=web")
    create_service_by_hand(sandbox, namespace, "by-id", "vmi.kubevirt.io/id=web", tcp="5900:5900")
    create_service_by_hand(sandbox, namespace, "unrelated", "app=db")
    for service in ("by-hand", "by-id"):
        wait_ready_endpoint(sandbox, namespace, service)
    create_route(sandbox, namespace, "by-hand", "by-hand")
    return namespace


def test_list_shows_hand_made_services_the_route_and_what_virt_expose_made(
        sandbox: RunningSandbox, exposed: str, virt_expose, requests_made: RequestCounter) -> None:
    requests_made.start()
    result = virt_expose("list", "-n", exposed)
    rows = table(result)
    cluster_ip = {name: sandbox.get("service", name, namespace=exposed)["spec"]["clusterIP"]
                  for name in ("by-hand", "by-id", "web-ssh")}
    node_port = sandbox.get("service", "web-ssh", namespace=exposed)["spec"]["ports"][0]["nodePort"]
    assert rows == [
        {"NAME": "idle", "SERVICE": "<none>", "TYPE": "<none>", "CLUSTER-IP": "<none>", "EXTERNAL-IP": "<none>",
         "PORT(S)": "<none>", "ENDPOINTS": "<none>", "ROUTE": "<none>", "VIRT-EXPOSE": "<none>"},
        {"NAME": "web", "SERVICE": "by-hand", "TYPE": "ClusterIP", "CLUSTER-IP": cluster_ip["by-hand"],
         "EXTERNAL-IP": "<none>", "PORT(S)": "80/TCP", "ENDPOINTS": "1/1",
         "ROUTE": f"http://by-hand-{exposed}.{DOMAIN}", "VIRT-EXPOSE": "no"},
        {"NAME": "web", "SERVICE": "by-id", "TYPE": "ClusterIP", "CLUSTER-IP": cluster_ip["by-id"],
         "EXTERNAL-IP": "<none>", "PORT(S)": "5900/TCP", "ENDPOINTS": "1/1", "ROUTE": "<none>", "VIRT-EXPOSE": "no"},
        {"NAME": "web", "SERVICE": "web-ssh", "TYPE": "NodePort", "CLUSTER-IP": cluster_ip["web-ssh"],
         "EXTERNAL-IP": "<none>", "PORT(S)": f"22:{node_port}/TCP", "ENDPOINTS": "1/1", "ROUTE": "<none>",
         "VIRT-EXPOSE": "yes"},
    ]
    assert result.stderr == ""
    served = requests_made.requests(user_agent="virt-expose/")
    assert [f"{r.verb} {r.path}" for r in served] == [line.format(ns=exposed) for line in LISTS]
    assert result.verbs() == ["LIST virtualmachines", "LIST pods", "LIST services", "LIST endpointslices",
                              "LIST routes"]


def test_wide_adds_the_selector_and_where_to_reach_it(sandbox: RunningSandbox, exposed: str, virt_expose) -> None:
    rows = {row["SERVICE"]: row for row in table(virt_expose("list", "vm", "web", "-o", "wide", "-n", exposed))}
    node_port = sandbox.get("service", "web-ssh", namespace=exposed)["spec"]["ports"][0]["nodePort"]
    assert rows["by-hand"]["SELECTOR"] == "app=web"
    assert rows["by-hand"]["REACH"] == f"by-hand.{exposed}.svc:80"
    assert rows["by-id"]["SELECTOR"] == "vmi.kubevirt.io/id=web"
    assert rows["web-ssh"]["REACH"] == f"web-ssh.{exposed}.svc:22,<node>:{node_port}"


def test_a_load_balancer_shows_its_address(sandbox: RunningSandbox, exposed: str, virt_expose) -> None:
    made = virt_expose("vm", "web", "--name", "web-lb", "--type", "LoadBalancer", "--port", "80", "-n", exposed)
    assert made.code == 0, made
    address = sandbox.get("service", "web-lb", namespace=exposed)["status"]["loadBalancer"]["ingress"][0]["ip"]
    rows = table(virt_expose("list", "vm", "web", "-o", "wide", "-n", exposed))
    [row] = [row for row in rows if row["SERVICE"] == "web-lb"]
    assert row["EXTERNAL-IP"] == address
    assert row["REACH"].endswith(f",{address}:80")


@pytest.mark.parametrize("output", ["yaml", "json"])
def test_yaml_and_json_are_a_list_of_exposures(sandbox: RunningSandbox, exposed: str, virt_expose,
                                               output: str) -> None:
    result = virt_expose("list", "-n", exposed, "-o", output)
    assert result.code == 0, result
    document: dict[str, Any] = yaml.safe_load(result.stdout) if output == "yaml" else json.loads(result.stdout)
    assert (document["apiVersion"], document["kind"]) == ("v1", "List")
    by_name = {item["metadata"]["name"]: item for item in document["items"]}
    assert list(by_name) == ["idle", "web"]
    web = by_name["web"]
    vm = sandbox.get("vm", "web", namespace=exposed)
    assert (web["apiVersion"], web["kind"]) == ("virt-expose.kubevirt.io/v1alpha1", "Exposure")
    assert web["target"] == {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "web",
                             "uid": vm["metadata"]["uid"]}
    [pod] = web["pods"]
    services = {service["name"]: service for service in web["services"]}
    assert list(services) == ["by-hand", "by-id", "web-ssh"]
    assert services["by-hand"]["selectedThrough"] == ["template", "pods"]
    assert services["by-id"]["selectedThrough"] == ["pods"]
    assert services["by-hand"]["madeByVirtExpose"] is False
    assert services["web-ssh"]["madeByVirtExpose"] is True
    assert services["web-ssh"]["exposes"] == "virtualmachine.kubevirt.io/web"
    pod_ip = sandbox.get("pod", pod, namespace=exposed)["status"]["podIP"]
    assert services["by-hand"]["endpoints"] == {"ready": 1, "total": 1, "addresses": [f"{pod_ip}:8080"]}
    assert services["by-hand"]["routes"] == [{"name": "by-hand", "url": f"http://by-hand-{exposed}.{DOMAIN}",
                                              "admitted": True}]
    assert services["by-hand"]["dns"] == f"by-hand.{exposed}.svc"
    assert by_name["idle"]["services"] == [] and by_name["idle"]["pods"] == []


def test_name_prints_the_matching_services(exposed: str, virt_expose) -> None:
    result = virt_expose("list", "vm", "web", "idle", "-n", exposed, "-o", "name")
    assert (result.code, result.stdout) == (0, "service/by-hand\nservice/by-id\nservice/web-ssh\n"), result


def test_name_filters_and_an_unknown_name_is_an_error(exposed: str, virt_expose) -> None:
    only = table(virt_expose("list", "vm/idle", "-n", exposed))
    assert [row["NAME"] for row in only] == ["idle"]
    result = virt_expose("list", "vm", "idle", "nope", "-n", exposed)
    assert result.code == 1, result
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["NAME", "idle"]
    assert result.stderr == ('error: Error from server (NotFound): virtualmachines.kubevirt.io "nope" not found\n')


def test_all_namespaces(sandbox: RunningSandbox, exposed: str, virt_expose, requests_made: RequestCounter) -> None:
    with fresh_namespace(sandbox, "list") as second:
        create_vm(sandbox, second, vm_manifest("web", running=False, template_labels={"app": "web"}))
        create_service_by_hand(sandbox, second, "web", "app=web")
        requests_made.start()
        rows = table(virt_expose("list", "-A"))
        served = requests_made.requests(user_agent="virt-expose/")
    ours = [(row["NAMESPACE"], row["NAME"], row["SERVICE"]) for row in rows if row["NAMESPACE"] in (exposed, second)]
    assert sorted(ours) == sorted([(exposed, "idle", "<none>"), (exposed, "web", "by-hand"), (exposed, "web", "by-id"),
                                   (exposed, "web", "web-ssh"), (second, "web", "web")])
    assert ("example-namespace", "example-vm") in {(row["NAMESPACE"], row["NAME"]) for row in rows}  # the seed
    assert [f"{r.verb} {r.path}" for r in served] == [line.replace("namespaces/{ns}/", "") for line in LISTS]


def test_the_requests_are_the_same_for_2_and_30_vms(sandbox: RunningSandbox, exposed: str, virt_expose,
                                                    requests_made: RequestCounter) -> None:
    with fresh_namespace(sandbox, "many") as many:
        sandbox.apply({"apiVersion": "v1", "kind": "List", "items": [
            vm_manifest(f"vm-{i:02}", running=i == 0, template_labels={"app": f"vm-{i:02}"}) for i in range(30)]},
            many)
        for i in range(30):
            create_service_by_hand(sandbox, many, f"vm-{i:02}", f"app=vm-{i:02}")
        counts = {}
        for namespace in (exposed, many):
            requests_made.start()
            rows = table(virt_expose("list", "-n", namespace))
            counts[namespace] = [f"{r.verb} {r.path}" for r in requests_made.requests(user_agent="virt-expose/")]
            assert len({row["NAME"] for row in rows}) == (2 if namespace == exposed else 30)
    assert counts[exposed] == [line.format(ns=exposed) for line in LISTS]
    assert counts[many] == [line.format(ns=many) for line in LISTS]


def test_routes_a_user_may_not_list_are_left_out_with_a_warning(sandbox: RunningSandbox, virt_expose) -> None:
    """The sandbox's `restricted` user may list VMs, pods, Services and EndpointSlices in example-namespace,
    not Routes."""
    result = virt_expose("list", "--context", "restricted")
    assert result.code == 0, result
    assert {row["NAME"] for row in table(result)} >= {"example-vm", "web-vm"}
    assert result.stderr.startswith("Warning: Routes are not shown: Error from server (Forbidden): ")
    assert "routes.route.openshift.io is forbidden" in result.stderr


def test_replica_sets_and_vmis(sandbox: RunningSandbox, exposed: str, virt_expose) -> None:
    replicas = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceReplicaSet",
                "metadata": {"name": "pool"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "pool"}},
                         "template": vm_manifest("unused", template_labels={"app": "pool"})["spec"]["template"]}}
    sandbox.apply(replicas, exposed)
    sandbox.kubectl("wait", "vmirs/pool", "--for=jsonpath={.status.readyReplicas}=2", "--timeout=90s",
                    namespace=exposed)
    create_service_by_hand(sandbox, exposed, "pool", "app=pool")
    sandbox.kubectl("wait", "endpointslices", "-l", "kubernetes.io/service-name=pool",
                    "--for=jsonpath={.endpoints[1].conditions.ready}=true", "--timeout=60s", namespace=exposed)
    [row] = table(virt_expose("list", "vmirs", "-n", exposed))
    assert (row["NAME"], row["SERVICE"], row["ENDPOINTS"]) == ("pool", "pool", "2/2")

    vmis = {(row["NAME"], row["SERVICE"], row["ENDPOINTS"]) for row in table(virt_expose("list", "vmi", "-n", exposed))}
    assert ("web", "by-hand", "1/1") in vmis
    pool_vmis = {name for name, service, _ in vmis if service == "pool"}
    assert len(pool_vmis) == 2 and all(name.startswith("pool") for name in pool_vmis)
    assert {endpoints for _, service, endpoints in vmis if service == "pool"} == {"1/2"}


def test_an_empty_namespace_says_so(namespace: str, virt_expose) -> None:
    result = virt_expose("list", "-n", namespace)
    assert (result.code, result.stdout) == (0, "")
    assert result.stderr == f"No virtualmachines found in {namespace} namespace.\n"
    assert result.verbs() == ["LIST virtualmachines"]
