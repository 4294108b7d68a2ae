"""One object's run (`commands.expose.single.Run`) against an in-memory API: order of requests, counts,
messages; the plugin's end-to-end tests (tests/e2e/plugin/) check the same against the real KubeVirt."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from oc_virt_expose.access.kubevirt import Cluster
from oc_virt_expose.commands.expose.single import Run
from oc_virt_expose.errors import ExitCode, ForbiddenError, NotFoundError, NotServingError, VirtExposeError
from oc_virt_expose.model.settings import DryRun
from oc_virt_expose.ui.printer import Printer
from tests.unit.builders import endpoint_slice, pod, validated, vm, vmi

NS = "example-namespace"
POD_NAME = "virt-launcher-example-vm-abcde"
VM_PATH = f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines/example-vm"
VMI_PATH = f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances/example-vm"
POD_PATH = f"/api/v1/namespaces/{NS}/pods/{POD_NAME}"
SEED = ("vm", "example-vm", "--name", "example-service", "--selector", "special=key", "--type", "NodePort",
        "--port", "80", "--target-port", "9376", "--node-port", "30000")


class FakeClient:
    """Just enough of client.Client: objects by path; a label apply merges into the object, as the server
    does for labels no one else owns."""

    def __init__(self, objects: dict[str, dict[str, Any]], slices: list[dict[str, Any]] | None = None,
                 forbidden: tuple[str, ...] = ()) -> None:
        self.objects = copy.deepcopy(objects)
        self.slices = slices or []
        self.forbidden = forbidden
        self.requests: list[str] = []
        self.appliers: list[str | None] = []

    def get(self, path: str, **_: Any) -> dict[str, Any]:
        self.requests.append(f"GET {path}")
        if path not in self.objects:  # the API server's Status names the object it did not find
            plural, name = path.split("/")[-2:]
            raise NotFoundError(f'Error from server (NotFound): {plural} "{name}" not found', status=404,
                                reason="NotFound", details={"name": name, "kind": plural})
        return copy.deepcopy(self.objects[path])

    def list(self, path: str, *, label_selector: str | None = None, **_: Any) -> dict[str, Any]:
        self.requests.append(f"LIST {path}")
        items = [copy.deepcopy(o) for p, o in self.objects.items() if p.rsplit("/", 1)[0] == path
                 and _selects(label_selector, o)]
        return {"items": items}

    def patch(self, path: str, patch: dict[str, Any], *, patch_type: str = "merge", dry_run: bool = False,
              field_manager: str | None = None, **_: Any) -> dict[str, Any]:
        self.requests.append(f"PATCH {path}" + (" dryRun" if dry_run else ""))
        if any(word in path for word in self.forbidden):
            raise ForbiddenError(f"Error from server (Forbidden): cannot patch {path}", status=403)
        current = self.objects[path]
        assert patch_type == "apply" and "resourceVersion" not in patch["metadata"]  # labels by server-side apply
        self.appliers.append(field_manager)
        merged = _merge(copy.deepcopy(current), patch)
        if not dry_run:
            merged["metadata"]["resourceVersion"] = str(int(current["metadata"]["resourceVersion"]) + 1)
            self.objects[path] = merged
        return copy.deepcopy(merged)

    def create(self, path: str, body: dict[str, Any], *, dry_run: bool = False, **_: Any) -> dict[str, Any]:
        self.requests.append(f"POST {path}" + (" dryRun" if dry_run else ""))
        created = copy.deepcopy(body)
        created["metadata"]["resourceVersion"] = "1"
        created["spec"]["clusterIP"] = "10.96.0.10"
        created["spec"]["ipFamilies"] = ["IPv4"]
        if not dry_run:
            self.objects[f"{path}/{body['metadata']['name']}"] = created
        return created

    def put(self, path: str, body: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        self.requests.append(f"PUT {path}")
        return {}

    def watch(self, path: str, **_: Any) -> Iterator[dict[str, Any]]:
        self.requests.append(f"WATCH {path}")
        for added in self.slices:
            yield {"type": "ADDED", "object": added}


def _selects(selector: str | None, obj: dict[str, Any]) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(labels.get(k) == v for k, _, v in (pair.partition("=") for pair in (selector or "").split(",") if pair))


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        target[key] = _merge(target.get(key) or {}, value) if isinstance(value, dict) else value
    return target


def running_objects(pod_labels: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    labels = {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "vmi-uid", **(pod_labels or {})}
    return {
        VM_PATH: vm(run_strategy="Always", resource_version="10"),
        VMI_PATH: vmi(resource_version="20", phase="Running"),
        POD_PATH: pod(POD_NAME, labels, uid="pod-uid", resource_version="30", host_ip="192.168.0.2"),
    }


def ready_slice(pod_name: str = POD_NAME, pod_uid: str = "pod-uid") -> dict[str, Any]:
    return endpoint_slice("IPv4", [(pod_name, pod_uid, "10.244.0.5", True)], 80, service="example-vm", name="s1",
                          resource_version="40")


def execute(client: FakeClient, *argv: str) -> tuple[ExitCode, str, str]:
    request, common = validated(*argv)
    out, err = io.StringIO(), io.StringIO()
    printer = Printer(out, err, output=common.output, dry_run=common.dry_run, progress=False)
    cluster = Cluster(client, NS, dry_run=common.dry_run is DryRun.SERVER)  # type: ignore[arg-type]
    return Run(request, common.dry_run, printer, cluster).execute(), out.getvalue(), err.getvalue()


def stopped_objects() -> dict[str, dict[str, Any]]:
    return {VM_PATH: vm(resource_version="5")}


def test_seed_scenario_takes_six_requests_and_verifies_statically() -> None:
    client = FakeClient(stopped_objects())
    code, out, _ = execute(client, *SEED)
    assert code is ExitCode.OK
    assert [r.split(" ")[0] + " " + r.split("/")[-1].split("?")[0] for r in client.requests] == [
        "GET example-vm", "GET example-service", "LIST networkpolicies", "POST services", "PATCH example-vm",
        "LIST nodes"]  # the nodes: addresses for the summary's node-port lines
    assert out.splitlines()[:2] == ["service/example-service created", "virtualmachine.kubevirt.io/example-vm labeled"]
    assert client.objects[VM_PATH]["spec"]["template"]["metadata"]["labels"] == {"special": "key"}
    again = FakeClient(client.objects)
    code, out, _ = execute(again, *SEED)
    assert code is ExitCode.OK and out.splitlines()[0] == "service/example-service unchanged"
    assert [r.split(" ")[0] for r in again.requests] == ["GET", "GET", "LIST", "LIST"]  # reads and nodes, no write


def test_client_dry_run_sends_no_write() -> None:
    client = FakeClient(stopped_objects())
    code, out, _ = execute(client, *SEED, "--dry-run=client")
    assert code is ExitCode.OK
    assert all(r.startswith(("GET", "LIST")) for r in client.requests)
    assert "kind: Service" in out and "(dry run)" in out


def test_server_dry_run_marks_every_write() -> None:
    client = FakeClient(stopped_objects())
    code, _, err = execute(client, *SEED, "--dry-run=server", "-o", "json")
    assert code is ExitCode.OK
    writes = [r for r in client.requests if r.startswith(("PATCH", "POST"))]
    assert len(writes) == 2 and all(r.endswith("dryRun") for r in writes)
    assert "labeled (server dry run)" in err
    assert VM_PATH in client.objects and "labels" not in client.objects[VM_PATH]["spec"]["template"]["metadata"]


def test_running_vm_is_labeled_live_then_verified_by_one_watch() -> None:
    client = FakeClient(running_objects(), slices=[ready_slice()])
    code, out, _ = execute(client, "vm", "example-vm", "--port", "80")
    assert code is ExitCode.OK
    verbs = [r.split(" ")[0] for r in client.requests]
    assert verbs == ["GET", "GET", "LIST", "GET", "LIST", "POST", "PATCH", "PATCH", "PATCH", "WATCH"]
    assert client.objects[POD_PATH]["metadata"]["labels"]["kubevirt.io/domain"] == "example-vm"
    assert client.appliers == ["virt-expose:example-vm"] * 3  # one field manager per exposure
    assert "service/example-vm verified: 1 ready endpoint 10.244.0.5:80" in out
    assert "192.168.0.2" not in out  # a ClusterIP Service has no node port to show


def test_refused_live_labelling_says_what_was_done_and_exits_3() -> None:
    client = FakeClient(running_objects(), forbidden=("virtualmachineinstances",))
    with pytest.raises(NotServingError, match="--restart=always") as refused:
        execute(client, "vm", "example-vm", "--port", "80")
    assert "service/example-vm created; virtualmachine.kubevirt.io/example-vm labeled its template" in str(
        refused.value)
    writes = [r.split(" ")[0] for r in client.requests if r.startswith(("POST", "PATCH", "PUT"))]
    assert writes == ["POST", "PATCH", "PATCH"]  # the Service, the template, the refused VMI; no restart


def test_restart_always_puts_restart_and_waits_for_the_new_pod() -> None:
    new_slice = ready_slice("virt-launcher-example-vm-zzzzz", "new")
    client = FakeClient(running_objects(), slices=[ready_slice(), new_slice])
    code, out, _ = execute(client, "vm", "example-vm", "--port", "80", "--restart=always")
    assert code is ExitCode.OK
    assert f"PUT /apis/subresources.kubevirt.io/v1/namespaces/{NS}/virtualmachines/example-vm/restart" \
        in client.requests
    assert "virtualmachine.kubevirt.io/example-vm restarted" in out
    assert "1 ready endpoint" in out


def test_timeout_without_a_ready_endpoint_exits_3() -> None:
    client = FakeClient(running_objects({"vmi.kubevirt.io/id": "example-vm"}))
    with pytest.raises(NotServingError, match="waiting for a ready endpoint of VirtualMachine example-vm"):
        execute(client, "vm", "example-vm", "--port", "80", "--timeout", "0")


def test_failure_after_a_write_says_what_was_done() -> None:
    client = FakeClient(stopped_objects(), forbidden=("virtualmachines",))
    with pytest.raises(VirtExposeError) as failed:
        execute(client, *SEED)
    message = str(failed.value)
    assert "done before the failure: service/example-service created" in message
    assert message.endswith("re-running the same command finishes the job")


def test_a_refused_service_comes_before_any_other_change() -> None:
    client = FakeClient(stopped_objects())

    def refuse(*_: Any, **__: Any) -> dict[str, Any]:
        raise VirtExposeError("Error from server (Forbidden): services is forbidden")

    client.create = refuse  # type: ignore[method-assign]
    with pytest.raises(VirtExposeError) as failed:
        execute(client, *SEED)
    assert str(failed.value) == "Error from server (Forbidden): services is forbidden"  # nothing done before
    assert not any(r.startswith("PATCH") for r in client.requests)


def test_unknown_vm_suggests_close_names() -> None:
    other = vm("example-vm-2")
    client = FakeClient({f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines/example-vm-2": other})
    with pytest.raises(NotFoundError, match='did you mean "example-vm-2"'):
        execute(client, *SEED)


def test_missing_kubevirt_api() -> None:
    client = FakeClient({})

    def no_api(path: str, **_: Any) -> dict[str, Any]:
        raise NotFoundError("Error from server (NotFound): the server could not find the requested resource "
                            "(get virtualmachines.kubevirt.io example-vm)", status=404)

    client.get = no_api  # type: ignore[method-assign]
    with pytest.raises(VirtExposeError, match="is OpenShift Virtualization / KubeVirt installed"):
        execute(client, *SEED)


def test_output_json_prints_only_the_service() -> None:
    client = FakeClient(stopped_objects())
    code, out, err = execute(client, *SEED, "-o", "json")
    assert code is ExitCode.OK
    assert json.loads(out)["metadata"]["name"] == "example-service"
    assert "service/example-service created" in err
