"""`model.selector.choose_selector`: the Service's selector and the labels missing where; pure."""

from __future__ import annotations

from typing import Any

import pytest

from oc_virt_expose.errors import RefusedError, UsageError
from oc_virt_expose.model.kinds import VM, VMI, VMIRS
from oc_virt_expose.model.labels import DOMAIN_LABEL, VMI_ID_LABEL, vmi_id
from oc_virt_expose.model.selector import SelectorPlan, choose_selector
from tests.unit.builders import pod, replica_set, vm, vmi

LONG_NAME = "my-very-long-virtual-machine-name-that-goes-on-and-on-past-the-label-limit"
SEED_SELECTOR = {"special": "key"}  # the seed's --selector special=key


def test_seed_stopped_vm_gets_the_template_label() -> None:
    plan = choose_selector(VM, SEED_SELECTOR, vm())
    assert plan == SelectorPlan({"special": "key"}, "--selector", template_labels={"special": "key"},
                                addable={"special": "key"})
    assert not plan.running_vm_lacks_labels


def test_seed_rerun_changes_nothing() -> None:
    plan = choose_selector(VM, SEED_SELECTOR, vm(template_labels={"special": "key"}))
    assert plan.changes_nothing


def test_selector_never_changes_a_template_label() -> None:
    with pytest.raises(RefusedError, match="VM template has special=other, not special=key: virt-expose never"):
        choose_selector(VM, SEED_SELECTOR, vm(template_labels={"special": "other"}))


def test_running_vm_with_id_label_on_its_pod_changes_nothing() -> None:
    running = vmi(labels={"kubevirt.io/domain": "example-vm"})
    pods = [pod("virt-launcher-example-vm-abcde", {VMI_ID_LABEL: "example-vm", "kubevirt.io": "virt-launcher"})]
    plan = choose_selector(VM, None, vm(), running, pods)
    assert plan.selector == {VMI_ID_LABEL: "example-vm"}
    assert plan.changes_nothing


def test_pod_from_before_kubevirt_1_7_falls_back_to_the_template_label_live() -> None:
    running = vmi()
    pods = [pod("virt-launcher-example-vm-abcde", {"kubevirt.io": "virt-launcher"})]
    plan = choose_selector(VM, None, vm(), running, pods)
    assert plan.selector == {DOMAIN_LABEL: "example-vm"}
    assert plan.template_labels == {DOMAIN_LABEL: "example-vm"}
    assert plan.vmi_labels == {DOMAIN_LABEL: "example-vm"}
    assert plan.pod_labels == {"virt-launcher-example-vm-abcde": {DOMAIN_LABEL: "example-vm"}}
    assert plan.running_vm_lacks_labels


def test_migration_with_one_old_pod_uses_the_template_label() -> None:
    pods = [pod("old", {"kubevirt.io": "virt-launcher"}), pod("new", {VMI_ID_LABEL: "example-vm"})]
    plan = choose_selector(VM, None, vm(), vmi(), pods)
    assert plan.selector == {DOMAIN_LABEL: "example-vm"}
    assert set(plan.pod_labels) == {"old", "new"}


def test_finished_pods_are_ignored() -> None:
    pods = [pod("done", {}, phase="Succeeded"), pod("live", {VMI_ID_LABEL: "example-vm"})]
    plan = choose_selector(VM, None, vm(), vmi(), pods)
    assert plan.selector == {VMI_ID_LABEL: "example-vm"}


def test_existing_domain_label_is_reused_with_its_value() -> None:
    plan = choose_selector(VM, None, vm(template_labels={DOMAIN_LABEL: "original"}))
    assert plan.selector == {DOMAIN_LABEL: "original"}
    assert plan.changes_nothing


def test_long_vm_name_gets_a_valid_label_value() -> None:
    plan = choose_selector(VM, None, vm(LONG_NAME))
    assert plan.selector == {DOMAIN_LABEL: vmi_id(LONG_NAME)}


def test_live_conflict_is_reported_not_raised() -> None:
    running = vmi(labels={"special": "old"})
    plan = choose_selector(VM, SEED_SELECTOR, vm(), running, [pod("p", {"special": "old"})])
    assert plan.live_conflicts == ("VMI example-vm has special=old, not special=key",
                                   "pod p has special=old, not special=key")
    assert plan.template_labels == {"special": "key"}


def test_vmi_target_conflict_is_refused_as_no_restart_can_fix_it() -> None:
    target = vmi("standalone", labels={"special": "old"})
    with pytest.raises(RefusedError, match="VMI standalone has special=old, not special=key"):
        choose_selector(VMI, {"special": "key"}, target)


def test_vmi_target_uses_its_own_labels() -> None:
    target = vmi("standalone", labels={"app": "x"})
    plan = choose_selector(VMI, None, target, None, [pod("p", {})])
    assert plan.selector == {DOMAIN_LABEL: "standalone"}
    assert plan.template_labels == {}
    assert plan.vmi_labels == {DOMAIN_LABEL: "standalone"}
    assert plan.pod_labels == {"p": {DOMAIN_LABEL: "standalone"}}
    with_id = choose_selector(VMI, None, target, None, [pod("p", {VMI_ID_LABEL: "standalone"})])
    assert with_id.selector == {VMI_ID_LABEL: "standalone"}


def test_never_selects_on_unstable_keys() -> None:
    with pytest.raises(UsageError, match="changes at every restart"):
        choose_selector(VM, {"kubevirt.io/created-by": "abc"}, vm("x"))


def test_launcher_keys_are_never_added_but_warned_about() -> None:
    plan = choose_selector(VM, {"vm.kubevirt.io/name": "example-vm"}, vm(), vmi(), [pod("p", {})])
    assert plan.changes_nothing
    assert plan.warnings and "only after the VM restarts" in plan.warnings[0]


def vmirs(selector: dict[str, Any]) -> dict[str, Any]:
    return replica_set("rs", selector, template_labels={"app": "web"})


def test_replica_set_uses_match_labels() -> None:
    plan = choose_selector(VMIRS, None, vmirs({"matchLabels": {"app": "web"}}))
    assert plan == SelectorPlan({"app": "web"}, "the replica set's selector")


def test_replica_set_refusals() -> None:
    expressions = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]}
    with pytest.raises(RefusedError, match="with match expressions"):
        choose_selector(VMIRS, None, vmirs(expressions))
    with pytest.raises(RefusedError, match="without any selector labels"):
        choose_selector(VMIRS, None, vmirs({}))
    with pytest.raises(RefusedError, match="does not carry tier=db"):
        choose_selector(VMIRS, {"tier": "db"}, vmirs({"matchLabels": {"app": "web"}}))
    assert choose_selector(VMIRS, {"app": "web"}, vmirs({})).selector == {"app": "web"}
