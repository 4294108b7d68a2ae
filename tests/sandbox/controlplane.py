"""The sandbox's real Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler v1.37.2 (one `kube-sandbox` binary, one process each), configured like a production
cluster (TLS everywhere, RBAC, service accounts, aggregation layer, audit log) on loopback ports.

Its certificates, flags and processes; controlplane_ready.py waits for them (this module does not import the
official client, so that they start while it is imported: see launch.py)."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.sandbox.build import binary
from tests.sandbox.pki import CertificateAuthority, write_key_pair
from tests.sandbox.process import Child, HealthCheck, Supervisor, free_ports

Stack = Literal["ipv4", "ipv6", "dual"]

SERVICE_CIDRS = {"ipv4": "10.96.0.0/16", "ipv6": "fd00:10:96::/108"}
# An IPv6 cluster CIDR may be at most 16 bits shorter than the node mask (/64): /56 gives 256 nodes.
POD_CIDRS = {"ipv4": "10.244.0.0/16", "ipv6": "fd00:10:244::/56"}
NODE_CIDR_MASK = {"ipv4": "24", "ipv6": "64"}
FIRST_SERVICE_IP = {"ipv4": "10.96.0.1", "ipv6": "fd00:10:96::1"}
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
ADMIN_USER = "sandbox-admin"

_APISERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local")
_AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    # One line per request (ResponseComplete, with the status code) instead of two.
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


def families(stack: Stack) -> list[str]:
    """IP families of a stack, primary first (dual stack is IPv4-primary)."""
    if stack not in ("ipv4", "ipv6", "dual"):
        raise ValueError(f"stack must be ipv4, ipv6 or dual, not {stack!r}")
    return ["ipv4", "ipv6"] if stack == "dual" else [stack]


@dataclass
class ControlPlane:
    server: str  # https://127.0.0.1:PORT
    ca: CertificateAuthority  # cluster CA: serving certificates and client-certificate users
    admin_token: str  # static token of an admin user (group system:masters)
    admin_kubeconfig: Path  # kubeconfig for the admin (no namespace in its context)
    audit_log: Path  # JSON lines, Metadata level, one ResponseComplete line per request
    families: list[str]  # "ipv4", "ipv6": the primary first
    service_cidrs: list[str]
    pod_cidrs: list[str]  # kcm's --cluster-cidr (node IPAM), for the simulated kubelets too
    front_proxy_ca: CertificateAuthority | None = None  # CA of the aggregator's client certificate
    children: tuple[Child, ...] = ()  # etcd, kube-apiserver, kcm, kube-scheduler
    _files: _ControlPlaneFiles | None = field(default=None, repr=False)
    _ports: _Ports | None = field(default=None, repr=False)

    def write_kubeconfig(self, path: Path, *, token: str | None = None,
                         client_cert: tuple[Path, Path] | None = None, user: dict[str, Any] | None = None,
                         namespace: str | None = None, context: str = "sandbox") -> Path:
        """Writes a kubeconfig for a token user, a client-certificate user (cert, key) or a kubeconfig `user`
        entry as it is (an exec plugin, say); with none of them, for the admin token."""
        if sum(given is not None for given in (token, client_cert, user)) > 1:
            raise ValueError("give one of a token, a client certificate or a user entry")
        if client_cert is not None:
            user = {"client-certificate": str(client_cert[0]), "client-key": str(client_cert[1])}
        elif user is None:
            user = {"token": token if token is not None else self.admin_token}
        return _write_kubeconfig(path, self.server, self.ca.cert_file, user, namespace, context)


def launch_api_server(supervisor: Supervisor, workdir: Path, stack: Stack,
                      etcd_data: Path | None = None) -> ControlPlane:
    """Makes the control plane's certificates and starts etcd (on a copy of `etcd_data` if given: see
    etcd_state.py) and kube-apiserver at once (the API server waits for its storage by itself); see
    controlplane_ready.py for the rest."""
    stack_families = families(stack)
    workdir = workdir.resolve()  # flags and kubeconfigs need absolute paths
    workdir.mkdir(parents=True, exist_ok=True)
    files = _ControlPlaneFiles.create(workdir, stack_families)
    program = str(binary("kube-sandbox"))
    ports = _Ports.pick()
    plane = ControlPlane(
        server=f"https://127.0.0.1:{ports.apiserver}", ca=files.ca, admin_token=files.admin_token,
        admin_kubeconfig=workdir / "kubeconfig" / "admin.kubeconfig",
        audit_log=workdir / "audit.log", families=stack_families,
        service_cidrs=[SERVICE_CIDRS[f] for f in stack_families],
        pod_cidrs=[POD_CIDRS[f] for f in stack_families], front_proxy_ca=files.front_proxy_ca,
        _files=files, _ports=ports)
    plane.write_kubeconfig(plane.admin_kubeconfig)
    if etcd_data is not None:
        shutil.copytree(etcd_data, workdir / "etcd")
    etcd = supervisor.spawn("etcd", [program, "etcd", *_etcd_flags(workdir, ports)])
    apiserver = supervisor.spawn("kube-apiserver", [program, "kube-apiserver", *_apiserver_flags(files, plane, ports)])
    plane.children = (etcd, apiserver)
    return plane


def launch_controllers(plane: ControlPlane, supervisor: Supervisor) -> list[tuple[Child, HealthCheck]]:
    """Starts kube-controller-manager and kube-scheduler; returns each with the check that it serves."""
    files, ports = plane._files, plane._ports
    assert files is not None and ports is not None, "launch the API server first"
    program = str(binary("kube-sandbox"))
    kubeconfigs = files.write_component_kubeconfigs(plane)
    kcm = supervisor.spawn("kube-controller-manager", [
        program, "kube-controller-manager",
        *_controller_manager_flags(files, plane, ports, kubeconfigs["kcm"], plane.families)])
    scheduler = supervisor.spawn("kube-scheduler", [
        program, "kube-scheduler", *_scheduler_flags(files, ports, kubeconfigs["scheduler"])])
    plane.children += (kcm, scheduler)
    return [(kcm, HealthCheck(f"https://127.0.0.1:{ports.kcm}/healthz", files.ca.cert_file)),
            (scheduler, HealthCheck(f"https://127.0.0.1:{ports.scheduler}/readyz", files.ca.cert_file))]


@dataclass(frozen=True)
class _Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    kcm: int
    scheduler: int

    @classmethod
    def pick(cls) -> _Ports:
        return cls(*free_ports(5))


@dataclass(frozen=True)
class _ControlPlaneFiles:
    """Keys, certificates and configuration files the components read, all under `workdir`."""

    workdir: Path
    ca: CertificateAuthority
    front_proxy_ca: CertificateAuthority
    admin_token: str
    serving: tuple[Path, Path]  # kube-apiserver's
    components_serving: tuple[Path, Path]  # kcm's and the scheduler's secure ports
    front_proxy_client: tuple[Path, Path]
    service_account: tuple[Path, Path]  # private, public
    token_file: Path
    audit_policy: Path

    @classmethod
    def create(cls, workdir: Path, stack_families: Sequence[str]) -> _ControlPlaneFiles:
        pki = workdir / "pki"
        ca = CertificateAuthority.create(pki / "cluster-ca", "sandbox-cluster-ca")
        front_proxy_ca = CertificateAuthority.create(pki / "front-proxy-ca",
                                                     "sandbox-front-proxy-ca")
        loopback = ["127.0.0.1", *(["::1"] if "ipv6" in stack_families else [])]
        serving = ca.issue("kube-apiserver", "kube-apiserver", dns_names=_APISERVER_NAMES,
                           ip_addresses=[*loopback, FIRST_SERVICE_IP[stack_families[0]]])
        components_serving = ca.issue("components-serving", "localhost", dns_names=["localhost"],
                                      ip_addresses=loopback)
        front_proxy_client = front_proxy_ca.issue("front-proxy-client", "front-proxy-client",
                                                  usage="client")
        service_account = write_key_pair(pki, "service-account", "rsa")
        admin_token = secrets.token_urlsafe(32)
        config = workdir / "config"
        config.mkdir(parents=True, exist_ok=True)
        token_file = config / "tokens.csv"
        # token,user,uid,"group1,group2"
        token_file.write_text(f'{admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        token_file.chmod(0o600)
        audit_policy = config / "audit-policy.json"
        audit_policy.write_text(json.dumps(_AUDIT_POLICY, indent=2) + "\n")
        return cls(workdir, ca, front_proxy_ca, admin_token, serving, components_serving,
                   front_proxy_client, service_account, token_file, audit_policy)

    def write_component_kubeconfigs(self, plane: ControlPlane) -> dict[str, Path]:
        """Client-certificate users that the bootstrap RBAC policy already knows."""
        users = {"kcm": "system:kube-controller-manager", "scheduler": "system:kube-scheduler"}
        kubeconfigs = {}
        for short, user in users.items():
            cert = self.ca.issue(user.replace("system:", ""), user, usage="client")
            kubeconfigs[short] = plane.write_kubeconfig(
                self.workdir / "kubeconfig" / f"{short}.kubeconfig", client_cert=cert)
        return kubeconfigs


def _etcd_flags(workdir: Path, ports: _Ports) -> list[str]:
    return [
        f"--data-dir={workdir / 'etcd'}",
        f"--listen-client-url=http://127.0.0.1:{ports.etcd_client}",
        f"--listen-peer-url=http://127.0.0.1:{ports.etcd_peer}",
    ]


def _apiserver_flags(files: _ControlPlaneFiles, plane: ControlPlane, ports: _Ports) -> list[str]:
    return [
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.apiserver}",
        # A loopback advertise address is only accepted without an endpoint reconciler.
        "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={files.serving[0]}",
        f"--tls-private-key-file={files.serving[1]}",
        f"--client-ca-file={files.ca.cert_file}",
        f"--token-auth-file={files.token_file}",
        "--authorization-mode=Node,RBAC",
        # Added to the defaults, as kubeadm does; the default plugins all stay on.
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-signing-key-file={files.service_account[0]}",
        f"--service-account-key-file={files.service_account[1]}",
        f"--service-cluster-ip-range={','.join(plane.service_cidrs)}",
        "--service-node-port-range=30000-32767",
        # The aggregation layer (virt-api's subresources). Aggregator routing stays off: it rejects
        # the ExternalName Service through which virt-api is reached.
        f"--requestheader-client-ca-file={files.front_proxy_ca.cert_file}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={files.front_proxy_client[0]}",
        f"--proxy-client-key-file={files.front_proxy_client[1]}",
        # Blocking mode writes each event before the response is finished, so tests can read it
        # right after a request; maxsize 0 keeps one unrotated file.
        f"--audit-policy-file={files.audit_policy}",
        f"--audit-log-path={plane.audit_log}",
        "--audit-log-mode=blocking",
        "--audit-log-maxsize=0",
    ]


def _controller_manager_flags(files: _ControlPlaneFiles, plane: ControlPlane, ports: _Ports,
                              kubeconfig: Path, stack_families: Sequence[str]) -> list[str]:
    return [
        *_component_flags(files, ports.kcm, kubeconfig),
        "--controllers=*",
        # Each controller acts as its own ServiceAccount, as in kubeadm clusters.
        "--use-service-account-credentials=true",
        # The default client rate limit (20/s) makes kcm take ~6 s to start its controllers, as it
        # gets a token for each; tests also create objects faster than a real cluster sees.
        "--kube-api-qps=200",
        "--kube-api-burst=400",
        f"--service-account-private-key-file={files.service_account[0]}",
        f"--root-ca-file={files.ca.cert_file}",
        f"--cluster-signing-cert-file={files.ca.cert_file}",
        f"--cluster-signing-key-file={files.ca.key_file}",
        "--cluster-name=sandbox",
        "--allocate-node-cidrs=true",
        f"--cluster-cidr={','.join(plane.pod_cidrs)}",
        *(f"--node-cidr-mask-size-{family}={NODE_CIDR_MASK[family]}" for family in stack_families),
        f"--service-cluster-ip-range={','.join(plane.service_cidrs)}",
        # No cloud provider: without this the route controller only logs that it cannot run.
        "--configure-cloud-routes=false",
    ]


def _scheduler_flags(files: _ControlPlaneFiles, ports: _Ports, kubeconfig: Path) -> list[str]:
    return _component_flags(files, ports.scheduler, kubeconfig)


def _component_flags(files: _ControlPlaneFiles, port: int, kubeconfig: Path) -> list[str]:
    """kcm's and the scheduler's common flags: their API client and their own secure port."""
    return [
        f"--kubeconfig={kubeconfig}",
        # Delegated authn/authz for their secure port; without these they log warnings at start.
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--tls-cert-file={files.components_serving[0]}",
        f"--tls-private-key-file={files.components_serving[1]}",
        "--leader-elect=false",
    ]


def _write_kubeconfig(path: Path, server: str, ca_file: Path, user: dict[str, Any],
                      namespace: str | None, context: str) -> Path:
    context_spec = {"cluster": "sandbox", "user": "user"}
    if namespace is not None:
        context_spec["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox",
                      "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": context, "context": context_spec}],
        "current-context": context,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML: kubectl reads it as is
    path.chmod(0o600)
    return path
