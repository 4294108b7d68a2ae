from __future__ import annotations

import pytest
from kubevirt_objects import options_for, pod, vm, vmi

from oc_virt_expose.errors import RefusedError, UsageError
from oc_virt_expose.selector import (
    DOMAIN_LABEL,
    VMI_ID_LABEL,
    SelectorPlan,
    choose_selector,
    label_key_problem,
    label_value_problem,
    parse_label_pairs,
    vmi_id,
)

LONG_NAME = "my-very-long-virtual-machine-name-that-goes-on-and-on-past-the-label-limit"


def test_vmi_id_as_kubevirt_computes_it() -> None:
    # Values checked with `printf NAME | sha1sum`: KubeVirt keeps 54 characters, '-', 8 hex of sha1.
    assert vmi_id("example-vm") == "example-vm"
    assert vmi_id("a" * 63) == "a" * 63
    assert vmi_id("a" * 64) == "a" * 54 + "-0098ba82"
    assert vmi_id(LONG_NAME) == LONG_NAME[:54] + "-c2cfed40"
    assert len(vmi_id(LONG_NAME)) == 63


@pytest.mark.parametrize("key", ["special", "app.kubernetes.io/name", "a_b.c-d", "example.com/x", "A"])
def test_valid_label_keys(key: str) -> None:
    assert label_key_problem(key) is None


@pytest.mark.parametrize("key", ["", "-a", "a-", "Example.com/x", "/x", "a/", "x" * 64, "a/b/c", "a b"])
def test_invalid_label_keys(key: str) -> None:
    assert label_key_problem(key)


def test_label_values() -> None:
    assert label_value_problem("") is None
    assert label_value_problem("key") is None
    assert label_value_problem("v" * 63) is None
    assert label_value_problem("v" * 64)
    assert label_value_problem("a b")
    assert label_value_problem("-a")


def test_parse_label_pairs() -> None:
    assert parse_label_pairs(["special=key"], "--selector") == {"special": "key"}
    assert parse_label_pairs(["a=1,b=2", "c="], "--labels") == {"a": "1", "b": "2", "c": ""}
    assert parse_label_pairs(["a=1", "a=1"], "--labels") == {"a": "1"}
    for bad, message in [
        ("a", "expected key=value"),
        ("a==b", "equality-based"),
        ("a!=b", "equality-based"),
        ("a=b=c", "expected key=value"),
        ("=b", "its name must be"),
        ("a=b c", "a value must be"),
    ]:
        with pytest.raises(UsageError, match=message):
            parse_label_pairs([bad], "--selector")
    with pytest.raises(UsageError, match="given twice"):
        parse_label_pairs(["a=1,a=2"], "--labels")


SEED_FLAGS = ("vm", "example-vm", "--selector", "special=key", "--port", "80")


def test_seed_stopped_vm_gets_the_template_label() -> None:
    plan = choose_selector(options_for(*SEED_FLAGS), vm())
    assert plan == SelectorPlan({"special": "key"}, "--selector", template_labels={"special": "key"})
    assert not plan.running_vm_lacks_labels


def test_seed_rerun_changes_nothing() -> None:
    plan = choose_selector(options_for(*SEED_FLAGS), vm(template_labels={"special": "key"}))
    assert plan.changes_nothing


def test_selector_never_changes_a_template_label() -> None:
    with pytest.raises(RefusedError, match="VM template has special=other, not special=key: virt-expose never"):
        choose_selector(options_for(*SEED_FLAGS), vm(template_labels={"special": "other"}))
    with pytest.raises(RefusedError):  # --overwrite is about the Service, not the user's labels
        choose_selector(options_for(*SEED_FLAGS, "--overwrite"), vm(template_labels={"special": "other"}))


def test_running_vm_with_id_label_on_its_pod_changes_nothing() -> None:
    running = vmi(labels={"kubevirt.io/domain": "example-vm"})
    pods = [pod("virt-launcher-example-vm-abcde", {VMI_ID_LABEL: "example-vm", "kubevirt.io": "virt-launcher"})]
    plan = choose_selector(options_for("vm", "example-vm"), vm(), running, pods)
    assert plan.selector == {VMI_ID_LABEL: "example-vm"}
    assert plan.changes_nothing


def test_pod_from_before_kubevirt_1_7_falls_back_to_the_template_label_live() -> None:
    running = vmi()
    pods = [pod("virt-launcher-example-vm-abcde", {"kubevirt.io": "virt-launcher"})]
    plan = choose_selector(options_for("vm", "example-vm"), vm(), running, pods)
    assert plan.selector == {DOMAIN_LABEL: "example-vm"}
    assert plan.template_labels == {DOMAIN_LABEL: "example-vm"}
    assert plan.vmi_labels == {DOMAIN_LABEL: "example-vm"}
    assert plan.pod_labels == {"virt-launcher-example-vm-abcde": {DOMAIN_LABEL: "example-vm"}}
    assert plan.running_vm_lacks_labels


def test_migration_with_one_old_pod_uses_the_template_label() -> None:
    pods = [pod("old", {"kubevirt.io": "virt-launcher"}), pod("new", {VMI_ID_LABEL: "example-vm"})]
    plan = choose_selector(options_for("vm", "example-vm"), vm(), vmi(), pods)
    assert plan.selector == {DOMAIN_LABEL: "example-vm"}
    assert set(plan.pod_labels) == {"old", "new"}


def test_finished_pods_are_ignored() -> None:
    pods = [pod("done", {}, phase="Succeeded"), pod("live", {VMI_ID_LABEL: "example-vm"})]
    plan = choose_selector(options_for("vm", "example-vm"), vm(), vmi(), pods)
    assert plan.selector == {VMI_ID_LABEL: "example-vm"}


def test_existing_domain_label_is_reused_with_its_value() -> None:
    plan = choose_selector(options_for("vm", "example-vm"), vm(template_labels={DOMAIN_LABEL: "original"}))
    assert plan.selector == {DOMAIN_LABEL: "original"}
    assert plan.changes_nothing


def test_long_vm_name_gets_a_valid_label_value() -> None:
    plan = choose_selector(options_for("vm", LONG_NAME), vm(LONG_NAME))
    assert plan.selector == {DOMAIN_LABEL: vmi_id(LONG_NAME)}


def test_live_conflict_is_reported_not_raised() -> None:
    running = vmi(labels={"special": "old"})
    plan = choose_selector(options_for(*SEED_FLAGS), vm(), running, [pod("p", {"special": "old"})])
    assert plan.live_conflicts == ("VMI example-vm has special=old, not special=key",
                                   "pod p has special=old, not special=key")
    assert plan.template_labels == {"special": "key"}


def test_vmi_target_conflict_is_refused_as_no_restart_can_fix_it() -> None:
    target = vmi("standalone", labels={"special": "old"})
    with pytest.raises(RefusedError, match="VMI standalone has special=old, not special=key"):
        choose_selector(options_for("vmi", "standalone", "--selector", "special=key"), target)


def test_vmi_target_uses_its_own_labels() -> None:
    target = vmi("standalone", labels={"app": "x"})
    plan = choose_selector(options_for("vmi", "standalone"), target, None, [pod("p", {})])
    assert plan.selector == {DOMAIN_LABEL: "standalone"}
    assert plan.template_labels == {}
    assert plan.vmi_labels == {DOMAIN_LABEL: "standalone"}
    assert plan.pod_labels == {"p": {DOMAIN_LABEL: "standalone"}}
    with_id = choose_selector(options_for("vmi", "standalone"), target, None, [pod("p", {VMI_ID_LABEL: "standalone"})])
    assert with_id.selector == {VMI_ID_LABEL: "standalone"}


def test_never_selects_on_unstable_keys() -> None:
    with pytest.raises(UsageError, match="changes at every restart"):
        choose_selector(options_for("vm", "x", "--selector", "kubevirt.io/created-by=abc"), vm("x"))


def test_launcher_keys_are_never_added_but_warned_about() -> None:
    options = options_for("vm", "example-vm", "--selector", "vm.kubevirt.io/name=example-vm")
    plan = choose_selector(options, vm(), vmi(), [pod("p", {})])
    assert plan.changes_nothing
    assert plan.warnings and "only after the VM restarts" in plan.warnings[0]


def vmirs(selector: dict) -> dict:
    return {"kind": "VirtualMachineInstanceReplicaSet", "metadata": {"name": "rs"},
            "spec": {"selector": selector, "template": {"metadata": {"labels": {"app": "web"}}}}}


def test_replica_set_uses_match_labels() -> None:
    plan = choose_selector(options_for("vmirs", "rs"), vmirs({"matchLabels": {"app": "web"}}))
    assert plan == SelectorPlan({"app": "web"}, "the replica set's selector")


def test_replica_set_refusals() -> None:
    expressions = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]}
    with pytest.raises(RefusedError, match="with match expressions"):
        choose_selector(options_for("vmirs", "rs"), vmirs(expressions))
    with pytest.raises(RefusedError, match="without any selector labels"):
        choose_selector(options_for("vmirs", "rs"), vmirs({}))
    with pytest.raises(RefusedError, match="does not carry tier=db"):
        choose_selector(options_for("vmirs", "rs", "--selector", "tier=db"), vmirs({"matchLabels": {"app": "web"}}))
    assert choose_selector(options_for("vmirs", "rs", "--selector", "app=web"), vmirs({})).selector == {"app": "web"}
