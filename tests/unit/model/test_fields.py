"""`model.fields`: which labels each field manager owns, from `metadata.managedFields`; an exposure's
manager `<field manager>:<Service>` and back."""

from __future__ import annotations

from typing import Any

from oc_virt_expose.model.fields import TEMPLATE_PATH, applied_labels, exposure_of, label_manager


def managed(manager: str, operation: str, keys: list[str], path: tuple[str, ...] = ("metadata",)) -> dict[str, Any]:
    """One `managedFields` entry owning the label `keys` at `path`."""
    fields: dict[str, Any] = {"f:labels": {f"f:{key}": {} for key in keys}}
    for step in reversed(path):
        fields = {f"f:{step}": fields}
    return {"manager": manager, "operation": operation, "apiVersion": "v1", "fieldsType": "FieldsV1",
            "fieldsV1": fields}


def test_exposure_of_is_label_managers_inverse() -> None:
    assert exposure_of(label_manager("virt-expose", "web")) == ("virt-expose", "web")
    assert exposure_of(label_manager("ci:bot", "web-ssh")) == ("ci:bot", "web-ssh")  # the Service has no ':'
    for other in ("kubectl-label", "virt-controller", ":web", "virt-expose:"):
        assert exposure_of(other) is None


def test_applied_labels_are_the_apply_managers_keys_at_the_path() -> None:
    vm = {"metadata": {"managedFields": [
        managed("virt-expose:web", "Apply", ["kubevirt.io/domain", "special"], TEMPLATE_PATH),
        managed("virt-expose:ssh", "Apply", ["kubevirt.io/domain"], TEMPLATE_PATH),
        managed("kubectl-label", "Update", ["special"], TEMPLATE_PATH),  # an update owns too, but is not an apply
        managed("virt-expose:own", "Apply", ["app"]),  # the VM's own labels, not its template's
    ]}}
    assert applied_labels(vm, TEMPLATE_PATH) == {"virt-expose:web": {"kubevirt.io/domain", "special"},
                                                 "virt-expose:ssh": {"kubevirt.io/domain"}}
    assert applied_labels(vm) == {"virt-expose:own": {"app"}}
    assert applied_labels({"metadata": {}}) == {}
