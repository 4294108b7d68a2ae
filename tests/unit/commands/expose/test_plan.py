"""`expose`'s plan: every decision of a run from what was read, before any write; pure."""

from __future__ import annotations

from typing import Any

import pytest

from oc_virt_expose.commands.expose.plan import Observed, VMAction, make_plan, static_selector_problem
from oc_virt_expose.errors import RefusedError, UsageError
from oc_virt_expose.model.service import ServiceAction
from tests.unit.builders import pod, replica_set, valid_request, vm, vmi

SEED = ("vm", "example-vm", "--name", "example-service", "--selector", "special=key", "--type", "NodePort",
        "--port", "80", "--target-port", "9376", "--node-port", "30000")
WEB_SPEC = {
    "domain": {"devices": {"interfaces": [{"name": "default", "masquerade": {},
                                           "ports": [{"name": "http", "port": 80}]}]}},
    "networks": [{"name": "default", "pod": {}}],
}


def running(labels: dict[str, str] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pod_labels = {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "vmi-uid", **(labels or {})}
    return vmi(labels=labels), [pod("virt-launcher-example-vm-abcde", pod_labels)]


def test_seed_scenario_on_a_stopped_vm_labels_the_template_and_creates_the_service() -> None:
    plan = make_plan(valid_request(*SEED), Observed(vm()))
    assert plan.template_labels == {"special": "key"}
    assert plan.vmi_labels == {} and plan.pod_labels == {}
    assert plan.vm_action is VMAction.NONE and plan.pending is None
    assert plan.service_action is ServiceAction.CREATE
    assert plan.service["spec"] == {
        "type": "NodePort", "selector": {"special": "key"},
        "ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376, "nodePort": 30000}],
    }
    assert static_selector_problem(plan, valid_request(*SEED), vm()) is None


def test_re_run_finds_the_identical_service_unchanged() -> None:
    first = make_plan(valid_request(*SEED), Observed(vm()))
    existing = dict(first.service)
    existing["spec"] = dict(first.service["spec"], clusterIP="10.96.0.10", sessionAffinity="None",
                            externalTrafficPolicy="Cluster")
    again = make_plan(valid_request(*SEED), Observed(vm(template_labels={"special": "key"}), service=existing))
    assert again.service_action is ServiceAction.UNCHANGED
    assert again.template_labels == {}


def test_a_different_service_is_refused_unless_overwrite() -> None:
    existing = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "example-service", "labels": {"a": "b"}},
                "spec": {"type": "ClusterIP", "selector": {"app": "x"}, "clusterIP": "10.96.0.9",
                         "ports": [{"protocol": "TCP", "port": 80, "targetPort": 8080}]}}
    with pytest.raises(RefusedError, match=r"already exists and differs: spec\.type is ClusterIP, not NodePort"):
        make_plan(valid_request(*SEED), Observed(vm(), service=existing))
    plan = make_plan(valid_request(*SEED, "--overwrite"), Observed(vm(), service=existing))
    assert plan.service_action is ServiceAction.UPDATE
    assert plan.service["spec"]["clusterIP"] == "10.96.0.9"
    assert plan.service["spec"]["selector"] == {"special": "key"}
    assert plan.service["metadata"]["labels"]["a"] == "b"


def test_overwrite_is_about_the_service_not_the_users_labels() -> None:
    with pytest.raises(RefusedError):
        make_plan(valid_request(*SEED, "--overwrite"), Observed(vm(template_labels={"special": "other"})))


def test_running_vm_default_restart_labels_vmi_and_pod_live() -> None:
    target, pods = running()
    request = valid_request("vm", "example-vm", "--port", "80")
    plan = make_plan(request, Observed(vm(), target, pods))
    assert plan.selector.selector == {"kubevirt.io/domain": "example-vm"}
    assert plan.template_labels == plan.vmi_labels == {"kubevirt.io/domain": "example-vm"}
    assert plan.pod_labels == {"virt-launcher-example-vm-abcde": {"kubevirt.io/domain": "example-vm"}}
    assert plan.vm_action is VMAction.NONE and plan.pending is None


def test_running_vm_with_the_id_label_changes_nothing() -> None:
    target, pods = running({"vmi.kubevirt.io/id": "example-vm"})
    plan = make_plan(valid_request("vm", "example-vm", "--port", "80"), Observed(vm(), target, pods))
    assert plan.selector.selector == {"vmi.kubevirt.io/id": "example-vm"}
    assert not (plan.template_labels or plan.vmi_labels or plan.pod_labels)


def test_restart_always_restarts_instead_of_labelling_live() -> None:
    target, pods = running()
    plan = make_plan(valid_request("vm", "example-vm", "--port", "80", "--restart", "always"),
                     Observed(vm(), target, pods))
    assert plan.vm_action is VMAction.RESTART
    assert plan.template_labels and not plan.vmi_labels and not plan.pod_labels


def test_restart_never_leaves_the_run_pending() -> None:
    target, pods = running()
    plan = make_plan(valid_request("vm", "example-vm", "--port", "80", "--restart", "never"),
                     Observed(vm(), target, pods))
    assert plan.vm_action is VMAction.NONE and not plan.vmi_labels
    assert plan.pending and "--restart=never" in plan.pending


def test_live_conflict_needs_a_restart() -> None:
    target, pods = running({"special": "other"})
    plan = make_plan(valid_request("vm", "example-vm", "--port", "80", "--selector", "special=key"),
                     Observed(vm(), target, pods))
    assert plan.pending and "--restart=always" in plan.pending
    assert plan.template_labels == {"special": "key"} and not plan.vmi_labels


def test_start_starts_a_stopped_vm() -> None:
    plan = make_plan(valid_request(*SEED, "--start"), Observed(vm()))
    assert plan.vm_action is VMAction.START


def test_ports_come_from_the_declared_interface_and_others_are_refused() -> None:
    web = vm("web-vm", spec=WEB_SPEC)
    plan = make_plan(valid_request("vm", "web-vm"), Observed(web))
    assert plan.service["spec"]["ports"] == [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 80}]
    named = make_plan(valid_request("vm", "web-vm", "--port", "8080", "--target-port", "http"), Observed(web))
    assert named.service["spec"]["ports"] == [{"protocol": "TCP", "port": 8080, "targetPort": "http"}]
    with pytest.raises(RefusedError, match="forwards only 80/TCP"):
        make_plan(valid_request("vm", "web-vm", "--port", "443"), Observed(web))


def test_no_port_anywhere_is_kubectls_error() -> None:
    with pytest.raises(UsageError, match="couldn't find port via --port flag or introspection"):
        make_plan(valid_request("vm", "example-vm"), Observed(vm()))


def test_network_policy_without_ingress_on_the_port_warns() -> None:
    deny = {"metadata": {"name": "deny-all"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    plan = make_plan(valid_request(*SEED), Observed(vm(), network_policies=[deny]))
    assert any("NetworkPolicy deny-all selects" in warning for warning in plan.warnings)


def test_vmi_target_labels_itself_and_its_pods() -> None:
    target, pods = running()
    plan = make_plan(valid_request("vmi", "example-vm", "--port", "80"), Observed(target, None, pods))
    assert plan.vmi_labels == {"kubevirt.io/domain": "example-vm"}
    assert plan.pod_labels and not plan.template_labels


def test_replica_set_uses_its_selector_and_changes_nothing() -> None:
    target = replica_set("rs", {"matchLabels": {"app": "rs"}}, template_labels={"app": "rs"})
    plan = make_plan(valid_request("vmirs", "rs", "--port", "80"), Observed(target))
    assert plan.service["spec"]["selector"] == {"app": "rs"}
    assert not (plan.template_labels or plan.vmi_labels or plan.pod_labels)
