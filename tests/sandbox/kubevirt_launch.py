"""What KubeVirt's install makes before the API server answers (launch.py): certificates, ports, this sandbox's
objects, and virt-api, started at once.

virt-api's own start-up takes seconds of CPU before it talks to the API server (the initialisation of its
`pkg/virt-api/definitions` package builds its OpenAPI definitions): its credentials (an exec plugin,
exec_credential.py) wait for its ServiceAccount's token, which the install (kubevirt.py) writes once virt-api's
RBAC, the CRDs and the KubeVirt CR are in place.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.sandbox.build import binary
from tests.sandbox.controlplane import ControlPlane
from tests.sandbox.exec_credential import kubeconfig_user
from tests.sandbox.kubevirt_objects import NAMESPACE, kubevirt_release, route_objects, sandbox_objects
from tests.sandbox.pki import CertificateAuthority
from tests.sandbox.process import Child, Supervisor, free_ports

INSTALL_TIMEOUT = 120.0
TOKEN_SECONDS = 30 * 24 * 3600  # outlives any sandbox; nothing rotates these tokens
# The ServiceAccounts the components run as (KubeVirt's RBAC binds its roles to them).
CONTROLLER_ACCOUNT = "kubevirt-controller"
API_ACCOUNT = "kubevirt-apiserver"
HANDLER_ACCOUNT = "kubevirt-handler"


@dataclass(frozen=True)
class Certificates:
    """KubeVirt's own CA (the operator keeps one) and what it signs, plus the installer's admin
    client certificate from the cluster CA."""

    ca: CertificateAuthority
    virt_api: tuple[Path, Path]  # serving: the aggregator and the webhooks call virt-api
    virt_api_to_handler: tuple[Path, Path]  # client: virt-api to virt-handler (console, VNC)
    virt_controller: tuple[Path, Path]  # serving: virt-controller's health and metrics port
    installer: tuple[Path, Path]

    @classmethod
    def create(cls, directory: Path, cluster_ca: CertificateAuthority) -> Certificates:
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
    certs: Certificates
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
    certs = Certificates.create(home / "pki", control_plane.ca)
    api_port, controller_port = free_ports(2)
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


def _start_virt_api(supervisor: Supervisor, version: str, port: int, kubeconfig: Path, certs: Certificates,
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
