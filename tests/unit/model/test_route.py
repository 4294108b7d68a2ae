"""`model.route`: the Route `--route` builds (as `oc expose svc` / `oc create route` build it), its flag rules,
the PEM checks, how it compares with an existing Route, redaction, and a router's answer."""

from __future__ import annotations

import re
from typing import Any

import pytest

from oc_virt_expose.errors import RefusedError, UsageError
from oc_virt_expose.model.records import REDACTED
from oc_virt_expose.model.route import (
    RouteAction,
    RouteRequest,
    admission,
    build_route,
    pem_problem,
    redacted,
    route_change,
    route_target_port,
    route_url,
    validate_route_request,
)
from oc_virt_expose.model.service import EXPOSES_ANNOTATION
from tests.sandbox.pki import CertificateAuthority
from tests.unit.builders import VM_UID, vm

TARGET = vm("web")
OWNER = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "web", "uid": VM_UID}


def service(*ports: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns",
                         "labels": {"app": "shop", "virt-expose.kubevirt.io/vm": "web"},
                         "annotations": {EXPOSES_ANNOTATION: "virtualmachine.kubevirt.io/web", "other": "x"},
                         "ownerReferences": [OWNER, {"kind": "Other", "name": "o", "uid": "other-uid"}]},
            "spec": {"ports": list(ports) or [{"protocol": "TCP", "port": 80, "targetPort": 8080}]}}


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("ca"), "route-ca")
    cert, key = ca.issue("shop", "shop.apps.example", dns_names=["shop.apps.example"])
    return {"ca": ca.cert_pem.decode(), "cert": cert.read_text(), "key": key.read_text()}


def test_plain_route_as_oc_expose_svc_makes_it() -> None:
    route = build_route(RouteRequest(), service(), TARGET)
    assert route == {
        "apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": "web", "namespace": "ns",
                     "labels": {"app": "shop", "virt-expose.kubevirt.io/vm": "web"},
                     "annotations": {EXPOSES_ANNOTATION: "virtualmachine.kubevirt.io/web"},
                     "ownerReferences": [OWNER]},
        "spec": {"to": {"kind": "Service", "name": "web"}, "port": {"targetPort": 8080}}}


def test_target_port_is_the_port_name_else_its_target_port() -> None:
    ports = [{"name": "ssh", "protocol": "TCP", "port": 22, "targetPort": 22},
             {"protocol": "TCP", "port": 80, "targetPort": 8080},
             {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 53}]
    assert route_target_port(RouteRequest(port="80"), ports, "web") == 8080
    assert route_target_port(RouteRequest(port="ssh"), ports, "web") == "ssh"
    assert route_target_port(RouteRequest(port="22"), ports, "web") == "ssh"
    assert route_target_port(RouteRequest(), ports[1:], "web") == 8080  # the only TCP port
    with pytest.raises(RefusedError, match=r"several TCP ports \(ssh 22/TCP, 80/TCP, dns 53/UDP\): give --route-port"):
        route_target_port(RouteRequest(), ports, "web")
    with pytest.raises(RefusedError, match="--route-port \"443\" is no port of service/web"):
        route_target_port(RouteRequest(port="443"), ports, "web")
    with pytest.raises(RefusedError, match="--route-port dns is dns 53/UDP: a Route carries HTTP and TLS, over TCP"):
        route_target_port(RouteRequest(port="dns"), ports, "web")
    with pytest.raises(RefusedError, match="has no TCP port"):
        route_target_port(RouteRequest(), ports[2:], "web")


def test_tls_route_with_host_path_policy_and_files(pem: dict[str, str]) -> None:
    request = RouteRequest(hostname="shop.apps.example", path="/app", tls="reencrypt", insecure_policy="Redirect",
                           certificate=pem["cert"], key=pem["key"], ca_certificate=pem["ca"],
                           destination_ca_certificate=pem["ca"])
    validate_route_request(request)
    spec = build_route(request, service(), TARGET)["spec"]
    assert spec["host"] == "shop.apps.example" and spec["path"] == "/app"
    assert spec["tls"] == {"termination": "reencrypt", "insecureEdgeTerminationPolicy": "Redirect",
                           "certificate": pem["cert"], "key": pem["key"], "caCertificate": pem["ca"],
                           "destinationCACertificate": pem["ca"]}
    assert url_of(spec) == "https://shop.apps.example/app"
    assert pem["key"] not in repr(request) and "key=<redacted>" in repr(request)


def url_of(spec: dict[str, Any]) -> str | None:
    return route_url({"spec": spec})


@pytest.mark.parametrize(("request_", "message"), [
    (RouteRequest(insecure_policy="Allow"), "--insecure-policy needs --tls"),
    (RouteRequest(tls="passthrough", path="/a"), "--tls passthrough takes no --path"),
    (RouteRequest(tls="passthrough", insecure_policy="Allow"), "--tls passthrough cannot --insecure-policy Allow"),
    (RouteRequest(tls="passthrough", certificate="c", key="k"), "--cert, --key need --tls edge or --tls reencrypt"),
    (RouteRequest(key="k"), "--key needs --tls edge or --tls reencrypt"),
    (RouteRequest(tls="edge", destination_ca_certificate="d"), "--dest-ca-cert needs --tls reencrypt"),
    (RouteRequest(tls="edge", certificate="c"), "--cert and --key go together"),
    (RouteRequest(tls="edge", key="k"), "--cert and --key go together"),
    (RouteRequest(hostname="Shop.example"), 'invalid --hostname "Shop.example"'),
    (RouteRequest(hostname="a" * 254), "at most 253"),
    (RouteRequest(path="app"), 'a path starts with "/"'),
])
def test_flag_rules_as_oc_create_route(request_: RouteRequest, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        validate_route_request(request_)


def test_flag_combinations_oc_accepts() -> None:
    for request in (RouteRequest(tls="passthrough", insecure_policy="Redirect"), RouteRequest(tls="edge"),
                    RouteRequest(tls="edge", ca_certificate="c"), RouteRequest(hostname="a.b-c.example", path="/")):
        validate_route_request(request)


def test_pem_checks_never_quote_the_text(pem: dict[str, str]) -> None:
    assert pem_problem(pem["cert"], "--cert") is None
    assert pem_problem(pem["cert"] + pem["ca"], "--ca-cert") is None  # a chain
    assert pem_problem(pem["key"], "--key") is None
    assert pem_problem(pem["key"], "--cert") == "not a PEM certificate (-----BEGIN CERTIFICATE-----)"
    assert pem_problem(pem["cert"], "--key") == "not a PEM private key"
    assert pem_problem(pem["key"] + pem["key"], "--key") == "more than one private key"
    assert pem_problem("hello", "--cert") == "not a PEM certificate (-----BEGIN CERTIFICATE-----)"
    damaged = pem["cert"].replace(pem["cert"].splitlines()[2], "!!!!")
    assert pem_problem(damaged, "--cert") == "a damaged PEM certificate"
    encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
    assert pem_problem(encrypted, "--key") == "an encrypted private key: the router needs it unencrypted"
    legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n" \
             "-----END RSA PRIVATE KEY-----\n"
    assert pem_problem(legacy, "--key") == "an encrypted private key: the router needs it unencrypted"


def test_identical_route_is_unchanged_a_different_one_refused_or_overwritten(pem: dict[str, str]) -> None:
    desired = build_route(RouteRequest(tls="edge", certificate=pem["cert"], key=pem["key"]), service(), TARGET)
    existing = {**desired, "metadata": {**desired["metadata"], "resourceVersion": "7", "uid": "route-uid"},
                "spec": {**desired["spec"], "host": "web-ns.apps.example", "wildcardPolicy": "None",
                         "to": {"kind": "Service", "name": "web", "weight": 100}}}
    assert route_change(existing, desired, overwrite=False) == (RouteAction.UNCHANGED, existing)
    assert route_change(None, desired, overwrite=False) == (RouteAction.CREATE, desired)

    other_key = pem["key"].replace(pem["key"].splitlines()[1], pem["key"].splitlines()[1][::-1])
    plain = build_route(RouteRequest(path="/v2"), service(), TARGET)
    changed = {**existing, "spec": {**existing["spec"], "tls": {**existing["spec"]["tls"], "key": other_key}}}
    with pytest.raises(RefusedError) as refused:
        route_change(changed, desired, overwrite=False)
    assert str(refused.value) == ('route "web" already exists and differs: spec.tls.key differs; pass --overwrite '
                                  "to update it in place, or --name to expose under another name")
    with pytest.raises(RefusedError, match=re.escape("spec.path is empty, not /v2; spec.tls.termination is edge, not "
                                                     "none; spec.tls.certificate differs; spec.tls.key differs")):
        route_change(existing, plain, overwrite=False)

    action, updated = route_change(existing, plain, overwrite=True)
    assert action is RouteAction.UPDATE
    assert updated["spec"] == {"host": "web-ns.apps.example", "wildcardPolicy": "None", "path": "/v2",
                               "to": {"kind": "Service", "name": "web"}, "port": {"targetPort": 8080}}
    assert updated["metadata"]["resourceVersion"] == "7"  # a concurrent change is a conflict


def test_a_host_asked_for_must_match() -> None:
    desired = build_route(RouteRequest(hostname="shop.example"), service(), TARGET)
    existing = {**desired, "spec": {**desired["spec"], "host": "web-ns.apps.example"}}
    with pytest.raises(RefusedError, match=re.escape("spec.host is web-ns.apps.example, not shop.example")):
        route_change(existing, desired, overwrite=False)
    assert route_change(existing, desired, overwrite=True)[1]["spec"]["host"] == "shop.example"


def test_redacted_hides_every_pem_field(pem: dict[str, str]) -> None:
    route = build_route(RouteRequest(tls="reencrypt", certificate=pem["cert"], key=pem["key"],
                                     destination_ca_certificate=pem["ca"]), service(), TARGET)
    shown = redacted(route)
    assert shown["spec"]["tls"] == {"termination": "reencrypt", "certificate": REDACTED, "key": REDACTED,
                                    "destinationCACertificate": REDACTED}
    assert route["spec"]["tls"]["key"] == pem["key"]  # a copy: the Route sent keeps its key
    assert redacted(build_route(RouteRequest(), service(), TARGET))["spec"].get("tls") is None


def ingress(host: str, status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    condition = {"type": "Admitted", "status": status}
    condition.update({k: v for k, v in (("reason", reason), ("message", message)) if v})
    return {"host": host, "routerName": "default", "conditions": [condition]}


def test_admission_of_the_present_host() -> None:
    route: dict[str, Any] = {"spec": {"host": "new.example"}, "status": {"ingress": [ingress("old.example", "True")]}}
    assert admission(route) == (True, "")
    assert admission(route, current=True) == (None, "")  # stale: about the host it had
    route["status"]["ingress"] = [ingress("new.example", "False", "HostAlreadyClaimed", "route a already exposes it")]
    assert admission(route, current=True) == (False, "HostAlreadyClaimed: route a already exposes it")
    assert route_url(route) == "http://new.example"
