"""`delete --name` run again after a failure that deleted the Service and not yet the labels: the labels of
that exposure are still on the template, so there is something left to do (not a NotFound). Pure; the e2e
test is tests/e2e/plugin/test_faults.py `test_delete_by_name_re_run_gives_back_the_labels_a_failed_run_left`."""

from __future__ import annotations

import pytest

from oc_virt_expose.commands.delete.options import DeleteRequest
from oc_virt_expose.commands.delete.plan import choose_services, unlabelings
from oc_virt_expose.errors import NotFoundError
from oc_virt_expose.model.kinds import VM
from tests.unit.commands.delete.test_delete_plan import labeled_vm, on_template

BY_NAME = DeleteRequest(VM, "example-vm", "web")


def test_the_labels_of_the_named_exposure_left_behind_are_given_back() -> None:
    target = labeled_vm({"app": "web"}, on_template("virt-expose:web", "app"))
    choice = choose_services(BY_NAME, target, [])
    assert choice.delete == [] and choice.left == []
    [change] = unlabelings(VM, target, [], [])
    assert change.removed == {"app": "web"} and dict(change.applies) == {"virt-expose:web": {}}


def test_without_that_exposures_labels_a_missing_name_is_still_not_found() -> None:
    target = labeled_vm({"app": "web"}, on_template("virt-expose:other", "app"))
    with pytest.raises(NotFoundError, match='services "web" not found'):
        choose_services(BY_NAME, target, [])
