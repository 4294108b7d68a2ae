"""KubeVirt's real virt-api and virt-controller, run out of cluster against the sandbox's control plane, with
the objects KubeVirt's operator installs (kubevirt_objects.py).

virt-api's own start-up takes seconds of CPU before it talks to the API server (the initialisation of its
`pkg/virt-api/definitions` package builds its OpenAPI definitions): it is started with the API server, and its
credentials (an exec plugin, exec_credential.py) wait for its ServiceAccount's token, which the install writes
once virt-api's RBAC, the CRDs and the KubeVirt CR are in place. virt-controller starts then too.
"""

from __future__ import annotations

import datetime
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.sandbox.apiclient import ApiException, api_client, create, create_all, service_account_token, wait_until
from tests.sandbox.build import binary
from tests.sandbox.controlplane import ControlPlane
from tests.sandbox.exec_credential import kubeconfig_user
from tests.sandbox.kubevirt_objects import (
    NAMESPACE,
    REGISTRY,
    base_objects,
    crd_names,
    kubevirt_cr,
    kubevirt_release,
    operator_status,
    probe_vm,
    route_objects,
    sandbox_objects,
)
from tests.sandbox.pki import CertificateAuthority
from tests.sandbox.process import Child, HealthCheck, Supervisor, free_port, poll_until
from tests.sandbox.timings import Timings

INSTALL_TIMEOUT = 120.0
TOKEN_SECONDS = 30 * 24 * 3600  # outlives any sandbox; nothing rotates these tokens
FIELD_MANAGER = "virt-operator"  # KubeVirt's objects are created as its operator creates them
# The ServiceAccounts the components run as (KubeVirt's RBAC binds its roles to them).
CONTROLLER_ACCOUNT = "kubevirt-controller"
API_ACCOUNT = "kubevirt-apiserver"
HANDLER_ACCOUNT = "kubevirt-handler"


@dataclass
class KubeVirt:
    version: str  # "1.7"
    namespace: str  # "kubevirt"
    api_url: str  # https://127.0.0.1:PORT of virt-api
    handler_kubeconfig: Path  # ServiceAccount kubevirt/kubevirt-handler (the simulated virt-handler)
    ca_file: Path | None = None  # KubeVirt's CA: signs virt-api's serving certificate
    children: tuple[Child, ...] = ()  # virt-api, virt-controller


@dataclass(frozen=True)
class _Certificates:
    """KubeVirt's own CA (the operator keeps one) and what it signs, plus the installer's admin
    client certificate from the cluster CA."""

    ca: CertificateAuthority
    virt_api: tuple[Path, Path]  # serving: the aggregator and the webhooks call virt-api
    virt_api_to_handler: tuple[Path, Path]  # client: virt-api to virt-handler (console, VNC)
    virt_controller: tuple[Path, Path]  # serving: virt-controller's health and metrics port
    installer: tuple[Path, Path]

    @classmethod
    def create(cls, directory: Path, cluster_ca: CertificateAuthority) -> _Certificates:
        ca = CertificateAuthority.create(directory, "kubevirt.io")
        # The aggregator checks the name virt-api.kubevirt.svc, the webhooks the IP address.
        service = f"virt-api.{NAMESPACE}.svc"
        virt_api = ca.issue("virt-api", service, dns_names=[
            service, f"{service}.cluster.local", "localhost"], ip_addresses=["127.0.0.1"])
        to_handler = ca.issue("virt-api-handler-client", "kubevirt.io:system:client:virt-handler",
                              usage="client")
        virt_controller = ca.issue("virt-controller", f"virt-controller.{NAMESPACE}.svc",
                                   dns_names=["localhost"], ip_addresses=["127.0.0.1"])
        installer = cluster_ca.issue("kubevirt-installer", "sandbox:kubevirt-installer",
                                     organizations=["system:masters"], usage="client")
        return cls(ca, virt_api, to_handler, virt_controller, installer)


@dataclass(frozen=True)
class KubeVirtInstall:
    """What the install makes while the API server starts: certificates, ports, KubeVirt's objects, and virt-api
    waiting for its token."""

    version: str
    release: str
    home: Path
    certs: _Certificates
    api_port: int
    controller_port: int
    objects: list[dict[str, Any]]  # this sandbox's, before virt-api runs (the others are in the etcd state)
    routes: list[dict[str, Any]]  # once it serves
    virt_api: Child

    @property
    def api_url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def api_token(self) -> Path:
        """Where virt-api's credential plugin waits for its token."""
        return self.home / "kubeconfig" / f"{API_ACCOUNT}.token"


def launch_kubevirt(control_plane: ControlPlane, supervisor: Supervisor, workdir: Path,
                    version: str = "1.7") -> KubeVirtInstall:
    """Makes KubeVirt's certificates and objects and starts virt-api, which waits for `install_kubevirt`."""
    home = workdir / "kubevirt"
    certs = _Certificates.create(home / "pki", control_plane.ca)
    api_port, controller_port = free_port(), free_port()
    api_url = f"https://127.0.0.1:{api_port}"
    token = home / "kubeconfig" / f"{API_ACCOUNT}.token"
    kubeconfig = control_plane.write_kubeconfig(
        home / "kubeconfig" / f"{API_ACCOUNT}.kubeconfig", namespace=NAMESPACE,
        user=kubeconfig_user(token, datetime.timedelta(seconds=TOKEN_SECONDS), wait_seconds=int(INSTALL_TIMEOUT)))
    virt_api = _start_virt_api(supervisor, version, api_port, kubeconfig, certs, home / "tmp")
    return KubeVirtInstall(
        version=version, release=kubevirt_release(version), home=home, certs=certs, api_port=api_port,
        controller_port=controller_port, objects=sandbox_objects(version, api_port, certs.ca.cert_pem),
        routes=route_objects(version, api_url, certs.ca.cert_file), virt_api=virt_api)


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


def _start_virt_api(supervisor: Supervisor, version: str, port: int, kubeconfig: Path, certs: _Certificates,
                    scratch: Path) -> Child:
    scratch.mkdir(parents=True, exist_ok=True)
    return supervisor.spawn("virt-api", [
        str(binary(f"virt-api-{version}")),
        f"--kubeconfig={kubeconfig}",
        "--listen=127.0.0.1", f"--port={port}",
        f"--tls-cert-file={certs.virt_api[0]}", f"--tls-key-file={certs.virt_api[1]}",
        f"--handler-cert-file={certs.virt_api_to_handler[0]}",
        f"--handler-key-file={certs.virt_api_to_handler[1]}",
        # As the operator's Deployment runs it (the console port is virt-handler's).
        "--console-server-port=8186", "--subresources-only",
    ], env={**os.environ, "TMPDIR": str(scratch)})  # its certificates folder, removed with the sandbox's


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
