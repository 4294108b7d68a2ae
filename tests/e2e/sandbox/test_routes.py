"""OpenShift Routes in the sandbox, as MicroShift serves them: openshift/api's CRD, host assignment at
creation (with the custom-host permission check), and the `default` router admitting Routes."""

from __future__ import annotations

import json

import pytest

from tests.sandbox.router import age
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

DOMAIN = "apps.sandbox.example"


def route(name: str, host: str | None = None) -> dict:
    spec: dict = {"to": {"kind": "Service", "name": "web"}, "port": {"targetPort": 8080}}
    if host:
        spec["host"] = host
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": name}, "spec": spec}


def create(sandbox: RunningSandbox, namespace: str, manifest: dict, *extra: str, check: bool = True) -> dict:
    created = sandbox.kubectl("create", "-f", "-", "-o", "json", *extra, namespace=namespace,
                              input=json.dumps(manifest), check=check)
    return json.loads(created.stdout) if created.returncode == 0 else {"error": created.stderr}


def wait_admitted(sandbox: RunningSandbox, namespace: str, name: str, status: str = "True") -> dict:
    sandbox.kubectl("wait", f"route/{name}", f"--for=jsonpath={{.status.ingress[0].conditions[0].status}}={status}",
                    "--timeout=15s", namespace=namespace)
    return sandbox.get("route", name, namespace=namespace)


def test_route_without_host_gets_one_at_creation_and_is_admitted(sandbox: RunningSandbox, namespace: str) -> None:
    created = create(sandbox, namespace, route("web.v1"))
    host = f"web-v1-{namespace}.{DOMAIN}"  # dots in the name become dashes, as OpenShift does
    assert created["spec"]["host"] == host  # in the create response: assigned on admission
    assert created["metadata"]["annotations"]["openshift.io/host.generated"] == "true"
    assert created["spec"]["wildcardPolicy"] == "None"  # the CRD's default

    admitted = wait_admitted(sandbox, namespace, "web.v1")
    [ingress] = admitted["status"]["ingress"]
    assert ingress["host"] == host and ingress["routerName"] == "default"
    assert ingress["wildcardPolicy"] == "None"
    assert ingress["routerCanonicalHostname"] == f"router-default.{DOMAIN}"
    listing = sandbox.kubectl("get", "routes", namespace=namespace).stdout  # openshift/api's printer columns
    assert listing.split("\n")[0].split() == ["NAME", "HOST", "ADMITTED", "SERVICE", "TLS"]
    assert listing.split("\n")[1].split() == ["web.v1", host, "True", "web"]


def test_schema_is_openshift_apis(sandbox: RunningSandbox, namespace: str) -> None:
    crd = sandbox.get("crd", "routes.route.openshift.io")
    assert crd["metadata"]["annotations"]["api-approved.openshift.io"].startswith("https://github.com/openshift/api")
    refused = create(sandbox, namespace, route("bad", host="not_a_host"), check=False)
    assert "spec.host" in refused["error"] and "should match" in refused["error"]


def test_older_route_keeps_its_host_a_newer_one_elsewhere_is_refused(sandbox: RunningSandbox, namespace: str,
                                                                     other_namespace: str) -> None:
    host = f"shop.{DOMAIN}"
    create(sandbox, namespace, route("shop", host=host))
    assert wait_admitted(sandbox, namespace, "shop")["spec"]["host"] == host
    create(sandbox, other_namespace, route("copycat", host=host))
    # Both may be created within one second (creationTimestamp's resolution): the router then orders by uid.
    first, second = sorted([(namespace, "shop"), (other_namespace, "copycat")],
                           key=lambda at: age(sandbox.get("route", at[1], namespace=at[0])))
    refused = wait_admitted(sandbox, second[0], second[1], status="False")
    condition = refused["status"]["ingress"][0]["conditions"][0]
    assert condition["reason"] == "HostAlreadyClaimed"
    assert condition["message"] == f"route {first[1]} already exposes {host} and is older"

    sandbox.kubectl("delete", "route", first[1], namespace=first[0])
    wait_admitted(sandbox, second[0], second[1])


def test_setting_a_host_needs_the_custom_host_permission(sandbox: RunningSandbox, namespace: str) -> None:
    """A user who may create Routes but not routes/custom-host gets a generated host only."""
    sandbox.kubectl("create", "serviceaccount", "dev", namespace=namespace)
    sandbox.kubectl("create", "role", "routes-only", "--verb=create,get", "--resource=routes.route.openshift.io",
                    namespace=namespace)
    sandbox.kubectl("create", "rolebinding", "dev", "--role=routes-only", f"--serviceaccount={namespace}:dev",
                    namespace=namespace)
    token = sandbox.kubectl("create", "token", "dev", namespace=namespace).stdout.strip()
    as_dev = ("--token", token)

    refused = create(sandbox, namespace, route("mine", host=f"mine.{DOMAIN}"), *as_dev, check=False)
    assert "you do not have permission to set the host field of the route" in refused["error"]
    generated = create(sandbox, namespace, route("mine"), *as_dev)
    assert generated["spec"]["host"] == f"mine-{namespace}.{DOMAIN}"
