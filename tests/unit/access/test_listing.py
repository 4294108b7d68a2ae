"""`access.listing` against a local HTTPS server: one LIST per kind (chunked as kubectl chunks), in one
namespace or all, and an API the server does not serve."""

from __future__ import annotations

import pytest

from oc_virt_expose.access.client import Client
from oc_virt_expose.access.listing import CHUNK, list_if_served, list_objects
from oc_virt_expose.errors import ForbiddenError
from tests.unit.access.fake_apiserver import PKI, FakeAPI, Seen, connect

ROUTES = "/apis/route.openshift.io/v1/namespaces/ns/routes"


def test_items_get_their_kind_and_one_request_is_made(api: FakeAPI, pki: PKI) -> None:
    api.route("GET", "/api/v1/namespaces/ns/services", (200, {
        "kind": "ServiceList", "apiVersion": "v1", "metadata": {}, "items": [{"metadata": {"name": "a"}}]}))
    with Client(connect(api, pki)) as client:
        items = list_objects(client, "v1", "services", "ns")
    assert items == [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}]
    assert [seen.path for seen in api.seen] == [f"/api/v1/namespaces/ns/services?limit={CHUNK}"]


def test_all_namespaces_with_a_selector_read_in_chunks(api: FakeAPI, pki: PKI) -> None:
    def page(seen: Seen) -> tuple[int, dict]:
        last = "continue=next" in seen.path
        return 200, {"kind": "PodList", "metadata": {} if last else {"continue": "next"},
                     "items": [{"metadata": {"name": "second" if last else "first"}}]}

    api.route("GET", "/api/v1/pods", page)
    with Client(connect(api, pki)) as client:
        items = list_objects(client, "v1", "pods", None, "kubevirt.io=virt-launcher")
    assert [item["metadata"]["name"] for item in items] == ["first", "second"]
    assert [seen.path for seen in api.seen] == [
        f"/api/v1/pods?labelSelector=kubevirt.io%3Dvirt-launcher&limit={CHUNK}",
        f"/api/v1/pods?continue=next&labelSelector=kubevirt.io%3Dvirt-launcher&limit={CHUNK}"]


def test_an_api_the_server_does_not_serve_is_none(api: FakeAPI, pki: PKI) -> None:
    with Client(connect(api, pki)) as client:  # the fake answers 404 "the server could not find ..."
        assert list_if_served(client, "route.openshift.io/v1", "routes", "ns") is None


def test_forbidden_is_raised(api: FakeAPI, pki: PKI) -> None:
    api.route("GET", ROUTES, (403, {"kind": "Status", "reason": "Forbidden", "code": 403,
                                    "message": 'routes.route.openshift.io is forbidden: User "u" cannot list'}))
    with Client(connect(api, pki)) as client, pytest.raises(ForbiddenError, match="cannot list"):
        list_if_served(client, "route.openshift.io/v1", "routes", "ns")
