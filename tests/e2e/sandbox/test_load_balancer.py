"""The sandbox's load-balancer provider (tests/sandbox/loadbalancer.py), as MetalLB behaves: addresses from a
pool per family, written as the provider's own identity; requested addresses; release; off = pending."""

from __future__ import annotations

import ipaddress
import json

import psutil
import pytest

from tests.e2e.sandbox_infrastructure import LoadBalancerSwitch, infrastructure_info, wait_for_event
from tests.sandbox.loadbalancer import POOLS, SERVICE_ACCOUNT
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

CONTROLLER = f"system:serviceaccount:sandbox-infra:{SERVICE_ACCOUNT}"


def load_balancer_service(name: str, *, ip: str | None = None, families: list[str] | None = None,
                          load_balancer_class: str | None = None) -> dict:
    spec: dict = {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}
    if ip:
        spec["loadBalancerIP"] = ip
    if families:
        spec.update(ipFamilies=families, ipFamilyPolicy="RequireDualStack" if len(families) == 2 else "SingleStack")
    if load_balancer_class:
        spec["loadBalancerClass"] = load_balancer_class
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def wait_for_ingress(sandbox: RunningSandbox, namespace: str, name: str, timeout: str = "15s") -> list[str]:
    sandbox.kubectl("wait", f"service/{name}", "--for=jsonpath={.status.loadBalancer.ingress[0].ip}",
                    f"--timeout={timeout}", namespace=namespace)
    return ingress_ips(sandbox, namespace, name)


def ingress_ips(sandbox: RunningSandbox, namespace: str, name: str) -> list[str]:
    service = sandbox.get("service", name, namespace=namespace)
    return [entry["ip"] for entry in service["status"].get("loadBalancer", {}).get("ingress", [])]


def status_writers(sandbox: RunningSandbox, namespace: str, name: str) -> set[str]:
    """Users that wrote the Service's status, from the API server's audit log."""
    assert sandbox.audit_log is not None
    writers = set()
    with open(sandbox.audit_log) as log:
        for line in log:
            if f'"name":"{name}"' not in line or '"subresource":"status"' not in line:
                continue
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if ref.get("namespace") == namespace and ref.get("resource") == "services" \
                    and event["verb"] in ("update", "patch") and event["responseStatus"]["code"] == 200:
                writers.add(event["user"]["username"])
    return writers


def in_pool(ip: str, family: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(POOLS[family])


def test_service_gets_an_address_from_the_pool_written_by_the_providers_own_identity(
        sandbox: RunningSandbox, namespace: str, load_balancer: LoadBalancerSwitch) -> None:
    sandbox.apply(load_balancer_service("web"), namespace)
    [ip] = wait_for_ingress(sandbox, namespace, "web")
    assert in_pool(ip, "IPv4") and load_balancer.pools == POOLS
    assert status_writers(sandbox, namespace, "web") == {CONTROLLER}
    assert wait_for_event(sandbox, namespace, "web", "IPAllocated") == f'Assigned IP ["{ip}"]'


def test_requested_address_is_honoured_and_released_with_its_service(sandbox: RunningSandbox, namespace: str,
                                                                    load_balancer: LoadBalancerSwitch) -> None:
    wanted = "198.51.100.250"
    sandbox.apply(load_balancer_service("first", ip=wanted), namespace)
    assert wait_for_ingress(sandbox, namespace, "first") == [wanted]
    sandbox.apply(load_balancer_service("second", ip=wanted), namespace)
    assert "is already in use" in wait_for_event(sandbox, namespace, "second", "AllocationFailed")
    assert ingress_ips(sandbox, namespace, "second") == []

    sandbox.kubectl("delete", "service", "first", namespace=namespace)
    assert wait_for_ingress(sandbox, namespace, "second") == [wanted]


def test_type_change_releases_the_address(sandbox: RunningSandbox, namespace: str,
                                          load_balancer: LoadBalancerSwitch) -> None:
    wanted = "198.51.100.251"
    sandbox.apply(load_balancer_service("was-lb", ip=wanted), namespace)
    assert wait_for_ingress(sandbox, namespace, "was-lb") == [wanted]
    sandbox.kubectl("patch", "service", "was-lb", "--type", "merge", "-p",
                    '{"spec":{"type":"ClusterIP","loadBalancerIP":null}}', namespace=namespace)
    assert ingress_ips(sandbox, namespace, "was-lb") == []  # the API server clears it
    sandbox.apply(load_balancer_service("now-lb", ip=wanted), namespace)
    assert wait_for_ingress(sandbox, namespace, "now-lb") == [wanted]


def test_foreign_addresses_and_classes_stay_pending(sandbox: RunningSandbox, namespace: str,
                                                    load_balancer: LoadBalancerSwitch) -> None:
    sandbox.apply(load_balancer_service("outside", ip="203.0.113.7"), namespace)
    sandbox.apply(load_balancer_service("other-class", load_balancer_class="example.com/other"), namespace)
    assert "is not in any pool" in wait_for_event(sandbox, namespace, "outside", "AllocationFailed")
    # Services are decided in the order they come; one created last getting its address shows that the
    # provider has decided on the others.
    sandbox.apply(load_balancer_service("control"), namespace)
    wait_for_ingress(sandbox, namespace, "control")
    assert ingress_ips(sandbox, namespace, "outside") == []
    assert ingress_ips(sandbox, namespace, "other-class") == []


def test_switched_off_services_stay_pending_until_switched_on(sandbox: RunningSandbox, namespace: str,
                                                               no_load_balancer: LoadBalancerSwitch) -> None:
    sandbox.apply(load_balancer_service("pending"), namespace)
    waited = sandbox.kubectl("wait", "service/pending", "--for=jsonpath={.status.loadBalancer.ingress[0].ip}",
                             "--timeout=2s", namespace=namespace, check=False)
    assert waited.returncode != 0 and "timed out" in waited.stderr
    no_load_balancer.on()
    [ip] = wait_for_ingress(sandbox, namespace, "pending")
    assert in_pool(ip, "IPv4")


@pytest.mark.sandbox(stack="dual")
def test_dual_stack_service_gets_one_address_per_family_in_its_order(sandbox: RunningSandbox, namespace: str) -> None:
    sandbox.apply(load_balancer_service("both", families=["IPv6", "IPv4"]), namespace)
    sandbox.kubectl("wait", "service/both", "--for=jsonpath={.status.loadBalancer.ingress[1].ip}", "--timeout=15s",
                    namespace=namespace)
    ipv6, ipv4 = ingress_ips(sandbox, namespace, "both")
    assert in_pool(ipv6, "IPv6") and in_pool(ipv4, "IPv4")


@pytest.mark.sandbox(load_balancer=False)
def test_no_load_balancer_sandbox_runs_no_provider(sandbox: RunningSandbox, namespace: str) -> None:
    """(That it stops cleanly, exit code 0, the pool checks for every sandbox: tests/sandbox/pool.py.)"""
    assert not infrastructure_info(sandbox).load_balancer
    commands = [" ".join(p.cmdline()) for p in psutil.Process(sandbox.process.pid).children(recursive=True)]
    assert not [c for c in commands if "tests.sandbox.loadbalancer" in c]
    assert [c for c in commands if "tests.sandbox.router" in c]  # the rest of the infrastructure runs
    sandbox.apply(load_balancer_service("pending"), namespace)
    waited = sandbox.kubectl("wait", "service/pending", "--for=jsonpath={.status.loadBalancer.ingress}",
                             "--timeout=2s", namespace=namespace, check=False)
    assert waited.returncode != 0 and "timed out" in waited.stderr
