"""`access.removal` against a local HTTPS server: a DELETE carries its options (uid precondition, cascade,
dry run) in a DeleteOptions body, since the API server ignores the query's options when a body is sent;
an object already gone is no error; a cluster without the Route API has no Routes."""

from __future__ import annotations

import json

from oc_virt_expose.access.client import Client
from oc_virt_expose.access.removal import Removal
from tests.unit.access.fake_apiserver import PKI, FakeAPI, connect

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "uid": "svc-uid"}}
SERVICE_PATH = "/api/v1/namespaces/ns/services/web"
ROUTE = {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "web", "uid": "route-uid"}}


def test_delete_sends_its_options_in_the_body(api: FakeAPI, pki: PKI) -> None:
    api.route("DELETE", SERVICE_PATH, (200, {"kind": "Status", "status": "Success"}))
    api.route("DELETE", "/apis/route.openshift.io/v1/namespaces/ns/routes/web", (200, ROUTE))
    with Client(connect(api, pki)) as client:
        assert Removal(client, "ns", dry_run=True).delete(SERVICE) is True
        assert Removal(client, "ns").delete(ROUTE) is True
    bodies = [json.loads(seen.body) for seen in api.seen]
    assert bodies == [
        {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": "svc-uid"},
         "propagationPolicy": "Background", "dryRun": ["All"]},
        {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": "route-uid"},
         "propagationPolicy": "Background"}]
    assert [seen.path.split("?")[0] for seen in api.seen] == [
        SERVICE_PATH, "/apis/route.openshift.io/v1/namespaces/ns/routes/web"]


def test_an_object_already_gone_is_reported_not_raised(api: FakeAPI, pki: PKI) -> None:
    api.route("DELETE", SERVICE_PATH, (404, {
        "kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
        "message": 'services "web" not found', "details": {"name": "web", "kind": "services"}}))
    with Client(connect(api, pki)) as client:
        assert Removal(client, "ns").delete(SERVICE) is False


def test_no_route_api_lists_none(api: FakeAPI, pki: PKI) -> None:
    with Client(connect(api, pki)) as client:  # the fake answers 404 "the server could not find ..."
        assert Removal(client, "ns").list_routes() is None
