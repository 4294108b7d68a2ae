"""The least-privilege Role the README ships (read from the README's own block: they cannot drift), bound to a
new user of the sandbox (a ServiceAccount with a token, in a kubeconfig of its own): every flow of `expose`,
`list` and `delete` succeeds as that user and makes no request the Role does not grant (but the optional
`list nodes`); without any one verb of any rule, the plugin fails with the API server's message naming that
verb and resource, or degrades as the README says."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from oc_virt_expose.model.network import unread_policies_warning
from tests.e2e.plugin_runs import Result, resource_of, run_plugin
from tests.e2e.readme_blocks import NODES_MARKER, RBAC_SECTION, ROLE_MARKER, yaml_document
from tests.e2e.workloads import as_if_before_kubevirt_1_7, create_vm, service_or_none, template_labels
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox
from tests.sandbox.users import Kubeconfig, KubeconfigUser

pytestmark = pytest.mark.sandbox

ROLE = yaml_document(RBAC_SECTION, ROLE_MARKER)
NODES_ROLE = yaml_document(RBAC_SECTION, NODES_MARKER)
ACCOUNT = "virt-expose-user"
WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
HOSTNAME = "shop.vms.example"


class Right(NamedTuple):
    """One verb on one resource of one API group, as RBAC grants it."""

    group: str
    resource: str
    verb: str

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}" + (f".{self.group}" if self.group else "")

    def forbidden(self, namespace: str) -> str:
        """What the API server's 403 says about it."""
        return (f'cannot {self.verb} resource "{self.resource}" in API group "{self.group}" in the namespace '
                f'"{namespace}"')


CUSTOM_HOST = {Right("route.openshift.io", "routes/custom-host", "create"),
               Right("route.openshift.io", "routes/custom-host", "update")}  # checked by admission, not a request
LIST_NODES = Right("", "nodes", "list")


def rights_of(role: dict[str, Any]) -> list[Right]:
    return [Right(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]]


def without(role: dict[str, Any], removed: Right) -> dict[str, Any]:
    """The Role with one right taken out: one rule per right, so that every other right stays."""
    reduced = copy.deepcopy(role)
    reduced["rules"] = [{"apiGroups": [right.group], "resources": [right.resource], "verbs": [right.verb]}
                        for right in rights_of(role) if right != removed]
    return reduced


def right_of(request: str) -> Right:
    """`PATCH /apis/kubevirt.io/v1/namespaces/n/virtualmachines/x?...` -> patch virtualmachines.kubevirt.io."""
    method, _, target = request.partition(" ")
    path, _, query = target.partition("?")
    parts = [part for part in path.split("/") if part]
    rest = resource_of(path)
    resource = rest[0] + (f"/{rest[2]}" if len(rest) == 3 else "")
    verb = WRITE_VERBS.get(method) or ("watch" if "watch=true" in query else "get" if len(rest) >= 2 else "list")
    return Right("" if parts[0] == "api" else parts[1], resource, verb)


@dataclass
class Place:
    """A test's namespace and the user who may act in it as a Role says (`env`: its KUBECONFIG)."""

    sandbox: RunningSandbox
    namespace: str
    env: dict[str, str]

    def run(self, *args: str) -> Result:
        """The plugin as the user."""
        return run_plugin(self.sandbox, *args, "-n", self.namespace, env=self.env)

    def admin_run(self, *args: str) -> None:
        """The plugin as the sandbox's admin, to set a scene."""
        result = run_plugin(self.sandbox, *args, "-n", self.namespace)
        assert result.code == 0, result

    def vm(self, name: str, *, running: bool = False, wait: bool = True, lacking_id: bool = False) -> None:
        """A VM; `lacking_id`: running, its pod without `vmi.kubevirt.io/id`, so it needs labels live."""
        manifest = vm_manifest(name, running=running or lacking_id)
        create_vm(self.sandbox, self.namespace, manifest, wait=wait)
        if lacking_id:
            as_if_before_kubevirt_1_7(self.sandbox, self.namespace, name)


def user_with(sandbox: RunningSandbox, namespace: str, role: dict[str, Any], directory: Path) -> Place:
    """A new ServiceAccount in `namespace` bound to `role` there, and a kubeconfig of its own with its token."""
    role = copy.deepcopy(role)
    role["metadata"]["namespace"] = namespace
    account = {"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": ACCOUNT, "namespace": namespace},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]},
               "subjects": [account]}
    sandbox.apply({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": ACCOUNT, "namespace": namespace}},
        role, binding]})
    token = sandbox.kubectl("create", "token", ACCOUNT, namespace=namespace).stdout.strip()
    admin = json.loads(sandbox.kubeconfig.read_text())
    cluster = next(entry["cluster"] for entry in admin["clusters"] if entry["name"] == "sandbox")
    kubeconfig = Kubeconfig(namespace, clusters={"sandbox": cluster},
                            users=[KubeconfigUser(ACCOUNT, {"token": token})])
    path = kubeconfig.write(directory / f"{namespace}.kubeconfig", current=ACCOUNT)
    return Place(sandbox, namespace, {**sandbox.env, "KUBECONFIG": str(path)})


@pytest.fixture
def place_for(sandbox: RunningSandbox, namespace: str, tmp_path: Path) -> Callable[[dict[str, Any]], Place]:
    """`place_for(role)`: the test's namespace with a new user bound to `role` in it."""
    return lambda role: user_with(sandbox, namespace, role, tmp_path)


def test_the_readme_role_is_namespaced_and_grants_no_wildcard() -> None:
    assert ROLE["kind"] == "Role" and "namespace" not in ROLE["metadata"]
    assert all("*" not in value for rule in ROLE["rules"] for key in ("apiGroups", "resources", "verbs")
               for value in rule[key])
    assert len(set(rights_of(ROLE))) == len(rights_of(ROLE))
    assert NODES_ROLE["kind"] == "ClusterRole" and rights_of(NODES_ROLE) == [LIST_NODES]


def test_every_flow_succeeds_with_the_role_and_needs_all_of_it(place_for: Callable[[dict[str, Any]], Place]) -> None:
    place = place_for(ROLE)
    place.vm("seed")
    place.vm("starter")
    place.vm("live", lacking_id=True)
    place.vm("restarted", lacking_id=True)
    place.vm("lab-a", running=True)
    place.vm("lab-b")
    place.vm("shop")
    runs = [
        place.run("vm", "seed", "--selector", "special=key", "--type", "NodePort", "--port", "80",
                  "--target-port", "9376"),
        place.run("vm", "starter", "--start", "--port", "80"),
        place.run("vm", "live", "--port", "80"),
        place.run("vm", "restarted", "--port", "80", "--restart=always"),
        place.run("vm", "lab-a", "lab-b", "--port", "22", "--name-suffix", "-ssh", "--type", "LoadBalancer"),
        place.run("vm", "shop", "--route", "--port", "80"),
        place.run("vm", "shop", "--route", "--port", "8080", "--hostname", HOSTNAME, "--overwrite"),
    ]
    listed = place.run("list")
    runs.append(listed)
    for name in ("seed", "starter", "live", "restarted", "shop"):
        runs.append(place.run("delete", "vm", name))
    runs.append(place.run("delete", "vm", "lab-a"))
    for result in runs:
        assert result.code == 0 and not result.stderr, result
    assert "service/live verified: 1 ready endpoint" in runs[2].stdout
    assert "virtualmachineinstance.kubevirt.io/live labeled" in runs[2].stdout
    assert "virtualmachine.kubevirt.io/restarted restarted" in runs[3].stdout
    assert f"http://{HOSTNAME}" in runs[6].stdout
    for name in ("seed", "starter", "live", "restarted", "lab-a-ssh", "lab-b-ssh", "shop"):
        assert name in listed.stdout, listed
    for name in ("seed", "starter", "live", "restarted", "lab-a-ssh", "shop"):
        assert service_or_none(place.sandbox, place.namespace, name) is None
    assert template_labels(place.sandbox, place.namespace, "live") == {}
    requested = {right_of(request) for result in runs for request in result.requests}
    assert requested == set(rights_of(ROLE)) - CUSTOM_HOST | {LIST_NODES}  # every right used; no other request


# -- without one right --------------------------------------------------------------------------------------

def expose_stopped(place: Place) -> Result:
    place.vm("vm")
    return place.run("vm", "vm", "--port", "80")


def expose_may_run(place: Place) -> Result:
    """The VM is to run: its VMI is read (whether it is there yet or not)."""
    place.vm("vm", running=True, wait=False)
    return place.run("vm", "vm", "--port", "80")


def expose_live(place: Place) -> Result:
    place.vm("vm", lacking_id=True)
    return place.run("vm", "vm", "--port", "80")


def expose_restart(place: Place) -> Result:
    place.vm("vm", lacking_id=True)
    return place.run("vm", "vm", "--port", "80", "--restart=always")


def expose_start(place: Place) -> Result:
    place.vm("vm")
    return place.run("vm", "vm", "--port", "80", "--start")


def expose_several(place: Place) -> Result:
    place.vm("vm-a", running=True, wait=False)
    place.vm("vm-b")
    return place.run("vm", "vm-a", "vm-b", "--port", "80")


def expose_load_balancer(place: Place) -> Result:
    place.vm("vm", running=True)
    return place.run("vm", "vm", "--port", "80", "--type", "LoadBalancer")


def expose_overwrite(place: Place) -> Result:
    place.vm("vm")
    place.admin_run("vm", "vm", "--port", "81")
    return place.run("vm", "vm", "--port", "80", "--overwrite")


def expose_route(place: Place) -> Result:
    place.vm("vm")
    return place.run("vm", "vm", "--port", "80", "--route")


def expose_route_overwrite(place: Place) -> Result:
    place.vm("vm")
    place.admin_run("vm", "vm", "--port", "80", "--route")
    return place.run("vm", "vm", "--port", "8080", "--route", "--overwrite")


def expose_route_hostname(place: Place) -> Result:
    place.vm("vm")
    return place.run("vm", "vm", "--port", "80", "--route", "--hostname", HOSTNAME)


def expose_route_new_hostname(place: Place) -> Result:
    place.vm("vm")
    place.admin_run("vm", "vm", "--port", "80", "--route", "--hostname", HOSTNAME)
    return place.run("vm", "vm", "--port", "80", "--route", "--hostname", f"new-{HOSTNAME}", "--overwrite")


def list_exposed(place: Place) -> Result:
    place.vm("vm")
    place.admin_run("vm", "vm", "--port", "80")
    return place.run("list")


def delete_routed(place: Place) -> Result:
    place.vm("vm")
    place.admin_run("vm", "vm", "--port", "80", "--route")
    return place.run("delete", "vm", "vm")


@dataclass(frozen=True)
class Without:
    """What the plugin does without one right: the flow that needs it, its exit code, and the message it
    prints (by default the API server's 403 for that right)."""

    flow: Callable[[Place], Result]
    code: int = 1
    message: str | None = None
    warning: bool = False
    """The message is a warning of a run that goes on (exit `code`), not the error."""


KUBEVIRT, SUBRESOURCES, ROUTES = "kubevirt.io", "subresources.kubevirt.io", "route.openshift.io"
HOST_FORBIDDEN = "spec.host: Forbidden: you do not have permission to set the host field of the route"
WITHOUT = {
    Right(KUBEVIRT, "virtualmachines", "get"): Without(expose_stopped),
    Right(KUBEVIRT, "virtualmachines", "list"): Without(list_exposed),
    Right(KUBEVIRT, "virtualmachines", "patch"): Without(expose_stopped),
    Right(KUBEVIRT, "virtualmachineinstances", "get"): Without(expose_may_run),
    Right(KUBEVIRT, "virtualmachineinstances", "list"): Without(expose_several),
    Right(KUBEVIRT, "virtualmachineinstances", "patch"): Without(expose_live, code=3),  # re-run with a restart
    Right(SUBRESOURCES, "virtualmachines/restart", "update"): Without(expose_restart),
    Right(SUBRESOURCES, "virtualmachines/start", "update"): Without(expose_start),
    Right("", "pods", "list"): Without(list_exposed),
    Right("", "pods", "patch"): Without(expose_live, code=3),
    Right("", "services", "get"): Without(expose_stopped),
    Right("", "services", "list"): Without(list_exposed),
    Right("", "services", "watch"): Without(expose_load_balancer),
    Right("", "services", "create"): Without(expose_stopped),
    Right("", "services", "update"): Without(expose_overwrite),
    Right("", "services", "delete"): Without(delete_routed),
    Right("discovery.k8s.io", "endpointslices", "list"): Without(list_exposed),
    Right("discovery.k8s.io", "endpointslices", "watch"): Without(expose_start),
    Right("networking.k8s.io", "networkpolicies", "list"): Without(expose_stopped, code=0, warning=True),
    Right(ROUTES, "routes", "get"): Without(expose_route),
    Right(ROUTES, "routes", "list"): Without(delete_routed),
    Right(ROUTES, "routes", "watch"): Without(expose_route),
    Right(ROUTES, "routes", "create"): Without(expose_route),
    Right(ROUTES, "routes", "update"): Without(expose_route_overwrite),
    Right(ROUTES, "routes", "delete"): Without(delete_routed),
    Right(ROUTES, "routes/custom-host", "create"): Without(expose_route_hostname, message=HOST_FORBIDDEN),
    Right(ROUTES, "routes/custom-host", "update"): Without(
        expose_route_new_hostname, message=f'spec.host: Invalid value: "new-{HOSTNAME}": field is immutable'),
}


def test_each_right_of_the_role_is_covered_below() -> None:
    assert set(WITHOUT) == set(rights_of(ROLE))


@pytest.mark.parametrize("right", list(WITHOUT), ids=str)
def test_without_one_right_the_plugin_names_it(place_for: Callable[[dict[str, Any]], Place], right: Right) -> None:
    place = place_for(without(ROLE, right))
    expected = WITHOUT[right]
    result = expected.flow(place)
    message = expected.message or right.forbidden(place.namespace)
    assert result.code == expected.code, result
    assert "Traceback" not in result.stderr, result
    if right == Right("networking.k8s.io", "networkpolicies", "list"):
        assert result.stderr == f"Warning: {unread_policies_warning(place.namespace)}\n", result
        return
    *warnings, error = result.stderr.splitlines()
    assert not warnings and error.startswith("error: ") and message in error, result
    if expected.message is None:
        assert "Error from server (Forbidden): " in error, result


def test_without_listing_nodes_the_summary_has_no_node_address(place_for: Callable[[dict[str, Any]], Place],
                                                               sandbox: RunningSandbox) -> None:
    """Nodes are cluster-scoped: the README's optional ClusterRole shows every node's address."""
    place = place_for(ROLE)
    place.vm("vm")
    alone = place.run("vm", "vm", "--port", "80", "--type", "NodePort")
    assert alone.code == 0 and not alone.stderr, alone
    assert "of every node\n" in alone.stdout and "<node address>" in alone.stdout
    binding = f"virt-expose-nodes-{place.namespace}"
    sandbox.apply(NODES_ROLE)
    sandbox.kubectl("create", "clusterrolebinding", binding, "--clusterrole", NODES_ROLE["metadata"]["name"],
                    f"--serviceaccount={place.namespace}:{ACCOUNT}")
    try:
        with_nodes = place.run("vm", "vm", "--port", "80", "--type", "NodePort")
    finally:
        sandbox.kubectl("delete", "clusterrolebinding", binding)
    assert with_nodes.code == 0 and not with_nodes.stderr, with_nodes
    assert "of every node, e.g. " in with_nodes.stdout and "<node address>" not in with_nodes.stdout
