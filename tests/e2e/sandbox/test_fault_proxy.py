"""The fault proxy in front of the sandbox's API server (tests/sandbox/fault_proxy.py), observed with the real
kubectl (context `faults`) and a raw HTTPS client: each fault kind, and the caller's identity kept."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import time
import urllib.parse

import pytest

from tests.e2e.sandbox_infrastructure import FAULTS_CONTEXT, FaultProxy
from tests.sandbox.running import VENV_BIN, RunningSandbox

pytestmark = pytest.mark.sandbox


def raw_get(proxy: FaultProxy, path: str, token: str | None = None,
            timeout: float = 30) -> tuple[http.client.HTTPSConnection, http.client.HTTPResponse]:
    """A GET through the proxy with nothing but the standard library (no credentials unless `token`)."""
    url = urllib.parse.urlsplit(proxy.url)
    context = ssl.create_default_context(cafile=str(proxy.ca_file))
    connection = http.client.HTTPSConnection(url.hostname or "", url.port, context=context, timeout=timeout)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
    return connection, connection.getresponse()


def configmaps(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps"


def seen(proxy: FaultProxy, since: int, path: str) -> list[tuple[str, int | None, str | None]]:
    """(method, status, fault action) of the requests on `path` the proxy saw since `since`."""
    return [(r["method"], r["status"], r["action"]) for r in proxy.requests(since) if r["path"] == path]


def test_requests_pass_through_with_the_callers_identity(sandbox: RunningSandbox, namespace: str,
                                                         fault_proxy: FaultProxy) -> None:
    since = fault_proxy.last_seq()
    listed = fault_proxy.kubectl("get", "configmaps", "-o", "name", namespace=namespace)
    assert "configmap/kube-root-ca.crt" in listed.stdout
    assert ("GET", 200, None) in seen(fault_proxy, since, configmaps(namespace))

    connection, anonymous = raw_get(fault_proxy, configmaps(namespace))
    assert anonymous.status == 403  # no credentials added on the way: the API server's anonymous user
    assert "system:anonymous" in anonymous.read().decode()
    connection.close()
    connection, unknown = raw_get(fault_proxy, configmaps(namespace), token="not-a-token")
    assert unknown.status == 401
    connection.close()
    sandbox.kubectl("create", "serviceaccount", "nobody", namespace=namespace)
    token = sandbox.kubectl("create", "token", "nobody", namespace=namespace).stdout.strip()
    connection, forbidden = raw_get(fault_proxy, configmaps(namespace), token)
    assert forbidden.status == 403
    assert f"system:serviceaccount:{namespace}:nobody" in forbidden.read().decode()
    connection.close()


@pytest.mark.parametrize("status, reason", [(500, "InternalError"), (503, "ServiceUnavailable")])
def test_next_matching_request_answered_with_an_error(namespace: str, fault_proxy: FaultProxy, status: int,
                                                      reason: str) -> None:
    rule = fault_proxy.add_rule("status", method="GET", path=f"{configmaps(namespace)}$", status=status)
    failed = fault_proxy.kubectl("get", "configmaps", namespace=namespace, check=False)
    assert failed.returncode == 1 and f"Error from server ({reason})" in failed.stderr
    fault_proxy.kubectl("get", "configmaps", namespace=namespace)  # only the next one
    assert fault_proxy.rule(rule["id"])["remaining"] == 0 and fault_proxy.rule(rule["id"])["hits"] == 1


def test_too_many_requests_with_retry_after_is_retried_by_client_go(namespace: str, fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule("status", method="GET", path=f"{configmaps(namespace)}$", status=429, retryAfter=1, count=2)
    since = fault_proxy.last_seq()
    started = time.monotonic()
    fault_proxy.kubectl("get", "configmaps", namespace=namespace)
    assert time.monotonic() - started >= 2.0  # kubectl waited Retry-After twice
    assert seen(fault_proxy, since, configmaps(namespace)) == [("GET", 429, "status"), ("GET", 429, "status"),
                                                                ("GET", 200, None)]


def test_dropped_connection_fails_a_create_that_never_arrived(sandbox: RunningSandbox, namespace: str,
                                                              fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule("drop", method="POST", path=f"{configmaps(namespace)}$")
    failed = fault_proxy.kubectl("create", "configmap", "lost", "--from-literal=a=b", namespace=namespace,
                                 check=False)
    assert failed.returncode == 1 and "connection reset by peer" in failed.stderr
    missing = sandbox.kubectl("get", "configmap", "lost", namespace=namespace, check=False)
    assert "NotFound" in missing.stderr


def test_delay_slows_requests_down_and_trips_client_timeouts(namespace: str, fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule("delay", method="GET", path=f"{configmaps(namespace)}$", seconds=1.0)
    started = time.monotonic()
    fault_proxy.kubectl("get", "configmaps", namespace=namespace)
    assert time.monotonic() - started >= 1.0
    fault_proxy.add_rule("delay", method="GET", path=f"{configmaps(namespace)}$", seconds=3.0)
    timed_out = fault_proxy.kubectl("get", "configmaps", "--request-timeout=500ms", namespace=namespace, check=False)
    # Go words the same deadline two ways, depending on whether it struck while connecting or reading.
    assert timed_out.returncode == 1
    assert "Client.Timeout exceeded" in timed_out.stderr or "context deadline exceeded" in timed_out.stderr


def test_watch_cut_by_a_rule_ends_kubectl_get_watch(namespace: str, fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule("cut", path=f"{configmaps(namespace)}$", seconds=1.0)
    since = fault_proxy.last_seq()
    started = time.monotonic()
    watched = fault_proxy.kubectl("get", "configmaps", "--watch", "--request-timeout=20s", namespace=namespace)
    assert 1.0 <= time.monotonic() - started < 15  # it ended with the stream, quietly, long before its timeout
    assert "kube-root-ca.crt" in watched.stdout
    assert seen(fault_proxy, since, configmaps(namespace)) == [("GET", 200, None), ("GET", 200, "cut")]  # list, watch


@pytest.mark.parametrize("graceful", [False, True])
def test_watch_cut_on_command(sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy,
                              graceful: bool) -> None:
    connection, stream = raw_get(fault_proxy, f"{configmaps(namespace)}?watch=1", token=admin_token(sandbox))
    assert stream.status == 200
    assert b'"type":"ADDED"' in stream.readline()  # kube-root-ca.crt: the watch is open
    assert fault_proxy.cut_watches(f"{configmaps(namespace)}$", graceful=graceful) == 1
    if graceful:
        assert stream.read() == b""  # ended as the API server ends a watch: the last chunk came
    else:
        with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
            stream.read()
    connection.close()
    # This test's watch no longer relayed (tests beside it share the proxy, and may be watching elsewhere).
    assert [watch for watch in fault_proxy.watches() if watch["path"] == configmaps(namespace)] == []


def admin_token(sandbox: RunningSandbox) -> str:
    view = subprocess.run([str(VENV_BIN / "kubectl"), "--kubeconfig", str(sandbox.kubeconfig), "config", "view",
                           "--raw", "--context", FAULTS_CONTEXT, "--minify", "-o", "jsonpath={.users[0].user.token}"],
                          capture_output=True, text=True, check=True)
    return view.stdout.strip()
