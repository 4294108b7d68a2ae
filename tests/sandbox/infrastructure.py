"""What a real cluster gets from its infrastructure, simulated: the load balancer, the router, a faulty network.

- Load balancer (`--load-balancer`, the default): tests/sandbox/loadbalancer.py, as MetalLB's controller, with
  its own ServiceAccount; `--no-load-balancer` starts nothing, so LoadBalancer Services stay pending, as on a
  cluster without a provider. While it runs, the ConfigMap sandbox-infra/load-balancer (`enabled`) switches it.
- Routes: the Route CRD from github.com/openshift/api (build.route_crd(), installed as published), a mutating
  webhook that assigns hosts as OpenShift's API server does, and the `default` router that admits Routes
  (tests/sandbox/router.py), as MicroShift has them.
- Faults: tests/sandbox/fault_proxy.py, a TLS proxy in front of the API server with a certificate from the cluster CA.

What tests need to find them is in the ConfigMap sandbox-infra/infrastructure (`INFO_KEYS`).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.sandbox import loadbalancer, router
from tests.sandbox.build import route_crd
from tests.sandbox.controlplane import ControlPlane
from tests.sandbox.kubeapi import Api, ApiError
from tests.sandbox.process import Child, Supervisor, free_port

if TYPE_CHECKING:
    from tests.sandbox.cluster import SandboxOptions

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "sandbox-infra"
INFO = "infrastructure"  # ConfigMap with these keys:
INFO_KEYS = ("faultProxyURL", "loadBalancer", "loadBalancerPools", "routerDomain", "startDelayAnnotation")
# kwok's pod-start Stage waits this long (a Go duration, e.g. "2500ms") before a pod runs; KubeVirt copies a
# VMI's annotations (hence a VM template's) to its launcher pod.
START_DELAY_ANNOTATION = "sandbox.virt-expose.io/start-delay-ms"
ROUTE_CRD = "routes.route.openshift.io"
WEBHOOK = "sandbox-route-host-assignment"
START_TIMEOUT = 60.0
TOKEN_SECONDS = 30 * 24 * 3600
_FIELD_MANAGER = "sandbox-infrastructure"


@dataclass(frozen=True)
class _Check:
    what: str
    ready: Callable[[], bool]
    child: Child


@dataclass
class Infrastructure:
    fault_proxy_url: str  # https://127.0.0.1:PORT: the API server, through the fault proxy
    fault_proxy_ca: Path  # what its clients trust: the cluster CA, which issued its certificate
    load_balancer: bool  # whether the simulated provider runs
    load_balancer_pools: dict[str, str]  # IPv4/IPv6 -> CIDR
    router_domain: str  # apps.sandbox.example
    namespace: str = NAMESPACE
    children: tuple[Child, ...] = field(default=())
    _checks: list[_Check] = field(default_factory=list, repr=False)
    _started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def fault_control_url(self) -> str:
        """Where tests tell the proxy what to do (fault_control.FaultProxyClient, or kubectl --raw on these paths)."""
        return f"{self.fault_proxy_url}/sandbox-faults"

    def kubeconfig_cluster(self) -> dict[str, str]:
        """A kubeconfig `cluster` entry for the proxy; with the sandbox's token users, a `faults` context."""
        return {"server": self.fault_proxy_url, "certificate-authority": str(self.fault_proxy_ca)}

    def wait_ready(self) -> None:
        """Returns once the proxy answers, the controllers listed what they watch and Routes get their hosts
        (at once if `start_infrastructure` waited already); raises if one failed to start."""
        deadline = time.monotonic() + START_TIMEOUT
        while self._checks:
            _wait(self._checks[0], deadline)
            self._checks.pop(0)


def start_infrastructure(options: SandboxOptions, supervisor: Supervisor, workdir: Path,
                         control_plane: ControlPlane, *, wait: bool = True) -> Infrastructure:
    """Starts the fault proxy, the router and (if asked for) the load balancer and installs the Route API;
    returns once each serves, or at once with `wait=False` (then call `wait_ready()` before using them:
    the API server takes a moment to serve a new CRD and to call a new webhook, which can overlap with
    other start-up work)."""
    home = (workdir / "infrastructure").resolve()
    home.mkdir(parents=True, exist_ok=True)
    admin = Api(control_plane.server, control_plane.ca.cert_file, control_plane.admin_token, _FIELD_MANAGER)
    proxy_port = free_port()
    infrastructure = Infrastructure(f"https://127.0.0.1:{proxy_port}", control_plane.ca.cert_file,
                                    options.load_balancer, dict(loadbalancer.POOLS), router.DOMAIN)
    proxy = _start_fault_proxy(supervisor, control_plane, proxy_port)
    infrastructure.children = (proxy,)
    infrastructure._checks.append(_Check(
        "the fault proxy", lambda: _proxy_healthy(infrastructure.fault_proxy_url, control_plane.ca.cert_file), proxy))
    webhook_port = free_port()
    for obj in _objects(infrastructure, control_plane, webhook_port):
        _apply(admin, obj)
    _apply_yaml(admin, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{ROUTE_CRD}", route_crd())
    _start_controllers(infrastructure, supervisor, control_plane, admin, home, webhook_port)
    if wait:
        infrastructure.wait_ready()
        print(f"sandbox: infrastructure (fault proxy {infrastructure.fault_proxy_url}, router, load balancer "
              f"{'on' if options.load_balancer else 'off'}) in {time.monotonic() - infrastructure._started:.1f}s",
              file=sys.stderr)
    return infrastructure


def _start_controllers(infrastructure: Infrastructure, supervisor: Supervisor, control_plane: ControlPlane,
                       admin: Api, home: Path, webhook_port: int) -> None:
    """The router (with its webhook) and, if asked for, the load balancer, each as its ServiceAccount."""
    cert, key = control_plane.ca.issue("route-host-assignment", "route-host-assignment", dns_names=["localhost"],
                                       ip_addresses=["127.0.0.1"])
    router_ready = home / "router.ready"
    routing = supervisor.spawn("router", [
        sys.executable, "-m", "tests.sandbox.router",
        "--kubeconfig", str(_account_kubeconfig(admin, control_plane, home, router.SERVICE_ACCOUNT)),
        "--webhook-port", str(webhook_port), "--cert", str(cert), "--key", str(key),
        "--ready-file", str(router_ready)], env=_env(), restart=True)
    infrastructure.children += (routing,)
    infrastructure._checks.append(_Check("the router listing Routes", router_ready.exists, routing))
    if infrastructure.load_balancer:
        balancer_ready = home / "load-balancer.ready"
        balancer = supervisor.spawn("load-balancer", [
            sys.executable, "-m", "tests.sandbox.loadbalancer",
            "--kubeconfig", str(_account_kubeconfig(admin, control_plane, home, loadbalancer.SERVICE_ACCOUNT)),
            "--ready-file", str(balancer_ready)], env=_env(), restart=True)
        infrastructure.children += (balancer,)
        infrastructure._checks.append(_Check("the load balancer listing Services", balancer_ready.exists, balancer))
    infrastructure._checks.append(_Check("the Route API and its host assignment", lambda: _host_assigned(admin),
                                         routing))


def _env() -> dict[str, str]:
    """The controllers run as `python -m tests.sandbox.<module>`."""
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _start_fault_proxy(supervisor: Supervisor, control_plane: ControlPlane, port: int) -> Child:
    cert, key = control_plane.ca.issue("fault-proxy", "sandbox-fault-proxy", dns_names=["localhost"],
                                       ip_addresses=["127.0.0.1", "::1"])
    return supervisor.spawn("fault-proxy", [
        sys.executable, "-m", "tests.sandbox.fault_proxy", "--port", str(port), "--upstream", control_plane.server,
        "--ca", str(control_plane.ca.cert_file), "--cert", str(cert), "--key", str(key)], env=_env(), restart=True)


# -- objects ---------------------------------------------------------------------------------------------

def _objects(infrastructure: Infrastructure, control_plane: ControlPlane, webhook_port: int) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        *_load_balancer_rbac(),
        *_router_rbac(),
        *_route_roles(),
        _config_map(loadbalancer.SWITCH, {"enabled": "true"}),
        _config_map(INFO, {
            "faultProxyURL": infrastructure.fault_proxy_url,
            "loadBalancer": "on" if infrastructure.load_balancer else "off",
            "loadBalancerPools": json.dumps(infrastructure.load_balancer_pools),
            "routerDomain": infrastructure.router_domain,
            "startDelayAnnotation": START_DELAY_ANNOTATION,
        }),
        _host_assignment_webhook(control_plane, webhook_port),
    ]


def _config_map(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NAMESPACE},
            "data": data}


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _account_with_roles(account: str, cluster_rules: list[dict[str, Any]],
                        extra_cluster_roles: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A ServiceAccount in sandbox-infra with a ClusterRole of its own (plus existing ones) bound to it."""
    rbac = "rbac.authorization.k8s.io/v1"
    subject = [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
    role = f"sandbox:{account}"
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": NAMESPACE}},
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": role}, "rules": cluster_rules},
    ]
    for name in (role, *extra_cluster_roles):
        objects.append({"apiVersion": rbac, "kind": "ClusterRoleBinding",
                        "metadata": {"name": f"sandbox:{account}:{name.replace('system:', '')}"},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                        "subjects": subject})
    return objects


def _load_balancer_rbac() -> list[dict[str, Any]]:
    """As MetalLB's controller: Services and their status, events; its switch ConfigMap."""
    rbac = "rbac.authorization.k8s.io/v1"
    account = loadbalancer.SERVICE_ACCOUNT
    return [
        *_account_with_roles(account, [
            _rule([""], ["services"], ["get", "list", "watch"]),
            _rule([""], ["services/status"], ["update", "patch"]),
            _rule(["", "events.k8s.io"], ["events"], ["create", "patch"]),
        ]),
        {"apiVersion": rbac, "kind": "Role", "metadata": {"name": account, "namespace": NAMESPACE},
         "rules": [_rule([""], ["configmaps"], ["get", "list", "watch"])]},
        {"apiVersion": rbac, "kind": "RoleBinding", "metadata": {"name": account, "namespace": NAMESPACE},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
         "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]},
    ]


def _router_rbac() -> list[dict[str, Any]]:
    """As OpenShift's router (system:router): Routes and their status; SubjectAccessReviews for the webhook."""
    return _account_with_roles(router.SERVICE_ACCOUNT, [
        _rule(["route.openshift.io"], ["routes"], ["get", "list", "watch"]),
        _rule(["route.openshift.io"], ["routes/status"], ["update", "patch"]),
    ], extra_cluster_roles=("system:auth-delegator",))


def _route_roles() -> list[dict[str, Any]]:
    """Routes in the default admin, edit and view roles, as OpenShift aggregates them (custom hosts too)."""
    rbac = "rbac.authorization.k8s.io/v1"
    prefix = "rbac.authorization.k8s.io/aggregate-to-"
    write = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    return [
        {"apiVersion": rbac, "kind": "ClusterRole",
         "metadata": {"name": "sandbox:routes-edit", "labels": {f"{prefix}admin": "true", f"{prefix}edit": "true"}},
         "rules": [_rule(["route.openshift.io"], ["routes", "routes/custom-host"], write),
                   _rule(["route.openshift.io"], ["routes/status"], ["get", "list", "watch"])]},
        {"apiVersion": rbac, "kind": "ClusterRole",
         "metadata": {"name": "sandbox:routes-view", "labels": {f"{prefix}view": "true"}},
         "rules": [_rule(["route.openshift.io"], ["routes", "routes/status"], ["get", "list", "watch"])]},
    ]


def _host_assignment_webhook(control_plane: ControlPlane, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK},
        "webhooks": [{
            "name": "route-host-assignment.sandbox.virt-expose.io",
            "clientConfig": {"url": f"https://127.0.0.1:{port}{router.WEBHOOK_PATH}",
                             "caBundle": base64.b64encode(control_plane.ca.cert_pem).decode()},
            "rules": [{"apiGroups": ["route.openshift.io"], "apiVersions": ["v1"], "resources": ["routes"],
                       "operations": ["CREATE", "UPDATE"], "scope": "Namespaced"}],
            # As the admission plugin it stands for: no route is created without its host.
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10,
        }],
    }


_COLLECTIONS = {
    "Namespace": "/api/v1/namespaces",
    "ServiceAccount": "/api/v1/namespaces/{namespace}/serviceaccounts",
    "ConfigMap": "/api/v1/namespaces/{namespace}/configmaps",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
    "MutatingWebhookConfiguration": "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
}


def _apply(api: Api, obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    collection = _COLLECTIONS[obj["kind"]].format(namespace=meta.get("namespace", ""))
    _apply_yaml(api, f"{collection}/{meta['name']}", json.dumps(obj).encode())


def _apply_yaml(api: Api, path: str, document: bytes | Path) -> None:
    """Server-side apply (JSON is YAML too); a file is sent as it is."""
    body = document.read_bytes() if isinstance(document, Path) else document
    api.request("PATCH", f"{path}?fieldManager={_FIELD_MANAGER}&force=true", body,
                content_type="application/apply-patch+yaml")


def _account_kubeconfig(admin: Api, control_plane: ControlPlane, home: Path, account: str) -> Path:
    token = admin.request("POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{account}/token",
                          {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                           "spec": {"expirationSeconds": TOKEN_SECONDS}})["status"]["token"]
    return control_plane.write_kubeconfig(home / f"{account}.kubeconfig", token=token)


# -- readiness -------------------------------------------------------------------------------------------

def _proxy_healthy(url: str, ca_file: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(f"{url}/sandbox-faults/healthz", timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _host_assigned(admin: Api) -> bool:
    """A dry-run Route comes back with its generated host: the CRD is served and the webhook in effect."""
    probe = {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "probe"},
             "spec": {"to": {"kind": "Service", "name": "probe"}}}
    try:
        created = admin.request("POST", "/apis/route.openshift.io/v1/namespaces/default/routes?dryRun=All", probe)
    except ApiError as error:
        if error.status in (404, 500, 503):  # not served yet, or the webhook not reachable yet
            return False
        raise
    return bool(created["spec"].get("host"))


def _wait(check: _Check, deadline: float) -> None:
    child = check.child
    while not check.ready():
        if child.popen.poll() is not None or child.starts > 1:  # exited, or restarted: it failed to start
            raise RuntimeError(f"{child.name} exited with {child.popen.returncode}; log {child.log}:\n"
                               f"{child.tail(30)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{check.what}: not ready after {START_TIMEOUT:.0f}s; log {child.log}:\n"
                               f"{child.tail(30)}")
        time.sleep(0.05)
