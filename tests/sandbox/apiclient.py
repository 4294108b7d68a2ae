"""The sandbox's own requests to its API server while it starts, through the official Python client: server-side
apply of any object, JSON in and out (KubeVirt's CRDs are megabytes of schema: the typed models would only slow
them down), and waiting for a condition by list-then-watch instead of polling.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.sandbox.controlplane import ControlPlane
from tests.sandbox.informer import api_client, key_of, raw
from tests.sandbox.process import Child, timed_out

__all__ = ["ApiException", "Objects", "admin_client", "api_client", "apply", "call", "create", "create_all",
           "object_path", "service_account_token", "wait_until"]

APPLY = "application/apply-patch+yaml"  # JSON is YAML: the objects are sent as JSON
# Kind -> (resource, namespaced), for every kind the sandbox and the tests create.
RESOURCES: dict[str, tuple[str, bool]] = {
    "Namespace": ("namespaces", False),
    "Node": ("nodes", False),
    "ServiceAccount": ("serviceaccounts", True),
    "ConfigMap": ("configmaps", True),
    "Service": ("services", True),
    "ClusterRole": ("clusterroles", False),
    "ClusterRoleBinding": ("clusterrolebindings", False),
    "Role": ("roles", True),
    "RoleBinding": ("rolebindings", True),
    "PriorityClass": ("priorityclasses", False),
    "CustomResourceDefinition": ("customresourcedefinitions", False),
    "APIService": ("apiservices", False),
    "MutatingWebhookConfiguration": ("mutatingwebhookconfigurations", False),
    "ValidatingWebhookConfiguration": ("validatingwebhookconfigurations", False),
    "ValidatingAdmissionPolicy": ("validatingadmissionpolicies", False),
    "ValidatingAdmissionPolicyBinding": ("validatingadmissionpolicybindings", False),
    "KubeVirt": ("kubevirts", True),
    "VirtualMachine": ("virtualmachines", True),
    "VirtualMachineInstanceReplicaSet": ("virtualmachineinstancereplicasets", True),
    "VirtualMachineInstanceMigration": ("virtualmachineinstancemigrations", True),
    "Route": ("routes", True),
}
# How often a watch gives way to check that the component it waits for still runs (events come at once).
_HEARTBEAT = 1.0


def admin_client(plane: ControlPlane, user_agent: str) -> client.ApiClient:
    """The official client as the sandbox's admin, with its own user agent (tests/sandbox/audit.py tells the
    sandbox's requests from the tests' by it)."""
    return api_client(plane.admin_kubeconfig, user_agent)


def collection_path(api_version: str, kind: str, namespace: str | None = None) -> str:
    resource, namespaced = RESOURCES[kind]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if namespaced:
        if not namespace:
            raise ValueError(f"a {kind} needs a namespace")
        return f"{prefix}/namespaces/{namespace}/{resource}"
    return f"{prefix}/{resource}"


def object_path(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{collection_path(obj['apiVersion'], obj['kind'], meta.get('namespace'))}/{meta['name']}"


def call(api: client.ApiClient, method: str, path: str, body: Any = None, *,
         content_type: str = "application/json", query: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """One request; the answer's JSON as a dict. Raises ApiException for any status outside 2xx."""
    response = api.call_api(path, method, query_params=list(query), body=body, auth_settings=["BearerToken"],
                            header_params={"Content-Type": content_type, "Accept": "application/json"},
                            _preload_content=False, _return_http_data_only=True)
    return raw(response)


def apply(api: client.ApiClient, objects: Iterable[dict[str, Any]], field_manager: str,
          parallel: int = 8) -> list[dict[str, Any]]:
    """Server-side applies the objects (conflicts forced, as `kubectl apply --server-side --force-conflicts`);
    see `_each` for the order."""
    query = [("fieldManager", field_manager), ("force", "true")]
    return _each(objects, parallel, lambda obj: call(api, "PATCH", object_path(obj), obj, content_type=APPLY,
                                                     query=query))


def create(api: client.ApiClient, obj: dict[str, Any], *, dry_run: bool = False,
           field_manager: str | None = None) -> dict[str, Any]:
    meta = obj["metadata"]
    path = collection_path(obj["apiVersion"], obj["kind"], meta.get("namespace"))
    query = [("dryRun", "All")] if dry_run else []
    query += [("fieldManager", field_manager)] if field_manager else []
    return call(api, "POST", path, obj, query=query)


def create_all(api: client.ApiClient, objects: Iterable[dict[str, Any]], field_manager: str,
               parallel: int = 8) -> list[dict[str, Any]]:
    """Creates the objects, as an operator's typed client does; see `_each` for the order."""
    return _each(objects, parallel, lambda obj: create(api, obj, field_manager=field_manager))


def _each(objects: Iterable[dict[str, Any]], parallel: int,
          request: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """One request per object: namespaces first (the objects in them are refused until they exist), then
    `parallel` at a time; what the server made of them, in order."""
    objects = list(objects)
    done = {id(obj): request(obj) for obj in objects if obj["kind"] == "Namespace"}
    rest = [obj for obj in objects if obj["kind"] != "Namespace"]
    with ThreadPoolExecutor(parallel, thread_name_prefix="apply") as pool:
        done.update(zip(map(id, rest), pool.map(request, rest)))
    return [done[id(obj)] for obj in objects]


def service_account_token(api: client.ApiClient, namespace: str, account: str, seconds: int) -> str:
    """A token for the ServiceAccount from the TokenRequest API, valid for `seconds`."""
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"expirationSeconds": seconds}}
    return str(client.CoreV1Api(api).create_namespaced_service_account_token(account, namespace, request).status.token)


Objects = dict[str, dict[str, Any]]  # by `namespace/name` (`name` if cluster-scoped)


def wait_until(what: str, ready: Callable[[Objects], bool], deadline: float, list_function: Callable[..., Any],
               *args: Any, child: Child | None = None, **kwargs: Any) -> Objects:
    """Lists with `list_function(*args, **kwargs)` (a list method of the official client), then watches from
    the list's version until `ready(objects)` holds for what the watch has seen, and returns those objects;
    fails at once if `child` exits, or at `deadline` (a `time.monotonic()` value)."""
    objects, version = _list(list_function, *args, **kwargs)
    while not ready(objects):
        if child is not None:
            child.check_running(what)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise timed_out(what, child)
        try:
            version = _watch(objects, version, ready, min(remaining, _HEARTBEAT), list_function, *args, **kwargs)
        except ApiException as error:
            if error.status != 410:
                raise
            objects, version = _list(list_function, *args, **kwargs)  # the version is gone: start over
    return objects


def _list(list_function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Objects, str]:
    listed = raw(list_function(*args, **kwargs, _preload_content=False))
    return {key_of(item): item for item in listed.get("items") or []}, str(listed["metadata"]["resourceVersion"])


def _watch(objects: Objects, version: str, ready: Callable[[Objects], bool], seconds: float,
           list_function: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Applies events to `objects` until `ready` holds or no event came for `seconds`; returns the version
    to go on from."""
    stream = watch.Watch().stream(list_function, *args, **kwargs, resource_version=version, deserialize=False,
                                  allow_watch_bookmarks=True, _request_timeout=(5, seconds))
    try:
        for event in stream:
            obj = event["object"]
            version = obj["metadata"]["resourceVersion"]
            if event["type"] == "DELETED":
                objects.pop(key_of(obj), None)
            elif event["type"] != "BOOKMARK":
                objects[key_of(obj)] = obj
            if ready(objects):
                break
    except urllib3.exceptions.ReadTimeoutError:
        pass  # nothing happened for `seconds`
    finally:
        stream.close()
    return version
