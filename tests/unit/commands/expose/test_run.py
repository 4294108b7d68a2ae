"""The run's flow against an in-memory API (order of requests, counts, messages); the sandbox suites
(tests/e2e/test_expose_*.py) check the same against the real KubeVirt."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubevirt_objects import valid_options, vm

from oc_virt_expose.errors import ExitCode, ForbiddenError, NotFoundError, NotServingError, VirtExposeError
from oc_virt_expose.expose import Run
from oc_virt_expose.kubevirt import Cluster
from oc_virt_expose.output import Printer

NS = "example-namespace"
VM_PATH = f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines/example-vm"
VMI_PATH = f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances/example-vm"
POD_PATH = f"/api/v1/namespaces/{NS}/pods/virt-launcher-example-vm-abcde"
SEED = ("vm", "example-vm", "--name", "example-service", "--selector", "special=key", "--type", "NodePort",
        "--port", "80", "--target-port", "9376", "--node-port", "30000")


class FakeClient:
    """Just enough of client.Client: objects by path, merge patches with resourceVersion checks."""

    def __init__(self, objects: dict[str, dict[str, Any]], slices: list[dict[str, Any]] | None = None,
                 forbidden: tuple[str, ...] = ()) -> None:
        self.objects = copy.deepcopy(objects)
        self.slices = slices or []
        self.forbidden = forbidden
        self.requests: list[str] = []

    def get(self, path: str, **_: Any) -> dict[str, Any]:
        self.requests.append(f"GET {path}")
        if path not in self.objects:
            name = path.rsplit("/", 1)[-1]
            raise NotFoundError(f'Error from server (NotFound): {path.split("/")[-2]} "{name}" not found', status=404)
        return copy.deepcopy(self.objects[path])

    def list(self, path: str, *, label_selector: str | None = None, **_: Any) -> dict[str, Any]:
        self.requests.append(f"LIST {path}")
        items = [copy.deepcopy(o) for p, o in self.objects.items() if p.rsplit("/", 1)[0] == path
                 and _selects(label_selector, o)]
        return {"items": items}

    def patch(self, path: str, patch: dict[str, Any], *, dry_run: bool = False, **_: Any) -> dict[str, Any]:
        self.requests.append(f"PATCH {path}" + (" dryRun" if dry_run else ""))
        if any(word in path for word in self.forbidden):
            raise ForbiddenError(f"Error from server (Forbidden): cannot patch {path}", status=403)
        current = self.objects[path]
        assert patch["metadata"].pop("resourceVersion") == current["metadata"]["resourceVersion"]
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
        for endpoint_slice in self.slices:
            yield {"type": "ADDED", "object": endpoint_slice}


def _selects(selector: str | None, obj: dict[str, Any]) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(labels.get(k) == v for k, _, v in (pair.partition("=") for pair in (selector or "").split(",") if pair))


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        target[key] = _merge(target.get(key) or {}, value) if isinstance(value, dict) else value
    return target


def running_objects(pod_labels: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    running_vm = vm(spec={"domain": {"devices": {}}})
    running_vm["spec"]["runStrategy"] = "Always"
    running_vm["metadata"]["resourceVersion"] = "10"
    labels = {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "vmi-uid", **(pod_labels or {})}
    return {
        VM_PATH: running_vm,
        VMI_PATH: {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                   "metadata": {"name": "example-vm", "uid": "vmi-uid", "resourceVersion": "20", "labels": {}},
                   "spec": {"domain": {"devices": {}}}, "status": {"phase": "Running"}},
        POD_PATH: {"metadata": {"name": "virt-launcher-example-vm-abcde", "uid": "pod-uid", "resourceVersion": "30",
                                "labels": labels},
                   "status": {"phase": "Running", "hostIP": "192.168.0.2"}},
    }


def ready_slice(address: str = "10.244.0.5", port: int = 80) -> dict[str, Any]:
    target = {"kind": "Pod", "name": "virt-launcher-example-vm-abcde", "uid": "pod-uid"}
    endpoint = {"addresses": [address], "conditions": {"ready": True}, "targetRef": target}
    return {"metadata": {"name": "s1", "resourceVersion": "40"}, "addressType": "IPv4",
            "ports": [{"port": port}], "endpoints": [endpoint]}


def execute(client: FakeClient, *argv: str) -> tuple[ExitCode, str, str]:
    options = valid_options(*argv)
    out, err = io.StringIO(), io.StringIO()
    printer = Printer(out, err, output=options.output, dry_run=options.dry_run, progress=False)
    cluster = Cluster(client, NS, dry_run=options.dry_run.value == "server")  # type: ignore[arg-type]
    return Run(options, printer, cluster).execute(), out.getvalue(), err.getvalue()


def stopped_objects() -> dict[str, dict[str, Any]]:
    stopped = vm()
    stopped["metadata"]["resourceVersion"] = "5"
    return {VM_PATH: stopped}


def test_seed_scenario_takes_five_requests_and_verifies_statically() -> None:
    client = FakeClient(stopped_objects())
    code, out, _ = execute(client, *SEED)
    assert code is ExitCode.OK
    assert [r.split(" ")[0] + " " + r.split("/")[-1].split("?")[0] for r in client.requests] == [
        "GET example-vm", "GET example-service", "LIST networkpolicies", "PATCH example-vm", "POST services"]
    assert out.splitlines()[0] == "virtualmachine.kubevirt.io/example-vm labeled"
    assert client.objects[VM_PATH]["spec"]["template"]["metadata"]["labels"] == {"special": "key"}
    again = FakeClient(client.objects)
    code, out, _ = execute(again, *SEED)
    assert code is ExitCode.OK and out.splitlines()[0] == "service/example-service unchanged"
    assert len(again.requests) == 3


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
    assert verbs == ["GET", "GET", "LIST", "GET", "LIST", "PATCH", "PATCH", "PATCH", "POST", "WATCH"]
    assert client.objects[POD_PATH]["metadata"]["labels"]["kubevirt.io/domain"] == "example-vm"
    assert "service/example-vm verified: 1 ready endpoint 10.244.0.5:80" in out
    assert "192.168.0.2" not in out  # a ClusterIP Service has no node port to show


def test_refused_live_labelling_stops_before_the_service_and_exits_3() -> None:
    client = FakeClient(running_objects(), forbidden=("virtualmachineinstances",))
    with pytest.raises(NotServingError, match="--restart=always") as refused:
        execute(client, "vm", "example-vm", "--port", "80")
    assert "virtualmachine.kubevirt.io/example-vm labeled its template" in str(refused.value)
    assert not any(r.startswith("POST") for r in client.requests)


def test_restart_always_puts_restart_and_waits_for_the_new_pod() -> None:
    new_slice = ready_slice()
    new_slice["endpoints"][0]["targetRef"] = {"kind": "Pod", "name": "virt-launcher-example-vm-zzzzz", "uid": "new"}
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
    client = FakeClient(stopped_objects())

    def refuse(*_: Any, **__: Any) -> dict[str, Any]:
        raise VirtExposeError("Error from server (Forbidden): services is forbidden")

    client.create = refuse  # type: ignore[method-assign]
    with pytest.raises(VirtExposeError) as failed:
        execute(client, *SEED)
    message = str(failed.value)
    assert "done before the failure: virtualmachine.kubevirt.io/example-vm labeled its template special=key" in message
    assert message.endswith("re-running the same command finishes the job")


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
