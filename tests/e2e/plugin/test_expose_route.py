"""`expose --route` against the sandbox's Route API (openshift/api's CRD, host assignment, the `default`
router): each TLS termination admitted, a host already claimed, re-runs, TLS material never shown, and a
cluster without the Route API refused before any write."""

from __future__ import annotations

import datetime
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.plugin_runs import run_plugin
from tests.e2e.workloads import create_vm, fresh_namespace, service_or_none
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.pki import CertificateAuthority
from tests.sandbox.router import age
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

DOMAIN = "apps.sandbox.example"
ROUTE = "route.route.openshift.io"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class TLSFiles:
    ca: Path
    cert: Path
    key: Path

    def text(self, which: str) -> str:
        return Path(getattr(self, which)).read_text()

    def secret_lines(self) -> list[str]:
        """The base64 lines of the key and the certificate: none may show anywhere."""
        return [line for which in ("key", "cert", "ca") for line in self.text(which).splitlines()
                if line and not line.startswith("-----")]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("route-tls"), "route-ca")
    cert, key = ca.issue("wildcard", f"*.{DOMAIN}", dns_names=[f"*.{DOMAIN}"])
    return TLSFiles(ca.cert_file, cert, key)


def tls_flags(termination: str | None, tls: TLSFiles) -> tuple[str, ...]:
    """`--port` and the Route flags of each termination, as a user would give them."""
    if termination is None:
        return ("--port", "80")
    if termination == "edge":
        return ("--port", "80", "--tls", "edge", "--insecure-policy", "Redirect", "--cert", str(tls.cert),
                "--key", str(tls.key), "--ca-cert", str(tls.ca))
    if termination == "passthrough":
        return ("--port", "443", "--tls", "passthrough", "--insecure-policy", "None")
    return ("--port", "8443", "--tls", "reencrypt", "--cert", str(tls.cert), "--key", str(tls.key),
            "--dest-ca-cert", str(tls.ca))


def expected_tls(termination: str | None, tls: TLSFiles) -> dict[str, str] | None:
    if termination is None:
        return None
    if termination == "edge":
        return {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect", "certificate": tls.text("cert"),
                "key": tls.text("key"), "caCertificate": tls.text("ca")}
    if termination == "passthrough":
        return {"termination": "passthrough", "insecureEdgeTerminationPolicy": "None"}
    return {"termination": "reencrypt", "certificate": tls.text("cert"), "key": tls.text("key"),
            "destinationCACertificate": tls.text("ca")}


@pytest.mark.parametrize("termination", [None, "edge", "passthrough", "reencrypt"])
def test_each_tls_termination_is_admitted_and_its_url_printed(sandbox: RunningSandbox, namespace: str, virt_expose,
                                                              tls: TLSFiles, termination: str | None) -> None:
    create_vm(sandbox, namespace, vm_manifest("shop", running=False))
    result = virt_expose("vm", "shop", "-n", namespace, "--route", *tls_flags(termination, tls))
    assert result.code == 0, result
    host = f"shop-{namespace}.{DOMAIN}"  # assigned by the API server's host assignment, as OpenShift does
    url = f"{'http' if termination is None else 'https'}://{host}"
    lines = result.stdout.splitlines()
    assert lines[:2] == ["service/shop created", "virtualmachine.kubevirt.io/shop labeled"], result
    assert f"{ROUTE}/shop created" in lines
    assert lines.index(f"{ROUTE}/shop verified: admitted by router default") > lines.index(f"{ROUTE}/shop created")
    assert lines[-1] == f"Route: {url}"

    route = sandbox.get("route", "shop", namespace=namespace)
    vm = sandbox.get("vm", "shop", namespace=namespace)
    assert route["spec"]["to"] == {"kind": "Service", "name": "shop", "weight": 100}
    assert route["spec"]["port"] == {"targetPort": int(tls_flags(termination, tls)[1])}  # the unnamed port's target
    assert route["spec"].get("tls") == expected_tls(termination, tls)
    assert route["metadata"]["labels"]["virt-expose.kubevirt.io/vm"] == "shop"  # as its Service: list finds it
    assert route["metadata"]["annotations"]["virt-expose.kubevirt.io/exposes"] == "virtualmachine.kubevirt.io/shop"
    [owner] = route["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("VirtualMachine", "shop", vm["metadata"]["uid"])
    [ingress] = route["status"]["ingress"]
    assert ingress["host"] == host and ingress["conditions"][0]["status"] == "True"

    verbs = result.verbs()
    assert verbs.index("GET routes") < verbs.index("POST services")  # read before the first write
    assert verbs[verbs.index("POST services"):] == ["POST services", "PATCH virtualmachines", "POST routes",
                                                    "WATCH routes"]


def test_running_vm_route_to_its_named_port_after_its_endpoints(sandbox: RunningSandbox, namespace: str,
                                                                virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("web", ports=[{"name": "http", "port": 80}]))
    result = virt_expose("vm", "web", "-n", namespace, "--route", "--path", "/app")
    assert result.code == 0, result
    assert sandbox.get("route", "web", namespace=namespace)["spec"]["port"] == {"targetPort": "http"}
    assert f"Route: http://web-{namespace}.{DOMAIN}/app" in result.stdout
    assert result.verbs()[-3:] == ["POST routes", "WATCH endpointslices", "WATCH routes"]

    again = virt_expose("vm", "web", "-n", namespace, "--route", "--path", "/app")
    assert again.code == 0, again
    assert again.stdout.splitlines()[:2] == ["service/web unchanged", f"{ROUTE}/web unchanged"]
    assert not [verb for verb in again.verbs() if verb.split()[0] in WRITES]

    different = virt_expose("vm", "web", "-n", namespace, "--route", "--path", "/v2")
    assert different.code == 1, different
    assert different.stderr == ('error: route "web" already exists and differs: spec.path is /app, not /v2; pass '
                                "--overwrite to update it in place, or --name to expose under another name\n")
    assert not [verb for verb in different.verbs() if verb.split()[0] in WRITES]

    overwritten = virt_expose("vm", "web", "-n", namespace, "--route", "--path", "/v2", "--overwrite")
    assert overwritten.code == 0, overwritten
    assert f"{ROUTE}/web configured" in overwritten.stdout
    assert sandbox.get("route", "web", namespace=namespace)["spec"]["path"] == "/v2"


def after_the_second_of(timestamp: str) -> None:
    """Returns once the clock is past the whole second of `timestamp`: the router orders Routes by creation time
    in whole seconds, then by uid, so a Route made within the same second may count as the older one."""
    then = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    time.sleep(max(0.0, (then + datetime.timedelta(seconds=1) - datetime.datetime.now(datetime.timezone.utc))
                   .total_seconds()))


def test_host_already_claimed_gives_the_routers_reason(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    host = f"claimed-{namespace}.{DOMAIN}"
    with fresh_namespace(sandbox, "claimant") as other:
        claimant = {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "first"},
                    "spec": {"host": host, "to": {"kind": "Service", "name": "elsewhere"}}}
        sandbox.kubectl("create", "-f", "-", namespace=other, input=json.dumps(claimant))
        sandbox.kubectl("wait", "route/first", "--for=jsonpath={.status.ingress[0].conditions[0].status}=True",
                        "--timeout=30s", namespace=other)
        create_vm(sandbox, namespace, vm_manifest("late"))
        after_the_second_of(sandbox.get("route", "first", namespace=other)["metadata"]["creationTimestamp"])

        result = virt_expose("vm", "late", "-n", namespace, "--port", "80", "--route", "--hostname", host)
        assert age(sandbox.get("route", "first", namespace=other)) < age(sandbox.get("route", "late",
                                                                                     namespace=namespace))
        assert result.code == 3, result
        reason = f"HostAlreadyClaimed: route first already exposes {host} and is older"
        assert f"Route: http://{host} (not admitted by router default: {reason})" in result.stdout
        assert result.stderr == (f"error: {ROUTE}/late is not admitted by router default: {reason}; the Service "
                                 "serves without it: choose another --hostname (with --overwrite), or remove the "
                                 f"older Route that claims http://{host}\n")
        assert "service/late verified: 1 ready endpoint" in result.stdout  # the Service itself serves


def test_tls_material_is_never_printed_nor_logged_even_at_v9(sandbox: RunningSandbox, namespace: str,
                                                            tls: TLSFiles) -> None:
    create_vm(sandbox, namespace, vm_manifest("vault", running=False))
    result = run_plugin(sandbox, "vm", "vault", "-n", namespace, "--route", *tls_flags("edge", tls), "-o", "yaml",
                        "-v", "9", verbose=False)
    assert result.code == 0, result
    shown = result.stdout + result.stderr
    leaked = [line for line in tls.secret_lines() if line in shown]
    assert leaked == []
    assert "Request Body:" in result.stderr and '"key":"<redacted>"' in result.stderr  # the body is logged, redacted
    assert "  key: <redacted>\n" in result.stdout and "kind: Route\n" in result.stdout
    assert sandbox.get("route", "vault", namespace=namespace)["spec"]["tls"]["key"] == tls.text("key")  # it was sent


def test_dry_run_client_previews_the_route_redacted(sandbox: RunningSandbox, namespace: str, virt_expose,
                                                    tls: TLSFiles) -> None:
    create_vm(sandbox, namespace, vm_manifest("draft", running=False))
    result = virt_expose("vm", "draft", "-n", namespace, "--route", *tls_flags("reencrypt", tls), "--dry-run=client")
    assert result.code == 0, result
    assert f"{ROUTE}/draft created (dry run)" in result.stdout
    assert "destinationCACertificate: <redacted>" in result.stdout
    assert not [line for line in tls.secret_lines() if line in result.stdout + result.stderr]
    assert not [verb for verb in result.verbs() if verb.split()[0] in WRITES]


def test_route_flag_rules_are_usage_errors_before_any_request(sandbox: RunningSandbox, namespace: str,
                                                              virt_expose) -> None:
    result = virt_expose("vm", "any", "-n", namespace, "--port", "443", "--route", "--tls", "passthrough",
                         "--path", "/x")
    assert result.code == 2, result
    assert result.stderr.startswith("error: --tls passthrough takes no --path")
    assert result.requests == []


@pytest.mark.sandbox(route_api=False)
def test_without_the_route_api_route_fails_before_any_write(sandbox: RunningSandbox, namespace: str) -> None:
    create_vm(sandbox, namespace, vm_manifest("plain", running=False))
    result = run_plugin(sandbox, "vm", "plain", "-n", namespace, "--port", "80", "--route")
    assert result.code == 1, result
    assert result.stderr.startswith("error: the server has no route.openshift.io/v1 API: Routes are OpenShift's;")
    assert result.verbs() == ["GET virtualmachines", "GET services", "LIST networkpolicies", "GET routes"]
    assert service_or_none(sandbox, namespace, "plain") is None
    assert "labels" not in sandbox.get("vm", "plain", namespace=namespace)["spec"]["template"]["metadata"]
