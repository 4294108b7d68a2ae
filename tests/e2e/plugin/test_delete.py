"""`kubectl virt-expose delete`: takes down what virt-expose made for a VM (its Services, their Routes, the
labels it added on the template and live on the VMI and pod) and nothing else: Services made by hand are
named and left, labels the user set stay (the API server's field ownership from server-side apply says
which are whose), two exposures sharing a label give it back only together, a re-run is a no-op, and the
dry-run modes change nothing. Requests are counted from the API server's audit log."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oc_virt_expose.model.fields import TEMPLATE_PATH, label_owners
from tests.e2e.plugin_runs import audited
from tests.e2e.workloads import create_vm, launcher_pod, service_or_none, template_labels
from tests.sandbox.audit import RequestCounter
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

USER_LABEL = {"team": "blue"}


def route_manifest(name: str, service: str) -> dict[str, Any]:
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": name},
            "spec": {"to": {"kind": "Service", "name": service}, "port": {"targetPort": 80}}}


def route_or_none(sandbox: RunningSandbox, namespace: str, name: str) -> dict[str, Any] | None:
    found = sandbox.kubectl("get", "route", name, "-o", "json", "--ignore-not-found", namespace=namespace)
    return json.loads(found.stdout) if found.stdout.strip() else None


def live_objects(sandbox: RunningSandbox, namespace: str, vm: str) -> dict[str, dict[str, Any]]:
    """The VM, its VMI and its launcher pod, as the server has them now."""
    return {"vm": sandbox.get("vm", vm, namespace=namespace),
            "vmi": sandbox.get("vmi", vm, namespace=namespace),
            "pod": sandbox.get("pod", launcher_pod(sandbox, namespace, vm)["metadata"]["name"],
                               namespace=namespace)}


def labels_of(objects: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The template labels of the VM, and the labels of the VMI and pod."""
    return {"vm": objects["vm"]["spec"]["template"]["metadata"].get("labels") or {},
            "vmi": objects["vmi"]["metadata"].get("labels") or {},
            "pod": objects["pod"]["metadata"].get("labels") or {}}


def exposure_managers(objects: dict[str, dict[str, Any]]) -> set[str]:
    """virt-expose's field managers that still own anything on the VM, the VMI or the pod."""
    entries = [entry for obj in objects.values() for entry in obj["metadata"].get("managedFields") or []]
    return {entry["manager"] for entry in entries if entry["manager"].startswith("virt-expose:")}


def state(sandbox: RunningSandbox, namespace: str) -> dict[str, Any]:
    """What `delete` may change in the namespace: its Services and Routes (by uid), the labels of its VMs'
    templates, VMIs and pods, and who owns them (not resourceVersions: controllers update statuses)."""
    listing = [{**item, "kind": kind} for resource, kind in (("services", "Service"), ("routes", "Route"),
                                                           ("vm", "VirtualMachine"),
                                                           ("vmi", "VirtualMachineInstance"), ("pods", "Pod"))
               for item in sandbox.get(resource, namespace=namespace)["items"]]
    found: dict[str, Any] = {}
    for item in listing:
        key = f"{item['kind']}/{item['metadata']['name']}"
        if item["kind"] in ("Service", "Route"):
            found[key] = item["metadata"]["uid"]
        else:
            path = TEMPLATE_PATH if item["kind"] == "VirtualMachine" else ("metadata",)
            labels = item["spec"]["template"]["metadata"].get("labels") if path == TEMPLATE_PATH \
                else item["metadata"].get("labels")
            found[key] = (labels, label_owners(item, path))
    return found


def test_delete_takes_down_what_it_made_on_a_running_vm_and_leaves_the_users_labels_and_services(
        sandbox: RunningSandbox, namespace: str, virt_expose, requests_made: RequestCounter) -> None:
    create_vm(sandbox, namespace, vm_manifest("web"))
    pod = launcher_pod(sandbox, namespace, "web")["metadata"]["name"]
    # the user's label, set before exposing: on the template by patch, on the VMI and pod by label
    sandbox.kubectl("patch", "vm", "web", "--type", "merge", "-p",
                    json.dumps({"spec": {"template": {"metadata": {"labels": USER_LABEL}}}}), namespace=namespace)
    sandbox.kubectl("label", "vmi", "web", "team=blue", namespace=namespace)
    sandbox.kubectl("label", "pod", pod, "team=blue", namespace=namespace)
    exposed = virt_expose("vm", "web", "-n", namespace, "--port", "80", "--selector", "team=blue,special=key")
    assert exposed.code == 0, exposed
    assert all(labels.items() >= {"special": "key", **USER_LABEL}.items()
               for labels in labels_of(live_objects(sandbox, namespace, "web")).values())
    sandbox.kubectl("create", "service", "clusterip", "by-hand", "--tcp=8080:80", namespace=namespace)
    sandbox.kubectl("set", "selector", "service/by-hand", "team=blue", namespace=namespace)
    sandbox.apply(route_manifest("web", "web"), namespace)

    before = state(sandbox, namespace)
    preview = virt_expose("delete", "vm", "web", "-n", namespace, "--dry-run=client")
    assert preview.code == 0, preview
    assert preview.stdout.splitlines()[:2] == ['route.route.openshift.io "web" deleted (dry run)',
                                               'service "web" deleted (dry run)']
    assert [verb for verb in preview.verbs() if verb.split()[0] not in ("GET", "LIST")] == []
    assert state(sandbox, namespace) == before

    requests_made.start()
    deleted = virt_expose("delete", "vm", "web", "-n", namespace, verbose=False)
    assert deleted.code == 0, deleted
    expected = ['route.route.openshift.io "web" deleted', 'service "web" deleted']
    for changed, where in ((f"pod/{pod}", "metadata.labels"),
                           ("virtualmachineinstance.kubevirt.io/web", "metadata.labels"),
                           ("virtualmachine.kubevirt.io/web", "spec.template.metadata.labels")):
        expected += [f"{changed} unlabeled", f"  {where}: -special=key",
                     f"  {where}: kept team=blue (service/by-hand selects on it)"]
    assert deleted.stdout.splitlines() == expected
    assert deleted.stderr == ("Warning: service/by-hand selects VirtualMachine web but was not made for it by "
                              "virt-expose: left in place (delete it with --name by-hand)\n")
    assert audited(requests_made) == [
        "get virtualmachines", "list services", "list routes", "get virtualmachineinstances", "list pods",
        "delete routes", "delete services", "patch pods", "patch virtualmachineinstances", "patch virtualmachines"]
    after = live_objects(sandbox, namespace, "web")
    assert after["pod"]["metadata"]["name"] == pod  # given back live, no restart
    for labels in labels_of(after).values():
        assert "special" not in labels and labels.items() >= USER_LABEL.items()
    assert service_or_none(sandbox, namespace, "web") is None and route_or_none(sandbox, namespace, "web") is None
    assert service_or_none(sandbox, namespace, "by-hand") is not None

    by_name = virt_expose("delete", "vm", "web", "-n", namespace, "--name", "by-hand")
    assert by_name.code == 0, by_name
    assert by_name.stdout.splitlines()[-2:] == [
        "virtualmachine.kubevirt.io/web unchanged",
        "  spec.template.metadata.labels: kept team=blue (also set by kubectl-patch)"]
    assert by_name.stdout.splitlines()[0] == 'service "by-hand" deleted'
    assert service_or_none(sandbox, namespace, "by-hand") is None
    after = live_objects(sandbox, namespace, "web")
    assert all(labels.items() >= USER_LABEL.items() for labels in labels_of(after).values())
    assert exposure_managers(after) == set()  # nothing of virt-expose's is left on them

    requests_made.start()
    again = virt_expose("delete", "vm", "web", "-n", namespace, verbose=False)
    assert again.code == 0, again
    assert again.stdout == "nothing to delete: virt-expose made no Service for VirtualMachine web\n"
    assert audited(requests_made) == ["get virtualmachines", "list services"]


def test_two_exposures_sharing_the_default_label_give_it_back_only_together(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("pair", running=False))
    for name, port in (("pair", "80"), ("pair-ssh", "22")):
        exposed = virt_expose("vm", "pair", "-n", namespace, "--name", name, "--port", port)
        assert exposed.code == 0, exposed
    assert template_labels(sandbox, namespace, "pair")["kubevirt.io/domain"] == "pair"

    first = virt_expose("delete", "vm", "pair", "-n", namespace, "--name", "pair-ssh")
    assert first.code == 0, first
    assert first.stdout == 'service "pair-ssh" deleted\n'
    assert first.verbs() == ["GET virtualmachines", "LIST services", "LIST routes", "DELETE services"]
    assert template_labels(sandbox, namespace, "pair")["kubevirt.io/domain"] == "pair"

    before = state(sandbox, namespace)
    server_dry_run = virt_expose("delete", "vm", "pair", "-n", namespace, "--dry-run=server", "-o", "name")
    assert server_dry_run.code == 0, server_dry_run
    assert server_dry_run.stdout == "service/pair\n"
    assert all("dryRun=All" in request for request in server_dry_run.requests
               if request.split()[0] in ("DELETE", "PATCH"))
    assert state(sandbox, namespace) == before

    second = virt_expose("delete", "vm", "pair", "-n", namespace)
    assert second.code == 0, second
    assert second.stdout.splitlines() == ['service "pair" deleted', "virtualmachine.kubevirt.io/pair unlabeled",
                                          "  spec.template.metadata.labels: -kubevirt.io/domain=pair"]
    assert second.verbs() == ["GET virtualmachines", "LIST services", "LIST routes", "DELETE services",
                              "PATCH virtualmachines", "PATCH virtualmachines"]  # one apply per exposure
    vm = sandbox.get("vm", "pair", namespace=namespace)
    assert "kubevirt.io/domain" not in (vm["spec"]["template"]["metadata"].get("labels") or {})
    assert exposure_managers({"vm": vm}) == set()
    assert service_or_none(sandbox, namespace, "pair") is None

    # given back, the label can be taken again: the exposure's manager holds nothing that gets in the way
    exposed = virt_expose("vm", "pair", "-n", namespace, "--port", "80")
    assert exposed.code == 0, exposed
    assert template_labels(sandbox, namespace, "pair")["kubevirt.io/domain"] == "pair"


def test_a_vm_selected_by_kubevirts_own_label_costs_four_requests(
        sandbox: RunningSandbox, namespace: str, virt_expose, requests_made: RequestCounter) -> None:
    create_vm(sandbox, namespace, vm_manifest("plain"))
    exposed = virt_expose("vm", "plain", "-n", namespace, "--port", "80")
    assert exposed.code == 0, exposed
    vm_version = sandbox.get("vm", "plain", namespace=namespace)["metadata"]["resourceVersion"]
    requests_made.start()
    deleted = virt_expose("delete", "vm/plain", "-n", namespace, verbose=False)
    assert deleted.code == 0, deleted
    assert deleted.stdout == 'service "plain" deleted\n'
    assert audited(requests_made) == ["get virtualmachines", "list services", "list routes", "delete services"]
    assert sandbox.get("vm", "plain", namespace=namespace)["metadata"]["resourceVersion"] == vm_version


def test_name_of_a_missing_service_is_not_found_and_changes_nothing(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("lonely", running=False))
    result = virt_expose("delete", "vm", "lonely", "-n", namespace, "--name", "nothing-here")
    assert result.code == 1, result
    assert result.stderr == 'error: Error from server (NotFound): services "nothing-here" not found\n'
    assert result.verbs() == ["GET virtualmachines", "LIST services"]


def test_a_vmi_gives_back_the_labels_exposing_it_added_to_it_and_its_pod(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("solo"))
    pod = launcher_pod(sandbox, namespace, "solo")["metadata"]["name"]
    exposed = virt_expose("vmi", "solo", "-n", namespace, "--port", "80", "--selector", "tier=x")
    assert exposed.code == 0, exposed
    deleted = virt_expose("delete", "vmi", "solo", "-n", namespace)
    assert deleted.code == 0, deleted
    assert deleted.stdout.splitlines() == [
        'service "solo" deleted', f"pod/{pod} unlabeled", "  metadata.labels: -tier=x",
        "virtualmachineinstance.kubevirt.io/solo unlabeled", "  metadata.labels: -tier=x"]
    assert deleted.verbs() == ["GET virtualmachineinstances", "LIST services", "LIST routes", "LIST pods",
                               "DELETE services", "PATCH pods", "PATCH virtualmachineinstances"]
    after = live_objects(sandbox, namespace, "solo")
    assert all("tier" not in labels for labels in labels_of(after).values())
    assert exposure_managers(after) == set()
