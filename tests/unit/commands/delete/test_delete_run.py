"""`delete`'s run against an in-memory API: which requests, in which order, what is printed, the dry-run
modes and `-o name`. What the server does with the applies (which labels go) is the e2e suite's part
(tests/e2e/plugin/test_delete.py), against the real API server."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest

from oc_virt_expose.access.kubevirt import Cluster
from oc_virt_expose.access.removal import Removal
from oc_virt_expose.commands.delete.options import DeleteRequest
from oc_virt_expose.commands.delete.run import Deletion
from oc_virt_expose.errors import ConflictError, ExitCode, NotFoundError, VirtExposeError
from oc_virt_expose.model.kinds import VM
from oc_virt_expose.model.settings import DryRun, OutputFormat
from oc_virt_expose.ui.printer import Printer
from tests.unit.builders import pod, vmi
from tests.unit.commands.delete.test_delete_plan import DOMAIN, exposure, hand_made, labeled_vm, on_template, route
from tests.unit.model.test_fields import managed

NS = "example-namespace"
VMS = f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines"
VMIS = f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances"
SERVICES = f"/api/v1/namespaces/{NS}/services"
ROUTES = f"/apis/route.openshift.io/v1/namespaces/{NS}/routes"
PODS = f"/api/v1/namespaces/{NS}/pods"


class FakeClient:
    """Just enough of client.Client: objects by path, each request recorded as `VERB path`; a Route LIST
    answers as a cluster without the Route API when `routes` is False."""

    def __init__(self, objects: dict[str, dict[str, Any]], *, routes: bool = True,
                 conflict_on: str | None = None) -> None:
        self.objects = copy.deepcopy(objects)
        self.routes = routes
        self.conflict_on = conflict_on
        self.requests: list[str] = []
        self.deletes: list[dict[str, Any]] = []
        self.applies: list[tuple[str, str | None, dict[str, Any]]] = []

    def get(self, path: str, **_: Any) -> dict[str, Any]:
        self.requests.append(f"GET {path}")
        if path not in self.objects:
            name = path.rsplit("/", 1)[-1]
            raise NotFoundError(f'"{name}" not found', status=404, reason="NotFound", details={"name": name})
        return copy.deepcopy(self.objects[path])

    def list(self, path: str, **_: Any) -> dict[str, Any]:
        self.requests.append(f"LIST {path}")
        if path == ROUTES and not self.routes:
            raise NotFoundError("the server could not find the requested resource", status=404, reason="NotFound")
        return {"items": [copy.deepcopy(o) for p, o in self.objects.items() if p.rsplit("/", 1)[0] == path]}

    def delete(self, path: str, *, dry_run: bool = False, propagation_policy: str | None = None,
               uid: str | None = None) -> dict[str, Any]:
        self.requests.append(f"DELETE {path}" + (" dryRun" if dry_run else ""))
        self.deletes.append({"path": path, "propagation": propagation_policy, "uid": uid})
        if path == self.conflict_on:
            raise ConflictError("Error from server (Conflict): Precondition failed: UID in precondition", status=409)
        if path not in self.objects:
            raise NotFoundError("not found", status=404, reason="NotFound", details={"name": path})
        if not dry_run:
            del self.objects[path]
        return {}

    def patch(self, path: str, patch: dict[str, Any], *, patch_type: str = "merge", dry_run: bool = False,
              field_manager: str | None = None, **_: Any) -> dict[str, Any]:
        self.requests.append(f"PATCH {path}" + (" dryRun" if dry_run else ""))
        assert patch_type == "apply" and "resourceVersion" not in patch["metadata"]
        self.applies.append((path, field_manager, patch))
        return copy.deepcopy(self.objects[path])


def execute(client: FakeClient, request: DeleteRequest, dry_run: DryRun = DryRun.NONE,
            output: OutputFormat | None = None) -> tuple[ExitCode, str, str]:
    out, err = io.StringIO(), io.StringIO()
    printer = Printer(out, err, output=output, dry_run=dry_run, progress=False)
    server = dry_run is DryRun.SERVER
    cluster = Cluster(client, NS, dry_run=server)  # type: ignore[arg-type]
    removal = Removal(client, NS, dry_run=server)  # type: ignore[arg-type]
    return Deletion(request, dry_run, printer, cluster, removal).execute(), out.getvalue(), err.getvalue()


def short(requests: list[str]) -> list[str]:
    """`DELETE services/example-vm`, `LIST routes`: the requests without the namespace's prefix."""
    result = []
    for request in requests:
        verb, path = request.split(" ", 1)
        parts = path.split(" ")[0].split("/")
        tail = parts[-1] if verb == "LIST" else "/".join(parts[-2:])
        result.append(f"{verb} {tail}" + (" dryRun" if path.endswith("dryRun") else ""))
    return result


def exposed_stopped_vm() -> dict[str, dict[str, Any]]:
    """example-vm (stopped) exposed by `example-vm` with its template label, a Route to it, and a Service
    made by hand that selects it too."""
    service = exposure("example-vm", DOMAIN)
    service["metadata"]["uid"] = "svc-uid"
    target = labeled_vm({**DOMAIN, "app": "web"}, on_template("virt-expose:example-vm", "kubevirt.io/domain"))
    return {f"{VMS}/example-vm": target, f"{SERVICES}/example-vm": service,
            f"{SERVICES}/by-hand": hand_made("by-hand", {"app": "web"}),
            f"{ROUTES}/web": dict(route("web", "example-vm"), metadata={"name": "web", "uid": "route-uid"})}


def test_stopped_vm_five_requests_route_first_then_service_then_template_label() -> None:
    client = FakeClient(exposed_stopped_vm())
    code, out, err = execute(client, DeleteRequest(VM, "example-vm"))
    assert code is ExitCode.OK
    assert short(client.requests) == ["GET virtualmachines/example-vm", "LIST services", "LIST routes",
                                      "DELETE routes/web", "DELETE services/example-vm",
                                      "PATCH virtualmachines/example-vm"]
    assert [(d["propagation"], d["uid"]) for d in client.deletes] == [("Background", "route-uid"),
                                                                       ("Background", "svc-uid")]
    [(_, manager, body)] = client.applies
    assert manager == "virt-expose:example-vm"
    # it keeps nothing (the hand-made Service selects on app only): its apply names the VM alone
    assert body == {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                    "metadata": {"name": "example-vm", "namespace": NS}}
    assert out.splitlines() == [
        'route.route.openshift.io "web" deleted',
        'service "example-vm" deleted',
        "virtualmachine.kubevirt.io/example-vm unlabeled",
        "  spec.template.metadata.labels: -kubevirt.io/domain=example-vm"]
    assert err == ("Warning: service/by-hand selects VirtualMachine example-vm but was not made for it by "
                   "virt-expose: left in place (delete it with --name by-hand)\n")
    assert f"{SERVICES}/by-hand" in client.objects


def test_a_second_run_reads_twice_and_says_there_is_nothing_to_delete() -> None:
    objects = exposed_stopped_vm()
    del objects[f"{SERVICES}/example-vm"]
    objects[f"{VMS}/example-vm"]["metadata"]["managedFields"] = []  # the server dropped the empty manager
    client = FakeClient(objects)
    code, out, _ = execute(client, DeleteRequest(VM, "example-vm"))
    assert code is ExitCode.OK
    assert short(client.requests) == ["GET virtualmachines/example-vm", "LIST services"]
    assert out == "nothing to delete: virt-expose made no Service for VirtualMachine example-vm\n"


def test_dry_run_client_reads_and_prints_and_sends_no_write() -> None:
    client = FakeClient(exposed_stopped_vm())
    code, out, _ = execute(client, DeleteRequest(VM, "example-vm"), DryRun.CLIENT)
    assert code is ExitCode.OK
    assert [r.split()[0] for r in client.requests] == ["GET", "LIST", "LIST"]
    assert out.splitlines()[:3] == ['route.route.openshift.io "web" deleted (dry run)',
                                    'service "example-vm" deleted (dry run)',
                                    "virtualmachine.kubevirt.io/example-vm unlabeled (dry run)"]


def test_dry_run_server_sends_every_write_as_a_dry_run() -> None:
    client = FakeClient(exposed_stopped_vm())
    code, out, _ = execute(client, DeleteRequest(VM, "example-vm"), DryRun.SERVER)
    assert code is ExitCode.OK
    writes = [r for r in client.requests if r.split()[0] in ("DELETE", "PATCH")]
    assert len(writes) == 3 and all(w.endswith(" dryRun") for w in writes)
    assert 'service "example-vm" deleted (server dry run)' in out.splitlines()


def test_output_name_prints_the_deleted_objects_and_moves_the_rest_to_stderr() -> None:
    client = FakeClient(exposed_stopped_vm())
    code, out, err = execute(client, DeleteRequest(VM, "example-vm"), output=OutputFormat.NAME)
    assert code is ExitCode.OK
    assert out == "route.route.openshift.io/web\nservice/example-vm\n"
    assert 'service "example-vm" deleted' in err


def test_no_route_api_means_no_routes_to_delete() -> None:
    objects = exposed_stopped_vm()
    del objects[f"{ROUTES}/web"]
    client = FakeClient(objects, routes=False)
    code, out, _ = execute(client, DeleteRequest(VM, "example-vm", keep_label=True))
    assert code is ExitCode.OK
    assert short(client.requests) == ["GET virtualmachines/example-vm", "LIST services", "LIST routes",
                                      "DELETE services/example-vm"]  # --keep-label: no PATCH
    assert out == 'service "example-vm" deleted\n'


def test_running_vm_reads_its_vmi_and_pods_and_gives_their_labels_back() -> None:
    objects = exposed_stopped_vm()
    del objects[f"{ROUTES}/web"]
    objects[f"{VMS}/example-vm"]["spec"]["runStrategy"] = "Always"
    ours = [managed("virt-expose:example-vm", "Apply", ["kubevirt.io/domain"])]
    objects[f"{VMIS}/example-vm"] = vmi(labels=DOMAIN, phase="Running")
    objects[f"{VMIS}/example-vm"]["metadata"]["managedFields"] = ours
    launcher = pod("virt-launcher-example-vm-x", {"kubevirt.io/created-by": "vmi-uid", **DOMAIN})
    launcher["metadata"]["managedFields"] = ours
    objects[f"{PODS}/virt-launcher-example-vm-x"] = launcher
    client = FakeClient(objects)
    code, out, _ = execute(client, DeleteRequest(VM, "example-vm"))
    assert code is ExitCode.OK
    assert short(client.requests) == [
        "GET virtualmachines/example-vm", "LIST services", "LIST routes", "GET virtualmachineinstances/example-vm",
        "LIST pods", "DELETE services/example-vm", "PATCH pods/virt-launcher-example-vm-x",
        "PATCH virtualmachineinstances/example-vm", "PATCH virtualmachines/example-vm"]
    assert "pod/virt-launcher-example-vm-x unlabeled" in out.splitlines()


def test_a_service_re_created_meanwhile_is_left_and_the_error_says_what_was_done() -> None:
    client = FakeClient(exposed_stopped_vm(), conflict_on=f"{SERVICES}/example-vm")
    with pytest.raises(VirtExposeError) as raised:
        execute(client, DeleteRequest(VM, "example-vm"))
    message = str(raised.value)
    assert message.startswith("Error from server (Conflict): Precondition failed")
    assert "changed or re-created by someone else meanwhile" in message
    assert 'done before the failure: route.route.openshift.io "web" deleted; re-running' in message
    assert "PATCH" not in " ".join(client.requests)  # its labels stay with it


def test_a_running_vm_selected_by_kubevirts_id_label_needs_no_live_read() -> None:
    service = exposure("example-vm", {"vmi.kubevirt.io/id": "example-vm"})
    target = labeled_vm({})
    target["spec"]["runStrategy"] = "Always"
    client = FakeClient({f"{VMS}/example-vm": target, f"{SERVICES}/example-vm": service})
    code, _, _ = execute(client, DeleteRequest(VM, "example-vm"))
    assert code is ExitCode.OK
    assert short(client.requests) == ["GET virtualmachines/example-vm", "LIST services", "LIST routes",
                                      "DELETE services/example-vm"]


def test_a_label_a_remaining_service_still_selects_on_needs_no_live_read() -> None:
    special = {"special": "key"}
    target = labeled_vm(special, on_template("virt-expose:web", "special"), on_template("virt-expose:ssh", "special"))
    target["spec"]["runStrategy"] = "Always"
    client = FakeClient({f"{VMS}/example-vm": target, f"{SERVICES}/web": exposure("web", special),
                         f"{SERVICES}/ssh": exposure("ssh", special)})
    code, out, _ = execute(client, DeleteRequest(VM, "example-vm", "ssh"))
    assert code is ExitCode.OK and out == 'service "ssh" deleted\n'
    assert short(client.requests) == ["GET virtualmachines/example-vm", "LIST services", "LIST routes",
                                      "DELETE services/ssh"]
