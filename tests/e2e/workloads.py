"""What the end-to-end tests do to VMs and read of them and their Services: create and wait, the launcher
pod, `virtctl start|stop|restart|migrate` as virtctl sends them, and a Service's endpoints, watched."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client
from kubernetes.dynamic.exceptions import NotFoundError

from tests.sandbox.apiclient import Objects, wait_until
from tests.sandbox.running import RunningSandbox

Endpoints = dict[str, bool]  # the pod an endpoint targets -> whether it is ready


def create_vm(sandbox: RunningSandbox, namespace: str, manifest: dict[str, Any], *, wait: bool = True) -> None:
    """Creates the VM and waits until it runs and is Ready, or, stopped, until KubeVirt has reported on it
    (its Ready condition False: no VMI), so that tests comparing it before and after see only their changes."""
    sandbox.apply(manifest, namespace)
    name = manifest["metadata"]["name"]
    if not wait:
        return
    spec = manifest["spec"]
    running = spec.get("running", spec.get("runStrategy", "Halted") != "Halted")
    wait_vm_ready(sandbox, namespace, name, "True" if running else "False")


def wait_vm_ready(sandbox: RunningSandbox, namespace: str, name: str, status: str = "True", timeout: int = 90) -> None:
    """`kubectl wait vm/NAME --for=condition=Ready[=false]`, by a list and a watch through the official client."""

    def ready(vms: Objects) -> bool:
        vm = vms.get(f"{namespace}/{name}", {})
        return any(c["type"] == "Ready" and c["status"] == status for c in vm.get("status", {}).get("conditions", []))

    wait_until(f"VM {namespace}/{name} Ready={status}", ready, time.monotonic() + timeout,
               client.CustomObjectsApi(sandbox.api_client).list_namespaced_custom_object, "kubevirt.io", "v1",
               namespace, "virtualmachines", field_selector=f"metadata.name={name}")


def wait_for_new_vmi(sandbox: RunningSandbox, namespace: str, name: str, old_uid: str, timeout: int = 120) -> None:
    """Watches the VMIs of that name until one other than `old_uid` (a restart's), not being deleted, is there."""

    def replaced(vmis: Objects) -> bool:
        meta = vmis.get(f"{namespace}/{name}", {}).get("metadata", {})
        return meta.get("uid", old_uid) != old_uid and "deletionTimestamp" not in meta

    wait_until(f"a new VMI {namespace}/{name}", replaced, time.monotonic() + timeout,
               client.CustomObjectsApi(sandbox.api_client).list_namespaced_custom_object, "kubevirt.io", "v1",
               namespace, "virtualmachineinstances", field_selector=f"metadata.name={name}")


def launcher_pod(sandbox: RunningSandbox, namespace: str, vm: str) -> dict[str, Any]:
    """The running launcher pod of the VM's current VMI."""
    uid = sandbox.get("vmi", vm, namespace=namespace)["metadata"]["uid"]
    pods = sandbox.get("pods", namespace=namespace, selector=f"kubevirt.io/created-by={uid}")["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running" and "deletionTimestamp" not in p["metadata"]]
    assert len(running) == 1, [p["metadata"]["name"] for p in pods]
    return dict(running[0])


def as_if_before_kubevirt_1_7(sandbox: RunningSandbox, namespace: str, vm: str) -> dict[str, Any]:
    """Remove `vmi.kubevirt.io/id` from the VM's pod, as pods made before an upgrade to 1.7 lack it
    (kubevirt/kubevirt#17869); nothing puts it back on a running pod."""
    pod = launcher_pod(sandbox, namespace, vm)
    sandbox.kubectl("label", "pod", pod["metadata"]["name"], "vmi.kubevirt.io/id-", namespace=namespace)
    return launcher_pod(sandbox, namespace, vm)


def template_labels(sandbox: RunningSandbox, namespace: str, vm: str) -> dict[str, str]:
    obj = sandbox.get("vm", vm, namespace=namespace)
    return dict((obj["spec"]["template"].get("metadata") or {}).get("labels") or {})


def vm_subresource(sandbox: RunningSandbox, namespace: str, vm: str, action: str) -> None:
    """`virtctl start|stop|restart`: a PUT on virt-api's aggregated API."""
    path = f"/apis/subresources.kubevirt.io/v1/namespaces/{namespace}/virtualmachines/{vm}/{action}"
    sandbox.kubectl("replace", "--raw", path, "-f", "-", input="{}")


def migrate(sandbox: RunningSandbox, namespace: str, vmi: str) -> dict[str, Any]:
    """A VirtualMachineInstanceMigration, as `virtctl migrate` makes it, waited for until Succeeded and its
    migration state complete (KubeVirt copies the VMI's migration state to it after setting the phase)."""
    name = f"{vmi}-{secrets.token_hex(3)}"
    sandbox.apply({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                   "metadata": {"name": name}, "spec": {"vmiName": vmi}}, namespace)
    for condition in ("{.status.phase}=Succeeded", "{.status.migrationState.completed}=true"):
        sandbox.kubectl("wait", f"vmim/{name}", f"--for=jsonpath={condition}", "--timeout=90s", namespace=namespace)
    return sandbox.get("vmim", name, namespace=namespace)


def service_or_none(sandbox: RunningSandbox, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return sandbox.get("service", name, namespace=namespace)
    except NotFoundError:
        return None


def endpoints_of(slices: list[dict[str, Any]]) -> Endpoints:
    """An unset `ready` counts as ready, as the EndpointSlice API says consumers should take it."""
    return {e["targetRef"]["name"]: bool((e.get("conditions") or {}).get("ready", True))
            for s in slices for e in s.get("endpoints") or [] if "targetRef" in e}


def ready_endpoint_pods(sandbox: RunningSandbox, namespace: str, service: str) -> list[str]:
    slices = sandbox.get("endpointslices", namespace=namespace, selector=f"kubernetes.io/service-name={service}")
    return sorted(pod for pod, ready in endpoints_of(slices["items"]).items() if ready)


def wait_for_endpoints(sandbox: RunningSandbox, namespace: str, service: str, done: Callable[[Endpoints], bool],
                       timeout: float = 90) -> Endpoints:
    """Lists the Service's EndpointSlices, then watches them from that version until `done(endpoints)`;
    those endpoints. (As plain objects: the typed client refuses a slice with no endpoints.)"""
    found: Endpoints = {}

    def settled(slices: Objects) -> bool:
        found.clear()
        found.update(endpoints_of(list(slices.values())))
        return done(found)

    try:
        wait_until(f"endpoints of {service}", settled, time.monotonic() + timeout,
                   client.CustomObjectsApi(sandbox.api_client).list_namespaced_custom_object, "discovery.k8s.io",
                   "v1", namespace, "endpointslices", label_selector=f"kubernetes.io/service-name={service}")
    except TimeoutError:
        raise AssertionError(f"endpoints of {service}: {found} after {timeout}s") from None
    return found


def wait_for_sole_endpoint(sandbox: RunningSandbox, namespace: str, service: str, pod: str) -> None:
    """Waits until the Service's EndpointSlices hold that pod, ready; then it must be the only one."""
    endpoints = wait_for_endpoints(sandbox, namespace, service, lambda found: found.get(pod) is True, timeout=60)
    assert list(endpoints) == [pod]


@contextmanager
def fresh_namespace(sandbox: RunningSandbox, prefix: str) -> Iterator[str]:
    """A new namespace for the duration of a block (one more beside the test's own)."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    sandbox.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        sandbox.kubectl("delete", "namespace", name, "--wait=false", check=False)
