"""`access.routes` against the fake API server: a missing Route API told from a missing Route, the wait for a
router's answer, and no TLS material in the request log even at `-v 9`."""

from __future__ import annotations

import io
from typing import Any

import pytest

from oc_virt_expose.access.client import Client, redact
from oc_virt_expose.access.routes import NO_ROUTE_API, Routes
from oc_virt_expose.access.watch import Deadline
from oc_virt_expose.errors import RefusedError
from tests.unit.access.fake_apiserver import PKI, FakeAPI, connect

ROUTES = "/apis/route.openshift.io/v1/namespaces/ns/routes"
KEY = "-----BEGIN PRIVATE KEY-----\nTUFURVJJQUwtS0VZ\n-----END PRIVATE KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nTUFURVJJQUwtQ0VSVA==\n-----END CERTIFICATE-----\n"


def route(admitted: str | None = None, host: str = "web-ns.apps.example") -> dict[str, Any]:
    built: dict[str, Any] = {
        "apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "web", "resourceVersion": "5"},
        "spec": {"host": host, "to": {"kind": "Service", "name": "web"},
                 "tls": {"termination": "edge", "certificate": CERT, "key": KEY, "caCertificate": CERT}}}
    if admitted is not None:
        built["status"] = {"ingress": [{"host": host, "routerName": "default",
                                        "conditions": [{"type": "Admitted", "status": admitted}]}]}
    return built


def test_missing_route_api_is_refused_a_missing_route_is_none(api: FakeAPI, pki: PKI) -> None:
    with Client(connect(api, pki)) as client:
        with pytest.raises(RefusedError) as refused:  # the fake answers 404 naming nothing: no such API
            Routes(client, "ns").read("web")
        assert str(refused.value) == NO_ROUTE_API
        assert str(refused.value).startswith("the server has no route.openshift.io/v1 API: Routes are OpenShift's;")
        api.route("GET", f"{ROUTES}/web", (404, {"kind": "Status", "code": 404, "reason": "NotFound",
                                                 "message": 'routes.route.openshift.io "web" not found',
                                                 "details": {"name": "web", "group": "route.openshift.io"}}))
        assert Routes(client, "ns").read("web") is None


def test_no_tls_material_in_the_request_log_even_at_v9(api: FakeAPI, pki: PKI) -> None:
    api.route("POST", ROUTES, (201, route()))
    api.route("GET", ROUTES, (200, [{"type": "ADDED", "object": route(admitted="True")}]))
    log = io.StringIO()
    with Client(connect(api, pki), verbosity=9, log=log) as client:
        routes = Routes(client, "ns")
        routes.create(route())
        assert routes.wait_for_admission("web", Deadline(5)) == route(admitted="True")
    text = log.getvalue()
    assert "Request Body" in text and "Response Body" in text and '"termination":"edge"' in text
    assert "TUFURVJJQUw" not in text and "BEGIN" not in text
    assert text.count('"key":"<redacted>"') == 3  # the request, the answer, the watch event


def test_wait_ignores_an_answer_about_another_host(api: FakeAPI, pki: PKI) -> None:
    stale = route(admitted="True", host="old.example")
    stale["spec"]["host"] = "new.example"
    api.route("GET", ROUTES, (200, [{"type": "ADDED", "object": stale}]))
    with Client(connect(api, pki)) as client:
        assert Routes(client, "ns").wait_for_admission("web", Deadline(1)) == stale  # the last seen, not admitted
    assert "fieldSelector=metadata.name%3Dweb" in api.seen[-1].path


def test_redact_knows_a_route_tls_by_its_termination() -> None:
    document = {"items": [route(), {"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}}}]}
    shown = redact(document)
    assert shown["items"][0]["spec"]["tls"] == {"termination": "edge", "certificate": "<redacted>",
                                                "key": "<redacted>", "caCertificate": "<redacted>"}
    assert shown["items"][1] == document["items"][1]  # a selector's `key` is no secret
