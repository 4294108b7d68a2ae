"""The sandbox's users, as contexts of its kubeconfig next to the admin's (the current context, `sandbox`):

- `restricted`: a bearer token (ServiceAccount example-namespace/restricted) whose only rights are a Role in
  example-namespace allowing get, list and watch on VMs, VMIs, pods, services and endpointslices: every
  other request is a real 403 from the API server, also on virt-api's aggregated API;
- `cert-user`: a client certificate from the cluster CA, user `sandbox-cert-user` in the group
  `kubeadm:cluster-admins`, which is bound to cluster-admin as kubeadm binds it for its admin.conf;
- `exec-user`: a kubectl exec credential plugin (exec_credential.py, run by this Python) handing out a
  ServiceAccount token (default/sandbox-exec-user, bound to the `edit` ClusterRole, which KubeVirt's own
  roles extend to VMs and their subresources);
- `anonymous`: no credentials at all (the API server's default anonymous authentication: 403 as
  system:anonymous for anything but discovery and health; kubectl prompts for a username with it, the
  Python client sends no credentials);
- `bad-token`: a token the API server does not know (401 Unauthorized).
Every context's namespace is example-namespace.
"""

from __future__ import annotations

import datetime
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.sandbox.apiclient import apply, service_account_token
from tests.sandbox.controlplane import ControlPlane
from tests.sandbox.exec_credential import kubeconfig_user

ADMIN_CONTEXT = "sandbox"
RESTRICTED_ACCOUNT = "restricted"
CERT_USER = "sandbox-cert-user"
CERT_GROUP = "kubeadm:cluster-admins"
EXEC_ACCOUNT = ("default", "sandbox-exec-user")
TOKEN_DURATION = datetime.timedelta(days=30)  # outlives any sandbox; nothing rotates these tokens
FIELD_MANAGER = "sandbox-users"
RESTRICTED_RULES = [
    {"apiGroups": ["kubevirt.io"], "resources": ["virtualmachines", "virtualmachineinstances"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
]


@dataclass(frozen=True)
class KubeconfigUser:
    """A kubeconfig user entry and the context (of the same name) that uses it."""

    name: str
    credentials: dict[str, Any]
    cluster: str = "sandbox"


@dataclass
class Kubeconfig:
    """A kubeconfig with several clusters (the API server, the fault proxy) and users, one context each."""

    namespace: str
    clusters: dict[str, dict[str, str]] = field(default_factory=dict)
    users: list[KubeconfigUser] = field(default_factory=list)

    def write(self, path: Path, current: str = ADMIN_CONTEXT) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": cluster} for name, cluster in self.clusters.items()],
            "users": [{"name": user.name, "user": user.credentials} for user in self.users],
            "contexts": [{"name": user.name, "context": {
                "cluster": user.cluster, "user": user.name, "namespace": self.namespace}} for user in self.users],
            "current-context": current,
            "preferences": {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML: kubectl reads it as is
        path.chmod(0o600)
        return path


def create_users(api: client.ApiClient, control_plane: ControlPlane, directory: Path,
                 namespace: str) -> list[KubeconfigUser]:
    """Creates the users' ServiceAccounts, RBAC and credentials; `namespace` must exist."""
    directory.mkdir(parents=True, exist_ok=True)
    apply(api, _rbac(namespace), FIELD_MANAGER)
    seconds = int(TOKEN_DURATION.total_seconds())
    restricted = service_account_token(api, namespace, RESTRICTED_ACCOUNT, seconds)
    cert, key = control_plane.ca.issue(CERT_USER, CERT_USER, organizations=[CERT_GROUP], usage="client")
    exec_token_file = directory / "exec-user.token"
    exec_token_file.write_text(service_account_token(api, *EXEC_ACCOUNT, seconds) + "\n")
    exec_token_file.chmod(0o600)
    return [
        KubeconfigUser(ADMIN_CONTEXT, {"token": control_plane.admin_token}),
        KubeconfigUser("restricted", {"token": restricted}),
        KubeconfigUser("cert-user", {"client-certificate": str(cert), "client-key": str(key)}),
        KubeconfigUser("exec-user", kubeconfig_user(exec_token_file, TOKEN_DURATION)),
        KubeconfigUser("anonymous", {}),
        KubeconfigUser("bad-token", {"token": secrets.token_urlsafe(32)}),
    ]


def _rbac(namespace: str) -> list[dict[str, Any]]:
    exec_namespace, exec_name = EXEC_ACCOUNT
    restricted_subject = {"kind": "ServiceAccount", "name": RESTRICTED_ACCOUNT, "namespace": namespace}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": RESTRICTED_ACCOUNT, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": RESTRICTED_ACCOUNT, "namespace": namespace}, "rules": RESTRICTED_RULES},
        _binding("RoleBinding", RESTRICTED_ACCOUNT, "Role", RESTRICTED_ACCOUNT, restricted_subject, namespace),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": exec_name, "namespace": exec_namespace}},
        _binding("ClusterRoleBinding", f"{exec_name}-edit", "ClusterRole", "edit",
                 {"kind": "ServiceAccount", "name": exec_name, "namespace": exec_namespace}),
        _binding("ClusterRoleBinding", CERT_GROUP, "ClusterRole", "cluster-admin",
                 {"kind": "Group", "name": CERT_GROUP, "apiGroup": "rbac.authorization.k8s.io"}),
    ]


def _binding(kind: str, name: str, role_kind: str, role: str, subject: dict[str, str],
             namespace: str | None = None) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": [subject]}
