"""What a real cluster gets from its infrastructure, simulated: the load balancer, the router, a faulty network.

- Load balancer (`--load-balancer`, the default): tests/sandbox/loadbalancer.py, as MetalLB's controller, with
  its own ServiceAccount; `--no-load-balancer` starts nothing, so LoadBalancer Services stay pending, as on a
  cluster without a provider. While it runs, the ConfigMap sandbox-infra/load-balancer (`enabled`) switches it.
- Routes (`--route-api`, the default): the Route CRD from github.com/openshift/api (build.route_crd(), installed
  as published), a mutating webhook that assigns hosts as OpenShift's API server does, and the `default` router
  that admits Routes (tests/sandbox/router.py), as MicroShift has them; `--no-route-api` installs none of it, as
  on a Kubernetes cluster that is not OpenShift (the ConfigMap's `routerDomain` is then empty).
- Faults: tests/sandbox/fault_proxy.py, a TLS proxy in front of the API server with a certificate from the cluster CA.

What tests need to find them is in the ConfigMap sandbox-infra/infrastructure (`INFO_KEYS`).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from kubernetes import client

from tests.sandbox import loadbalancer, router
from tests.sandbox.apiclient import ApiException, admin_client, apply, create, service_account_token
from tests.sandbox.build import route_crd
from tests.sandbox.controlplane import ControlPlane
from tests.sandbox.process import Child, HealthCheck, Supervisor, free_port, poll_until

if TYPE_CHECKING:
    from tests.sandbox.launch import SandboxOptions

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "sandbox-infra"
INFO = "infrastructure"  # ConfigMap with these keys:
INFO_KEYS = ("faultProxyURL", "loadBalancer", "loadBalancerPools", "routerDomain", "startDelayAnnotation")
# kwok's pod-start Stage waits this long (a Go duration, e.g. "2500ms") before a pod runs; KubeVirt copies a
# VMI's annotations (hence a VM template's) to its launcher pod.
START_DELAY_ANNOTATION = "sandbox.virt-expose.io/start-delay-ms"
ROUTE_CRD = "routes.route.openshift.io"
WEBHOOK = "sandbox-route-host-assignment"
START_TIMEOUT = 120.0  # as long as KubeVirt's install, which runs beside it
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
    router_domain: str  # apps.sandbox.example; "" without the Route API
    namespace: str = NAMESPACE
    children: tuple[Child, ...] = field(default=())

    @property
    def route_api(self) -> bool:
        return bool(self.router_domain)

    @property
    def fault_control_url(self) -> str:
        """Where tests tell the proxy what to do (tests/e2e/sandbox_infrastructure.FaultProxy, kubectl --raw)."""
        return f"{self.fault_proxy_url}/sandbox-faults"

    def kubeconfig_cluster(self) -> dict[str, str]:
        """A kubeconfig `cluster` entry for the proxy; with the sandbox's token users, a `faults` context."""
        return {"server": self.fault_proxy_url, "certificate-authority": str(self.fault_proxy_ca)}


def start_infrastructure(options: SandboxOptions, supervisor: Supervisor, workdir: Path,
                         control_plane: ControlPlane) -> Infrastructure:
    """Starts the fault proxy, (if asked for) the Route API with its router and the load balancer; returns once
    each serves: the proxy answers, the controllers listed what they watch and Routes get their hosts."""
    home = (workdir / "infrastructure").resolve()
    home.mkdir(parents=True, exist_ok=True)
    admin = admin_client(control_plane, _FIELD_MANAGER)
    deadline = time.monotonic() + START_TIMEOUT
    proxy_port = free_port()
    infrastructure = Infrastructure(f"https://127.0.0.1:{proxy_port}", control_plane.ca.cert_file,
                                    options.load_balancer, dict(loadbalancer.POOLS),
                                    router.DOMAIN if options.route_api else "")
    proxy = _start_fault_proxy(supervisor, control_plane, proxy_port)
    infrastructure.children = (proxy,)
    checks = [_Check("the fault proxy", HealthCheck(f"{infrastructure.fault_control_url}/healthz",
                                                    control_plane.ca.cert_file), proxy)]
    webhook_port = free_port()
    apply(admin, _objects(infrastructure, control_plane, webhook_port), _FIELD_MANAGER)
    if infrastructure.route_api:
        apply(admin, [yaml.load(route_crd().read_bytes(), Loader=yaml.CSafeLoader)], _FIELD_MANAGER)
    checks += _start_controllers(infrastructure, supervisor, control_plane, admin, home, webhook_port)
    for check in checks:
        poll_until(check.what, _first_start(check), deadline, check.child)
    return infrastructure


def _first_start(check: _Check) -> Callable[[], bool]:
    """The check, failing if its process had to be restarted: it failed to start."""
    def ready() -> bool:
        if check.child.starts > 1:
            raise RuntimeError(f"{check.child.name} exited while starting; log {check.child.log}:\n"
                               f"{check.child.tail(30)}")
        return check.ready()
    return ready


def _start_controllers(infrastructure: Infrastructure, supervisor: Supervisor, control_plane: ControlPlane,
                       admin: client.ApiClient, home: Path, webhook_port: int) -> list[_Check]:
    """The router (with its webhook) if the Route API is on and the load balancer if asked for, each as its
    ServiceAccount; what shows they are ready."""
    checks = []
    if infrastructure.route_api:
        cert, key = control_plane.ca.issue("route-host-assignment", "route-host-assignment",
                                           dns_names=["localhost"], ip_addresses=["127.0.0.1"])
        router_ready = home / "router.ready"
        routing = supervisor.spawn("router", [
            sys.executable, "-m", "tests.sandbox.router",
            "--kubeconfig", str(_account_kubeconfig(admin, control_plane, home, router.SERVICE_ACCOUNT)),
            "--webhook-port", str(webhook_port), "--cert", str(cert), "--key", str(key),
            "--ready-file", str(router_ready)], env=_env(), restart=True)
        infrastructure.children += (routing,)
        checks += [_Check("the router listing Routes", router_ready.exists, routing),
                   _Check("the Route API and its host assignment", lambda: _host_assigned(admin), routing)]
    if infrastructure.load_balancer:
        balancer_ready = home / "load-balancer.ready"
        balancer = supervisor.spawn("load-balancer", [
            sys.executable, "-m", "tests.sandbox.loadbalancer",
            "--kubeconfig", str(_account_kubeconfig(admin, control_plane, home, loadbalancer.SERVICE_ACCOUNT)),
            "--ready-file", str(balancer_ready)], env=_env(), restart=True)
        infrastructure.children += (balancer,)
        checks.append(_Check("the load balancer listing Services", balancer_ready.exists, balancer))
    return checks


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
    routes = [*_router_rbac(), *_route_roles(), _host_assignment_webhook(control_plane, webhook_port)]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        *_load_balancer_rbac(),
        *(routes if infrastructure.route_api else []),
        _config_map(loadbalancer.SWITCH, {"enabled": "true"}),
        _config_map(INFO, {
            "faultProxyURL": infrastructure.fault_proxy_url,
            "loadBalancer": "on" if infrastructure.load_balancer else "off",
            "loadBalancerPools": json.dumps(infrastructure.load_balancer_pools),
            "routerDomain": infrastructure.router_domain,
            "startDelayAnnotation": START_DELAY_ANNOTATION,
        }),
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


def _account_kubeconfig(admin: client.ApiClient, control_plane: ControlPlane, home: Path, account: str) -> Path:
    token = service_account_token(admin, NAMESPACE, account, TOKEN_SECONDS)
    return control_plane.write_kubeconfig(home / f"{account}.kubeconfig", token=token)


# -- readiness -------------------------------------------------------------------------------------------

def _host_assigned(admin: client.ApiClient) -> bool:
    """A dry-run Route comes back with its generated host: the CRD is served and the webhook in effect."""
    probe = {"apiVersion": "route.openshift.io/v1", "kind": "Route",
             "metadata": {"name": "probe", "namespace": "default"},
             "spec": {"to": {"kind": "Service", "name": "probe"}}}
    try:
        created = create(admin, probe, dry_run=True)
    except ApiException as error:
        if error.status in (404, 500, 503):  # not served yet, or the webhook not reachable yet
            return False
        raise
    return bool(created["spec"].get("host"))
