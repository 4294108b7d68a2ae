"""`delete`'s plan: which Services and Routes go, which are left and named, and which labels each exposure
gives back (from `managedFields`, as the API server records server-side applies). Pure; the e2e suite
(tests/e2e/plugin/test_delete.py) checks the same against the real API server."""

from __future__ import annotations

from typing import Any

import pytest

from oc_virt_expose.commands.delete.options import DeleteRequest
from oc_virt_expose.commands.delete.plan import choose_services, routes_to, unlabelings
from oc_virt_expose.errors import NotFoundError, RefusedError
from oc_virt_expose.model.fields import TEMPLATE_PATH
from oc_virt_expose.model.kinds import VM, VMI, VMIRS
from oc_virt_expose.model.service import ServiceRequest, build_service
from tests.unit.builders import pod, replica_set, vm, vmi
from tests.unit.model.test_fields import managed

DOMAIN = {"kubevirt.io/domain": "example-vm"}
DELETE = DeleteRequest(VM, "example-vm")


def exposure(name: str, selector: dict[str, str], target: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Service as virt-expose makes it for `target` (default: example-vm)."""
    return build_service(ServiceRequest(name), VM, target or vm(), selector, [])


def hand_made(name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"selector": selector}}


def labeled_vm(labels: dict[str, str], *owners: dict[str, Any]) -> dict[str, Any]:
    """example-vm with these template labels, owned as `owners` (managedFields entries) say."""
    made = vm(template_labels=labels)
    made["metadata"]["managedFields"] = list(owners)
    return made


def on_template(manager: str, *keys: str, operation: str = "Apply") -> dict[str, Any]:
    return managed(manager, operation, list(keys), TEMPLATE_PATH)


def route(name: str, service: str) -> dict[str, Any]:
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": name},
            "spec": {"to": {"kind": "Service", "name": service}}}


# -- Services and Routes ------------------------------------------------------------------------------

def test_services_virt_expose_made_go_and_those_that_select_the_vm_otherwise_are_named() -> None:
    target = vm(template_labels={**DOMAIN, "app": "web"})
    other_vm = vm("other", uid="other-uid")
    mine = exposure("example-vm", DOMAIN)
    by_hand = hand_made("by-hand", {"app": "web"})
    by_launcher_label = hand_made("by-id", {"vmi.kubevirt.io/id": "example-vm"})  # KubeVirt's, on every pod
    elsewhere = hand_made("elsewhere", {"app": "db"})
    no_selector = hand_made("external", {})
    for_other_vm = exposure("other", {"kubevirt.io/domain": "other"}, other_vm)
    relabeled = exposure("copied", DOMAIN)
    relabeled["metadata"]["annotations"] = {}  # the label alone is not proof: the annotation names the object
    services = [mine, by_hand, by_launcher_label, elsewhere, no_selector, for_other_vm, relabeled]
    choice = choose_services(DELETE, target, services)
    assert choice.delete == [mine]
    assert choice.left == [by_hand, by_launcher_label, relabeled]


def test_a_running_pods_own_labels_count_for_the_services_left_in_place() -> None:
    by_pod_label = hand_made("by-pod", {"team": "a"})
    assert choose_services(DELETE, vm(), [by_pod_label]).left == []
    assert choose_services(DELETE, vm(), [by_pod_label], [pod("p", {"team": "a"})]).left == [by_pod_label]


def test_name_deletes_that_service_whoever_made_it() -> None:
    by_hand = hand_made("by-hand", {"app": "web"})
    choice = choose_services(DeleteRequest(VM, "example-vm", "by-hand"), vm(), [exposure("example-vm", DOMAIN),
                                                                                 by_hand])
    assert choice.delete == [by_hand] and choice.left == []


def test_name_of_a_missing_service_is_not_found() -> None:
    with pytest.raises(NotFoundError, match='services "gone" not found') as raised:
        choose_services(DeleteRequest(VM, "example-vm", "gone"), vm(), [])
    assert raised.value.status == 404


def test_name_of_a_service_virt_expose_made_for_another_object_is_refused() -> None:
    theirs = exposure("other", {"kubevirt.io/domain": "other"}, vm("other"))
    with pytest.raises(RefusedError) as raised:
        choose_services(DeleteRequest(VM, "example-vm", "other"), vm(), [theirs])
    assert "made by virt-expose for virtualmachine.kubevirt.io/other, not for virtualmachine.kubevirt.io/example-vm" \
        in str(raised.value)


def test_routes_to_the_deleted_services_only() -> None:
    routes = [route("web", "example-vm"), route("db", "other"), route("also-web", "example-vm")]
    assert routes_to(routes, [exposure("example-vm", DOMAIN)]) == [routes[0], routes[2]]
    assert routes_to(routes, []) == []


# -- labels given back --------------------------------------------------------------------------------

def test_a_label_only_the_exposure_owned_is_removed() -> None:
    target = labeled_vm(DOMAIN, on_template("virt-expose:example-vm", "kubevirt.io/domain"))
    [change] = unlabelings(VM, target, [], [exposure("example-vm", DOMAIN)])
    assert (change.kind, change.where) == (VM, "spec.template.metadata.labels")
    assert change.applies == {"virt-expose:example-vm": {}}
    assert change.removed == DOMAIN and change.kept == {}


def test_a_label_the_user_also_set_stays_and_the_exposure_gives_up_its_share() -> None:
    target = labeled_vm({"special": "key"}, on_template("kubectl-label", "special", operation="Update"),
                        on_template("virt-expose:example-vm", "special"))
    [change] = unlabelings(VM, target, [], [])
    assert change.applies == {"virt-expose:example-vm": {}}
    assert change.removed == {} and change.kept == {"special=key": "also set by kubectl-label"}


def test_a_label_a_remaining_service_selects_on_is_applied_again() -> None:
    target = labeled_vm({**DOMAIN, "special": "key"},
                        on_template("virt-expose:example-vm", "kubevirt.io/domain", "special"))
    by_hand = hand_made("by-hand", DOMAIN)
    [change] = unlabelings(VM, target, [by_hand], [])
    assert change.applies == {"virt-expose:example-vm": DOMAIN}
    assert change.removed == {"special": "key"}
    assert change.kept == {"kubevirt.io/domain=example-vm": "service/by-hand selects on it"}


def test_an_exposure_with_nothing_to_give_back_sends_nothing() -> None:
    target = labeled_vm(DOMAIN, on_template("virt-expose:example-vm", "kubevirt.io/domain"))
    assert unlabelings(VM, target, [hand_made("by-hand", DOMAIN)], []) == []


def test_two_exposures_sharing_a_label_give_it_back_only_together() -> None:
    target = labeled_vm(DOMAIN, on_template("virt-expose:web", "kubevirt.io/domain"),
                        on_template("virt-expose:web-ssh", "kubevirt.io/domain"))
    web, ssh = exposure("web", DOMAIN), exposure("web-ssh", DOMAIN)
    assert unlabelings(VM, target, [ssh], [web, ssh]) == []  # `--name web`: web-ssh selects on the label
    [both] = unlabelings(VM, target, [], [web, ssh])
    assert both.applies == {"virt-expose:web": {}, "virt-expose:web-ssh": {}} and both.removed == DOMAIN


def test_an_exposure_whose_service_is_gone_gives_its_labels_back_too() -> None:
    target = labeled_vm({**DOMAIN, "old": "one"}, on_template("virt-expose:example-vm", "kubevirt.io/domain"),
                        on_template("virt-expose:deleted-by-hand", "old"))
    mine = exposure("example-vm", DOMAIN)
    [change] = unlabelings(VM, target, [mine], [mine])  # `--name something-else`: example-vm remains
    assert change.applies == {"virt-expose:deleted-by-hand": {}} and change.removed == {"old": "one"}


def test_a_custom_field_manager_is_recognised_from_a_service_made_for_the_vm() -> None:
    target = labeled_vm({**DOMAIN, "tool": "x"}, on_template("ci:example-vm", "kubevirt.io/domain"),
                        on_template("some-tool:config", "tool"))  # another applier whose name has a colon
    [change] = unlabelings(VM, target, [], [exposure("example-vm", DOMAIN)])
    assert change.applies == {"ci:example-vm": {}} and change.removed == DOMAIN
    assert unlabelings(VM, target, [], []) == []  # with no Service of it left, "ci" is not known as ours


def test_the_pods_and_the_vmi_give_back_before_the_template() -> None:
    live = {"metadata": {"managedFields": [managed("virt-expose:example-vm", "Apply", ["kubevirt.io/domain"])]}}
    target = labeled_vm(DOMAIN, on_template("virt-expose:example-vm", "kubevirt.io/domain"))
    instance = vmi(labels=DOMAIN)
    instance["metadata"].update(live["metadata"])
    launcher = pod("virt-launcher-example-vm-x", {"kubevirt.io": "virt-launcher", **DOMAIN})
    launcher["metadata"].update(live["metadata"])
    unrelated_pod = pod("virt-launcher-example-vm-y", {"kubevirt.io": "virt-launcher", **DOMAIN})
    changes = unlabelings(VM, target, [], [], instance, [launcher, unrelated_pod])
    assert [(c.kind, c.obj["metadata"]["name"], c.where) for c in changes] == [
        (None, "virt-launcher-example-vm-x", "metadata.labels"), (VMI, "example-vm", "metadata.labels"),
        (VM, "example-vm", "spec.template.metadata.labels")]
    assert all(c.removed == DOMAIN for c in changes)


def test_a_vmi_target_gives_back_its_own_labels_and_a_replica_set_has_none() -> None:
    instance = vmi(labels=DOMAIN)
    instance["metadata"]["managedFields"] = [managed("virt-expose:example-vm", "Apply", ["kubevirt.io/domain"])]
    [change] = unlabelings(VMI, instance, [], [])
    assert change.kind is VMI and change.removed == DOMAIN
    assert unlabelings(VMIRS, replica_set(template_labels=DOMAIN), [], []) == []
