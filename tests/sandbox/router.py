"""The simulated OpenShift router and route host assignment, for the Route API (route.openshift.io/v1) that
the sandbox serves from openshift/api's CRD, as MicroShift does.

Host assignment: in OpenShift and MicroShift the API server's admission plugin `route.openshift.io/
RouteHostAssignment` gives a Route created without `spec.host` (and without `spec.subdomain` or a Subdomain
wildcard policy) the host `<name with dots as dashes>-<namespace>.<domain>` and the annotation
`openshift.io/host.generated: "true"`, in the create request itself; setting or changing a host needs
`create`/`update` on `routes/custom-host` (checked with a SubjectAccessReview). Here a mutating admission
webhook served by this process does the same, so the host is in the create response, as there.

The router (`default`, as the ingress operator names it) admits each Route: `status.ingress[]` gets its host,
`routerName: default`, `routerCanonicalHostname`, the wildcard policy and an `Admitted` condition. A host (and
path) that an older Route already exposes is refused (`HostAlreadyClaimed`), as the router's namespace
ownership check does. Nothing is served: hosts under apps.sandbox.example resolve nowhere.

Run as `python -m tests.sandbox.router --kubeconfig K --webhook-port P --cert C --key K [--ready-file F]`.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox.informer import TRANSIENT, DelayQueue, Informer, api_client, key_of, now_rfc3339, raw

LOG = logging.getLogger("router")
DOMAIN = "apps.sandbox.example"
ROUTER_NAME = "default"
NAMESPACE = "sandbox-infra"
SERVICE_ACCOUNT = "router"
COMPONENT = "sandbox-router"
WEBHOOK_PATH = "/route-host-assignment"
HOST_GENERATED = "openshift.io/host.generated"
GROUP, VERSION, ROUTES = "route.openshift.io", "v1", "routes"


def generated_host(route: dict[str, Any], domain: str) -> str:
    meta = route["metadata"]
    return f"{meta['name'].replace('.', '-')}-{meta['namespace']}.{domain}"


def exposed_host(route: dict[str, Any], domain: str) -> str:
    spec = route.get("spec") or {}
    if spec.get("host"):
        return str(spec["host"])
    return f"{spec['subdomain']}.{domain}" if spec.get("subdomain") else ""


# -- host assignment (the admission step) -----------------------------------------------------------------

def may_set_host(api: client.ApiClient, request: dict[str, Any], verb: str) -> bool:
    """A SubjectAccessReview for `verb` on routes/custom-host, for the user of the admission request."""
    user = request.get("userInfo") or {}
    review = {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user.get("username", ""), "groups": user.get("groups") or [], "uid": user.get("uid", ""),
                 "extra": user.get("extra") or {},
                 "resourceAttributes": {"namespace": request.get("namespace", ""), "verb": verb,
                                        "group": "route.openshift.io", "resource": "routes",
                                        "subresource": "custom-host"}},
    }
    answer = raw(client.AuthorizationV1Api(api).create_subject_access_review(review, _preload_content=False))
    return bool((answer.get("status") or {}).get("allowed"))


def denial(route: dict[str, Any], field: str, message: str) -> dict[str, Any]:
    name = route["metadata"].get("name", "")
    return {"allowed": False, "status": {
        "status": "Failure", "code": 422, "reason": "Invalid",
        "message": f'Route.route.openshift.io "{name}" is invalid: {field}: {message}',
        "details": {"name": name, "group": "route.openshift.io", "kind": "Route",
                    "causes": [{"reason": "FieldValueInvalid", "field": field, "message": message}]}}}


def host_patch(route: dict[str, Any], domain: str) -> list[dict[str, Any]]:
    patch: list[dict[str, Any]] = [{"op": "add", "path": "/spec/host", "value": generated_host(route, domain)}]
    if route["metadata"].get("annotations") is None:
        patch.append({"op": "add", "path": "/metadata/annotations", "value": {HOST_GENERATED: "true"}})
    else:
        patch.append({"op": "add", "path": "/metadata/annotations/" + HOST_GENERATED.replace("/", "~1"),
                      "value": "true"})
    return patch


def admit(api: client.ApiClient, request: dict[str, Any], domain: str) -> dict[str, Any]:
    """The admission response (without uid) for a Route CREATE or UPDATE."""
    route = request["object"]
    spec = route.get("spec") or {}
    if request["operation"] == "CREATE":
        if spec.get("host") and not may_set_host(api, request, "create"):
            return denial(route, "spec.host", "Forbidden: you do not have permission to set the host field of the "
                                              "route")
        if spec.get("host") or spec.get("subdomain") or spec.get("wildcardPolicy") == "Subdomain":
            return {"allowed": True}
        patch = json.dumps(host_patch(route, domain)).encode()
        return {"allowed": True, "patchType": "JSONPatch", "patch": base64.b64encode(patch).decode()}
    old = (request.get("oldObject") or {}).get("spec") or {}
    for field in ("host", "subdomain"):
        if spec.get(field, "") != old.get(field, "") and not may_set_host(api, request, "update"):
            return denial(route, f"spec.{field}", f'Invalid value: "{spec.get(field, "")}": field is immutable')
    return {"allowed": True}


class WebhookHandler(BaseHTTPRequestHandler):
    server: WebhookServer

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        request = review["request"]
        try:
            response = admit(self.server.api, request, self.server.domain)
        except TRANSIENT as error:
            LOG.warning("admission of %s failed: %s", request.get("name"), error)
            response = {"allowed": False, "status": {"code": 500, "message": f"route host assignment: {error}"}}
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": {"uid": request["uid"], **response}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug(format, *args)


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, cert: Path, key: Path, api: client.ApiClient, domain: str) -> None:
        super().__init__(("127.0.0.1", port), WebhookHandler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.api, self.domain = api, domain


# -- the router ------------------------------------------------------------------------------------------

def claimant(route: dict[str, Any], others: list[dict[str, Any]], domain: str) -> dict[str, Any] | None:
    """The older Route that already exposes this Route's host: any one from another namespace (the router's
    namespace ownership check), or one with the same path in this namespace."""
    host, meta = exposed_host(route, domain), route["metadata"]
    path = (route.get("spec") or {}).get("path", "")
    rivals = [other for other in others if other["metadata"]["uid"] != meta["uid"]
              and not other["metadata"].get("deletionTimestamp") and exposed_host(other, domain) == host
              and (other["metadata"]["namespace"] != meta["namespace"]
                   or (other.get("spec") or {}).get("path", "") == path)]
    older = [other for other in rivals if age(other) < age(route)]
    return min(older, key=age) if older else None


def age(route: dict[str, Any]) -> tuple[str, str]:
    """Older first, as the router orders Routes: by creation time (whole seconds), then by uid."""
    return route["metadata"]["creationTimestamp"], route["metadata"]["uid"]


def admitted_condition(claimed_by: dict[str, Any] | None, host: str) -> dict[str, Any]:
    if claimed_by is None:
        return {"type": "Admitted", "status": "True"}
    other = claimed_by["metadata"]
    return {"type": "Admitted", "status": "False", "reason": "HostAlreadyClaimed",
            "message": f"route {other['name']} already exposes {host} and is older"}


class Router:
    def __init__(self, api: client.ApiClient, domain: str) -> None:
        self.routes_api, self.domain = client.CustomObjectsApi(api), domain
        self.queue = DelayQueue()
        self.hosts: dict[str, str] = {}  # the host each Route exposed when last seen
        self.routes = Informer(self.on_route, self.routes_api.list_cluster_custom_object, GROUP, VERSION, ROUTES)

    def on_route(self, kind: str, route: dict[str, Any]) -> None:
        """A Route's change may decide the other claimants of the host it had and of the one it has."""
        key = key_of(route)
        hosts = {self.hosts.pop(key, ""), exposed_host(route, self.domain)}
        if kind != "DELETED":
            self.hosts[key] = exposed_host(route, self.domain)
            self.queue.add(key)
        for other in self.routes.objects():
            if exposed_host(other, self.domain) in hosts:
                self.queue.add(key_of(other))

    def run(self, ready_file: Path | None) -> None:
        self.routes.start()
        self.routes.synced.wait()
        if ready_file:
            ready_file.touch()
        while True:
            key = self.queue.get()
            try:
                self.reconcile(key)
            except TRANSIENT as error:
                LOG.warning("%s: %s; again in 1s", key, error)
                self.queue.add(key, 1.0)

    def ingress(self, route: dict[str, Any]) -> dict[str, Any] | None:
        host = exposed_host(route, self.domain)
        if not host:
            return None
        condition = admitted_condition(claimant(route, self.routes.objects(), self.domain), host)
        current = [entry for entry in (route.get("status") or {}).get("ingress") or []
                   if entry.get("routerName") == ROUTER_NAME]
        previous = next((c for c in (current[0].get("conditions") or []) if c.get("type") == "Admitted"), None) \
            if current else None
        same = previous is not None and all(previous.get(k) == v for k, v in condition.items())
        condition["lastTransitionTime"] = previous.get("lastTransitionTime") if same and previous else now_rfc3339()
        return {"host": host, "routerName": ROUTER_NAME, "routerCanonicalHostname": f"router-default.{self.domain}",
                "wildcardPolicy": (route.get("spec") or {}).get("wildcardPolicy") or "None",
                "conditions": [condition]}

    def reconcile(self, key: str) -> None:
        with self.routes.lock:
            route = self.routes.cache.get(key)
        if route is None or route["metadata"].get("deletionTimestamp"):
            return
        entry = self.ingress(route)
        if entry is None:
            return
        others = [e for e in (route.get("status") or {}).get("ingress") or [] if e.get("routerName") != ROUTER_NAME]
        ingress = [*others, entry]
        if (route.get("status") or {}).get("ingress") == ingress:
            return
        meta = route["metadata"]
        updated = {**route, "status": {**(route.get("status") or {}), "ingress": ingress}}
        try:
            self.routes_api.replace_namespaced_custom_object_status(GROUP, VERSION, meta["namespace"], ROUTES,
                                                                    meta["name"], updated, _preload_content=False)
        except ApiException as error:
            if error.status in (404, 409):
                return
            raise
        LOG.info("%s: %s Admitted=%s", key, entry["host"], entry["conditions"][0]["status"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True, help="the router's ServiceAccount")
    parser.add_argument("--webhook-port", type=int, required=True)
    parser.add_argument("--cert", type=Path, required=True, help="serving certificate of the webhook")
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--domain", default=DOMAIN)
    parser.add_argument("--ready-file", type=Path, help="touched once the webhook serves and routes are listed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    api = api_client(args.kubeconfig, COMPONENT)
    webhook = WebhookServer(args.webhook_port, args.cert, args.key, api, args.domain)
    threading.Thread(target=webhook.serve_forever, name="webhook", daemon=True).start()
    Router(api, args.domain).run(args.ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
