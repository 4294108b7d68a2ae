"""KubeVirt's real virt-api and virt-controller, run out of cluster against the sandbox's control plane, with
the objects KubeVirt's operator installs (kubevirt_objects.py): virt-api was started with the API server
(kubevirt_launch.py), the install gives it what it waits for, then starts virt-controller and routes the API
server to virt-api.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.sandbox.apiclient import ApiException, api_client, create, create_all, service_account_token, wait_until
from tests.sandbox.build import binary
from tests.sandbox.controlplane import ControlPlane
from tests.sandbox.kubevirt_launch import (
    API_ACCOUNT,
    CONTROLLER_ACCOUNT,
    HANDLER_ACCOUNT,
    INSTALL_TIMEOUT,
    TOKEN_SECONDS,
    KubeVirtInstall,
)
from tests.sandbox.kubevirt_objects import (
    NAMESPACE,
    REGISTRY,
    base_objects,
    crd_names,
    kubevirt_cr,
    operator_status,
    probe_vm,
)
from tests.sandbox.process import Child, HealthCheck, Supervisor, poll_until
from tests.sandbox.timings import Timings

FIELD_MANAGER = "virt-operator"  # KubeVirt's objects are created as its operator creates them


@dataclass
class KubeVirt:
    version: str  # "1.7"
    namespace: str  # "kubevirt"
    api_url: str  # https://127.0.0.1:PORT of virt-api
    handler_kubeconfig: Path  # ServiceAccount kubevirt/kubevirt-handler (the simulated virt-handler)
    ca_file: Path | None = None  # KubeVirt's CA: signs virt-api's serving certificate
    children: tuple[Child, ...] = ()  # virt-api, virt-controller


def create_base(api: client.ApiClient, version: str) -> None:
    """KubeVirt's objects that are the same in every sandbox, until its CRDs are established: what etcd_state.py
    keeps."""
    objects = base_objects(version)
    crds = [obj for obj in objects if obj["kind"] == "CustomResourceDefinition"]
    create_all(api, [obj for obj in objects if obj["kind"] != "CustomResourceDefinition"], FIELD_MANAGER)
    create_all(api, crds, FIELD_MANAGER)
    _wait_established(api, {crd["metadata"]["name"] for crd in crds}, time.monotonic() + INSTALL_TIMEOUT)


def install_kubevirt(plan: KubeVirtInstall, control_plane: ControlPlane, supervisor: Supervisor,
                     timings: Timings) -> KubeVirt:
    """Installs KubeVirt on an API server that holds its base objects (`create_base`) and returns once virt-api
    serves its APIServices and webhooks and virt-controller holds its leader lease."""
    deadline = time.monotonic() + INSTALL_TIMEOUT
    installer = control_plane.write_kubeconfig(plan.home / "installer.kubeconfig", client_cert=plan.certs.installer)
    api = api_client(installer, "sandbox-kubevirt-installer")
    with timings.phase("kubevirt: CRDs established, CA, KubeVirt CR, tokens"):
        _wait_established(api, set(crd_names(plan.version)), deadline)
        create_all(api, plan.objects, FIELD_MANAGER)
        _deploy_kubevirt_cr(api, plan.release)
        tokens = {account: service_account_token(api, NAMESPACE, account, TOKEN_SECONDS)
                  for account in (API_ACCOUNT, CONTROLLER_ACCOUNT, HANDLER_ACCOUNT)}
        _write_whole(plan.api_token, tokens[API_ACCOUNT])
    kubeconfigs = {account: control_plane.write_kubeconfig(plan.home / "kubeconfig" / f"{account}.kubeconfig",
                                                           token=tokens[account], namespace=NAMESPACE)
                   for account in (CONTROLLER_ACCOUNT, HANDLER_ACCOUNT)}
    virt_controller = _start_virt_controller(supervisor, plan, kubeconfigs[CONTROLLER_ACCOUNT])
    with timings.phase("kubevirt: virt-api serving"):
        poll_until("virt-api serving", HealthCheck(f"{plan.api_url}/", plan.certs.ca.cert_file, any_answer=True),
                   deadline, plan.virt_api)
    with timings.phase("kubevirt: APIServices and webhooks"):
        _route_to_virt_api(api, plan.routes, plan.virt_api, deadline)
    with timings.phase("kubevirt: virt-controller leader"):
        leader = HealthCheck(f"https://127.0.0.1:{plan.controller_port}/leader", plan.certs.ca.cert_file)
        poll_until("virt-controller's leader lease", leader, deadline, virt_controller)
    return KubeVirt(version=plan.version, namespace=NAMESPACE, api_url=plan.api_url,
                    handler_kubeconfig=kubeconfigs[HANDLER_ACCOUNT], ca_file=plan.certs.ca.cert_file,
                    children=(plan.virt_api, virt_controller))


def _wait_established(api: client.ApiClient, names: set[str], deadline: float) -> None:
    wait_until("KubeVirt's CRDs Established", lambda served: names <= _with_condition(served, "Established"),
               deadline, client.CustomObjectsApi(api).list_cluster_custom_object,
               "apiextensions.k8s.io", "v1", "customresourcedefinitions")


def _write_whole(path: Path, text: str) -> None:
    """Writes by a rename, so that a reader never sees part of it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text + "\n")
    partial.chmod(0o600)
    partial.rename(path)


def _route_to_virt_api(api: client.ApiClient, routes: list[dict[str, Any]], virt_api: Child, deadline: float) -> None:
    """Creates the APIServices and webhooks once virt-api serves (an APIService that failed its first check is
    retried only after a back-off), then waits until the API server uses them."""
    create_all(api, routes, FIELD_MANAGER)
    names = {obj["metadata"]["name"] for obj in routes if obj["kind"] == "APIService"}
    wait_until("virt-api's APIServices Available", lambda services: names <= _with_condition(services, "Available"),
               deadline, client.CustomObjectsApi(api).list_cluster_custom_object,
               "apiregistration.k8s.io", "v1", "apiservices", child=virt_api)
    # Webhook configurations are picked up asynchronously: wait until they act, so that the first VM of a test
    # is mutated and validated like any later one.
    poll_until("virt-api's webhooks in effect", lambda: _webhooks_active(api), deadline, virt_api)


def _with_condition(objects: dict[str, dict[str, Any]], kind: str) -> set[str]:
    """The names of the objects whose condition `kind` is True."""
    return {obj["metadata"]["name"] for obj in objects.values()
            if any(condition["type"] == kind and condition["status"] == "True"
                   for condition in (obj.get("status") or {}).get("conditions") or [])}


def _webhooks_active(api: client.ApiClient) -> bool:
    """Dry-run creations of a VM: the mutating webhook sets the architecture on a valid one, the validating
    webhook refuses one whose disk has no volume."""
    try:
        mutated = create(api, probe_vm([]), dry_run=True)
    except ApiException:  # e.g. 500 while the webhook cannot be called yet
        return False
    if mutated["spec"]["template"]["spec"].get("architecture") != "amd64":
        return False
    try:
        create(api, probe_vm([{"name": "no-such-volume", "disk": {}}]), dry_run=True)
    except ApiException as error:
        return "denied the request" in str(error.body)
    return False


def _deploy_kubevirt_cr(api: client.ApiClient, release: str) -> None:
    """The KubeVirt CR, with the status its operator writes once all components are ready."""
    created = create(api, kubevirt_cr(), field_manager=FIELD_MANAGER)
    client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
        "kubevirt.io", "v1", NAMESPACE, "kubevirts", "kubevirt",
        {"status": operator_status(release, created["metadata"]["generation"])}, _preload_content=False)


def _start_virt_controller(supervisor: Supervisor, plan: KubeVirtInstall, kubeconfig: Path) -> Child:
    certs, release = plan.certs, plan.release
    # Supervised: virt-controller exits when it loses its leader lease.
    return supervisor.spawn("virt-controller", [
        str(binary(f"virt-controller-{plan.version}")),
        f"--kubeconfig={kubeconfig}",
        f"--launcher-image={REGISTRY}/virt-launcher:{release}",
        f"--exporter-image={REGISTRY}/virt-exportserver:{release}",
        "--listen=127.0.0.1", f"--port={plan.controller_port}",
        f"--prom-cert-file={certs.virt_controller[0]}",
        f"--prom-key-file={certs.virt_controller[1]}",
    ], env={**os.environ, "SIDECAR_SHIM_IMAGE": f"{REGISTRY}/sidecar-shim:{release}"}, restart=True)
