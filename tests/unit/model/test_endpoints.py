"""`model.endpoints`: which endpoints of a Service's EndpointSlices are the VM's, and are they ready; pure."""

from __future__ import annotations

from oc_virt_expose.model.endpoints import PodMatcher, evaluate, in_family_order, ingress
from tests.unit.builders import endpoint_slice


def test_pod_matcher_knows_launcher_pods_of_the_vmi_only() -> None:
    matcher = PodMatcher.for_vmi("web")
    assert matcher.is_vm_pod({"kind": "Pod", "name": "virt-launcher-web-x7k2p", "uid": "1"})
    assert not matcher.is_vm_pod({"kind": "Pod", "name": "virt-launcher-web-2-x7k2p", "uid": "1"})
    assert not matcher.is_vm_pod({"kind": "Pod", "name": "web-x7k2p", "uid": "1"})
    long_name = "v" * 60
    assert PodMatcher.for_vmi(long_name).is_vm_pod(
        {"name": ("virt-launcher-" + long_name)[:58] + "abcde", "uid": "1"})


def test_replaced_pods_are_neither_the_vms_nor_others() -> None:
    matcher = PodMatcher.for_vmi("web", replaced=["old"])
    report = evaluate([endpoint_slice("IPv4", [("virt-launcher-web-aaaaa", "old", "10.0.0.1", True)])], matcher)
    assert not report.ready_pods and not report.other_pods


def test_ready_endpoint_of_the_vm_and_other_workloads() -> None:
    slices = [endpoint_slice("IPv4", [("virt-launcher-web-aaaaa", "1", "10.0.0.1", True),
                                      ("nginx-123", "2", "10.0.0.2", True)], port=9376)]
    report = evaluate(slices, PodMatcher.for_vmi("web"))
    assert report.ready == ["10.0.0.1:9376"]
    assert report.ready_pods == {"virt-launcher-web-aaaaa"}
    assert report.other_pods == {"nginx-123"}
    assert report.complete(["IPv4"])


def test_not_ready_and_unknown_readiness() -> None:
    matcher = PodMatcher.for_vmi("web")
    report = evaluate([endpoint_slice("IPv4", [("virt-launcher-web-aaaaa", "1", "10.0.0.1", False)])], matcher)
    assert report.unready_pods == {"virt-launcher-web-aaaaa"} and not report.complete(["IPv4"])
    unknown = evaluate([endpoint_slice("IPv4", [("virt-launcher-web-aaaaa", "1", "10.0.0.1", None)])], matcher)
    assert unknown.complete(["IPv4"])


def test_dual_stack_needs_both_families() -> None:
    matcher = PodMatcher.for_vmi("web")
    v4 = endpoint_slice("IPv4", [("virt-launcher-web-aaaaa", "1", "10.0.0.1", True)])
    v6 = endpoint_slice("IPv6", [("virt-launcher-web-aaaaa", "1", "fd00::1", True)])
    assert not evaluate([v4], matcher).complete(["IPv4", "IPv6"])
    both = evaluate([v4, v6], matcher)
    assert both.complete(["IPv4", "IPv6"])
    assert both.ready == ["10.0.0.1:80", "[fd00::1]:80"]


def test_slices_in_the_services_family_order_and_load_balancer_addresses() -> None:
    v4, v6, other = (endpoint_slice(family, []) for family in ("IPv4", "IPv6", "FQDN"))
    assert in_family_order([other, v4, v6], ["IPv6", "IPv4"]) == [v6, v4, other]
    service = {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}, {"hostname": "lb.example"}, {}]}}}
    assert ingress(service) == ["203.0.113.7", "lb.example"]
    assert ingress({"status": {}}) == []
