"""The API client against a local HTTPS server (see fake_apiserver.py): requests, keep-alive, TLS,
errors, watch, the verbose log, plain HTTP and proxies."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from oc_virt_expose.access.apierrors import is_missing_api
from oc_virt_expose.access.client import Client, redact, resource_path, user_agent
from oc_virt_expose.access.kubeconfig import Connection
from oc_virt_expose.access.transport import _no_proxy, proxy_for
from oc_virt_expose.errors import ClusterError, ConflictError, ConnectionFailure, ForbiddenError, NotFoundError
from tests.unit.access.fake_apiserver import PKI, VM, FakeAPI, Reply, Seen, connect, issue, serve
from tests.unit.conftest import FreshRun

# -- requests -----------------------------------------------------------------------------------------

def test_resource_paths() -> None:
    assert resource_path("v1", "services", namespace="ns", name="s") == "/api/v1/namespaces/ns/services/s"
    assert resource_path("kubevirt.io/v1", "virtualmachines", namespace="ns", name="vm") == VM
    assert resource_path("subresources.kubevirt.io/v1", "virtualmachines", namespace="ns", name="vm",
                         subresource="restart") == \
        "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachines/vm/restart"
    assert resource_path("v1", "namespaces", name="a/b") == "/api/v1/namespaces/a%2Fb"


def test_get_sends_token_user_agent_and_reuses_one_connection(api: FakeAPI, pki: PKI) -> None:
    api.route("GET", VM, (200, {"kind": "VirtualMachine", "metadata": {"name": "vm"}}))
    with Client(connect(api, pki)) as client:
        for _ in range(3):
            assert client.get(VM)["metadata"]["name"] == "vm"
        assert client.requests == 3
    assert api.connections == 1
    headers = api.seen[0].headers
    assert headers["Authorization"] == ["Bearer sekret-token"]
    assert headers["Accept"] == ["application/json"]
    assert re.fullmatch(r"virt-expose/\S+ \(\w+/\w+\) kubectl-plugin", headers["User-Agent"][0])
    assert headers["User-Agent"] == [user_agent()]


def test_writes_carry_content_type_dry_run_and_field_manager(api: FakeAPI, pki: PKI) -> None:
    services = "/api/v1/namespaces/ns/services"
    api.route("POST", services, (201, {"kind": "Service"}))
    api.route("PATCH", VM, (200, {"kind": "VirtualMachine"}))
    restart = "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachines/vm/restart"
    api.route("PUT", restart, (202, b""))
    with Client(connect(api, pki)) as client:
        client.create(services, {"kind": "Service"}, dry_run=True, field_manager="virt-expose")
        client.patch(VM, {"metadata": {"labels": {"a": "b"}}}, field_manager="virt-expose")
        client.patch(VM, [{"op": "test", "path": "/metadata/resourceVersion", "value": "5"}],
                     patch_type="json", dry_run=True)
        assert client.put(restart) == {}
    create, merge, jsonpatch, put = api.seen
    assert create.path == f"{services}?dryRun=All&fieldManager=virt-expose"
    assert create.headers["Content-Type"] == ["application/json"]
    assert json.loads(create.body) == {"kind": "Service"}
    assert merge.path == f"{VM}?fieldManager=virt-expose"
    assert merge.headers["Content-Type"] == ["application/merge-patch+json"]
    assert jsonpatch.path == f"{VM}?dryRun=All"
    assert jsonpatch.headers["Content-Type"] == ["application/json-patch+json"]
    assert json.loads(jsonpatch.body)[0]["op"] == "test"
    assert (put.method, json.loads(put.body)) == ("PUT", {})


def test_list_selectors_and_request_timeout(api: FakeAPI, pki: PKI) -> None:
    pods = "/api/v1/namespaces/ns/pods"
    api.route("GET", pods, (200, {"kind": "PodList", "items": []}))
    with Client(connect(api, pki, request_timeout=5.0)) as client:
        client.list(pods, label_selector="kubevirt.io/created-by=uid", field_selector="status.phase=Running")
    assert api.seen[0].path == (f"{pods}?labelSelector=kubevirt.io%2Fcreated-by%3Duid"
                                "&fieldSelector=status.phase%3DRunning&timeout=5s")


def test_impersonation_headers(api: FakeAPI, pki: PKI) -> None:
    api.route("GET", VM, (200, {}))
    connection = connect(api, pki, impersonate_user="bob", impersonate_groups=("g1", "g2"),
                         impersonate_extra=(("scopes", ("a", "b")),))
    with Client(connection) as client:
        client.get(VM)
    headers = api.seen[0].headers
    assert headers["Impersonate-User"] == ["bob"]
    assert headers["Impersonate-Group"] == ["g1", "g2"]
    assert headers["Impersonate-Extra-scopes"] == ["a", "b"]


def test_a_closed_keep_alive_connection_is_reopened_for_a_get(api: FakeAPI, pki: PKI) -> None:
    def close_after(seen: Seen) -> Reply:
        return 200, {"n": len(api.seen)}

    api.route("GET", VM, close_after)
    with Client(connect(api, pki)) as client:
        client.get(VM)
        assert client._http is not None and client._http.sock is not None
        client._http.sock.shutdown(socket.SHUT_RDWR)  # as when the server drops an idle connection
        assert client.get(VM) == {"n": 2}
    assert api.connections == 2


def test_retry_after_is_honoured(api: FakeAPI, pki: PKI) -> None:
    answers = iter([(429, {"kind": "Status", "reason": "TooManyRequests", "code": 429}), (200, {"ok": 1})])
    api.route("GET", VM, lambda _seen: next(answers))
    with Client(connect(api, pki)) as client:
        assert client.get(VM) == {"ok": 1}
        assert client.requests == 2


# -- errors ---------------------------------------------------------------------------------------------

def status(code: int, reason: str, message: str, details: dict | None = None) -> Reply:
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                  "reason": reason, "message": message, "details": details or {}}


@pytest.mark.parametrize(("reply", "error_class", "message"), [
    (status(404, "NotFound", 'virtualmachines.kubevirt.io "vm" not found', {"name": "vm"}), NotFoundError,
     'Error from server (NotFound): virtualmachines.kubevirt.io "vm" not found'),
    (status(404, "NotFound", "the server could not find the requested resource"), NotFoundError,
     "Error from server (NotFound): the server could not find the requested resource"
     " (get virtualmachines.kubevirt.io vm)"),
    (status(403, "Forbidden", 'virtualmachines.kubevirt.io "vm" is forbidden: User "bob" cannot get'
            ' resource "virtualmachines" in API group "kubevirt.io" in the namespace "ns"'), ForbiddenError,
     'Error from server (Forbidden): virtualmachines.kubevirt.io "vm" is forbidden: User "bob" cannot get'
     ' resource "virtualmachines" in API group "kubevirt.io" in the namespace "ns"'),
    (status(409, "Conflict", 'Operation cannot be fulfilled on virtualmachines.kubevirt.io "vm": the object'
            " has been modified; please apply your changes to the latest version and try again"),
     ConflictError, "Error from server (Conflict): Operation cannot be fulfilled on"),
    (status(422, "Invalid", 'Service "s" is invalid: ...', {"kind": "Service", "name": "s", "causes": [
        {"field": "spec.ports[0].nodePort", "message": "Invalid value: 20000: provided port is not in the"
         " valid range. The range of valid ports is 30000-32767"},
        {"field": "metadata.name", "message": "Invalid value: \"S\": a lowercase RFC 1123 label"}]}),
     ClusterError, 'The Service "s" is invalid: spec.ports[0].nodePort: Invalid value: 20000: provided'
     ' port is not in the valid range. The range of valid ports is 30000-32767; metadata.name: Invalid'
     ' value: "S": a lowercase RFC 1123 label'),
    ((404, b"404 page not found"), NotFoundError, "Error from server (NotFound): the server could not find"
     " the requested resource (get virtualmachines.kubevirt.io vm)"),
    ((502, b"<html><body>Bad gateway</body></html>"), ClusterError,
     'Error from server (InternalError): an error on the server ("<html><body>Bad gateway</body></html>")'
     " has prevented the request from succeeding (get virtualmachines.kubevirt.io vm)"),
])
def test_server_errors_read_as_kubectl_writes_them(api: FakeAPI, pki: PKI, reply: Reply,
                                                   error_class: type, message: str) -> None:
    api.route("GET", VM, reply)
    with Client(connect(api, pki)) as client, pytest.raises(error_class) as caught:
        client.get(VM)
    assert type(caught.value) is error_class
    assert str(caught.value).startswith(message)
    assert caught.value.status == reply[0]
    assert is_missing_api(caught.value) == ("could not find the requested resource" in message)


def test_a_token_with_a_line_break_is_not_shown(api: FakeAPI, pki: PKI) -> None:
    with Client(connect(api, pki, token="abc\nSECRET")) as client, pytest.raises(ClusterError) as caught:
        client.get(VM)
    assert "SECRET" not in str(caught.value)
    assert "contains a line break" in str(caught.value)


def test_unauthorized_asks_to_log_in_again_without_the_token(api: FakeAPI, pki: PKI) -> None:
    api.route("GET", VM, status(401, "Unauthorized", "Unauthorized"))
    with Client(connect(api, pki)) as client, pytest.raises(ClusterError) as caught:
        client.get(VM)
    assert caught.value.status == 401
    assert str(caught.value) == (f"You must be logged in to the server (Unauthorized): {api.url} rejected"
                                 ' the credentials of user "u"; log in again (e.g. oc login) or check'
                                 " --token/--user/--kubeconfig")
    assert "sekret" not in str(caught.value)


def test_connection_refused(pki: PKI) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    connection = Connection(server=f"https://127.0.0.1:{port}", namespace="default")
    with Client(connection) as client, pytest.raises(ConnectionFailure) as caught:
        client.get(VM)
    assert str(caught.value) == (f"The connection to the server 127.0.0.1:{port} was refused - did you"
                                 " specify the right host or port?")


def test_unknown_host(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with Client(Connection(server="https://api.nowhere.example:6443", namespace="d")) as client, \
            pytest.raises(ConnectionFailure, match=r'cannot resolve host "api\.nowhere\.example"'):
        client.get(VM)


def test_untrusted_server_certificate(api: FakeAPI, pki: PKI) -> None:
    with Client(connect(api, pki, ca_data=pki.other_ca.cert_pem)) as client, \
            pytest.raises(ConnectionFailure) as caught:
        client.get(VM)
    assert str(caught.value).startswith(f"Unable to connect to the server {api.url}: TLS certificate"
                                        " verification failed (")
    assert "--certificate-authority" in str(caught.value)


def test_tls_server_name_and_insecure(pki: PKI, tmp_path: Path) -> None:
    named_only = issue("apiserver", issuer=pki.ca, names=("kubernetes.default.svc",))
    for api in serve(tmp_path, pki, server=named_only):
        api.route("GET", VM, (200, {}))
        with Client(connect(api, pki)) as client, pytest.raises(ConnectionFailure, match="verification"):
            client.get(VM)
        with Client(connect(api, pki, tls_server_name="kubernetes.default.svc")) as client:
            client.get(VM)
        with Client(connect(api, pki, ca_data=b"", insecure=True)) as client:
            client.get(VM)
        (tmp_path / "ca.crt").write_bytes(pki.ca.cert_pem)
        with Client(connect(api, pki, ca_data=b"", ca_file=str(tmp_path / "ca.crt"),
                            tls_server_name="kubernetes.default.svc")) as client:
            client.get(VM)
        assert len(api.seen) == 3


def test_request_timeout(api: FakeAPI, pki: PKI) -> None:
    api.route("GET", VM, lambda _seen: (time.sleep(1.5), (200, {}))[1])
    with Client(connect(api, pki, request_timeout=0.3)) as client, \
            pytest.raises(ConnectionFailure, match=r"no answer within 0.3s \(timeout\)"):
        client.get(VM)


# -- watch --------------------------------------------------------------------------------------------------

def test_watch_streams_events_then_the_connection_is_reused(api: FakeAPI, pki: PKI) -> None:
    slices = "/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices"
    events = [{"type": "ADDED", "object": {"metadata": {"name": "a"}}}, 0.05,
              {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}},
              {"type": "MODIFIED", "object": {"metadata": {"name": "a"}}}]
    api.route("GET", slices, (200, events))
    api.route("GET", VM, (200, {}))
    with Client(connect(api, pki)) as client:
        got = [event["type"] for event in client.watch(
            slices, resource_version="5", label_selector="kubernetes.io/service-name=s",
            timeout_seconds=30, allow_bookmarks=True)]
        client.get(VM)
    assert got == ["ADDED", "BOOKMARK", "MODIFIED"]
    assert api.seen[0].path == (f"{slices}?watch=true&resourceVersion=5&labelSelector=kubernetes.io%2F"
                                "service-name%3Ds&timeoutSeconds=30&allowWatchBookmarks=true")
    assert api.connections == 1


def test_watch_error_event_and_early_stop(api: FakeAPI, pki: PKI) -> None:
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired",
                                        "message": "too old resource version: 1 (5)"}}
    api.route("GET", VM, (200, [gone]))
    with Client(connect(api, pki)) as client, pytest.raises(ClusterError) as caught:
        list(client.watch(VM))
    assert (caught.value.status, str(caught.value)) == (
        410, "Error from server (Expired): too old resource version: 1 (5)")
    api.route("GET", VM, (200, [{"type": "ADDED", "object": {}}, 1.0, {"type": "ADDED", "object": {}}]))
    with Client(connect(api, pki)) as client:
        stream = client.watch(VM)
        assert next(stream)["type"] == "ADDED"
        stream.close()
        assert client._http is None  # an unfinished stream cannot carry the next request


# -- verbose log ----------------------------------------------------------------------------------------------

def test_verbose_log_lines_and_redaction(api: FakeAPI, pki: PKI) -> None:
    secrets = "/api/v1/namespaces/ns/secrets"
    secret = {"kind": "Secret", "metadata": {"name": "s", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"k":"c2VrcmV0"}}'}},
        "data": {"k": "c2VrcmV0"}}
    api.route("POST", secrets, (201, secret))
    for level, expected in ((5, 0), (6, 1), (7, 7), (8, 9)):
        log = io.StringIO()
        with Client(connect(api, pki), verbosity=level, log=log) as client:
            client.create(secrets, secret)
        lines = log.getvalue().splitlines()
        assert len(lines) == expected, lines
        text = log.getvalue()
        assert "sekret" not in text and "c2VrcmV0" not in text
        if level >= 6:
            assert re.search(rf"^POST {re.escape(api.url)}{secrets} 201 Created in \d+ milliseconds$", text,
                             re.MULTILINE)
        if level >= 7:
            assert "    Authorization: Bearer <masked>" in lines
        if level >= 8:
            assert '"data":{"k":"<redacted>"}' in text


def test_redact() -> None:
    document = {"items": [{"kind": "Secret", "stringData": {"a": "b"}},
                          {"kind": "ExecCredential", "status": {"token": "t", "clientKeyData": "k"}},
                          {"kind": "ConfigMap", "data": {"a": "b"}}]}
    assert redact(document) == {"items": [
        {"kind": "Secret", "stringData": {"a": "<redacted>"}},
        {"kind": "ExecCredential", "status": {"token": "<redacted>", "clientKeyData": "<redacted>"}},
        {"kind": "ConfigMap", "data": {"a": "b"}}]}


# -- plain HTTP and proxies -------------------------------------------------------------------------------------

def test_ipv6_server(tmp_path: Path, pki: PKI) -> None:
    servers = serve(tmp_path, pki, host="::1")
    api = next(servers)
    api.route("GET", VM, (200, {"ok": True}))
    with Client(connect(api, pki)) as client:
        assert client.get(VM) == {"ok": True}
    assert api.seen[0].headers["Host"] == [api.url.split("://")[1]]
    servers.close()


def test_plain_http_sends_no_credentials(tmp_path: Path, pki: PKI) -> None:
    for plain in serve(tmp_path, pki, tls=False):
        plain.route("GET", VM, (200, {"ok": True}))
        with Client(Connection(server=plain.url, namespace="d")) as client:
            assert client.get(VM) == {"ok": True}
        assert "Authorization" not in plain.seen[0].headers


def test_proxy_choice() -> None:
    https = Connection(server="https://api.example.com:6443", namespace="d")
    environ = {"HTTPS_PROXY": "proxy:3128", "NO_PROXY": ".internal,10.0.0.0/8"}
    assert proxy_for(https, "api.example.com", environ) == "http://proxy:3128"
    assert proxy_for(https, "localhost", environ) == ""
    assert proxy_for(https, "x.internal", environ) == ""
    assert proxy_for(https, "10.1.2.3", environ) == ""
    assert proxy_for(https._replace(proxy_url="http://p:1"), "localhost", environ) == "http://p:1"
    assert _no_proxy("a.example.com", "example.com")
    assert _no_proxy("example.com", "example.com:443")
    assert not _no_proxy("example.com", ".example.com")
    assert _no_proxy("anything", "*")


def test_connect_proxy_tunnel(api: FakeAPI, pki: PKI) -> None:
    """A CONNECT proxy on loopback carries the TLS connection to the server."""
    api.route("GET", VM, (200, {"via": "proxy"}))
    tunnels: list[str] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            target.close()

    def proxy() -> None:
        client_sock, _ = listener.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += client_sock.recv(4096)
        target = request.split()[1].decode()
        tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client_sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(upstream, client_sock), daemon=True).start()
        pipe(client_sock, upstream)

    threading.Thread(target=proxy, daemon=True).start()
    proxy_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with Client(connect(api, pki, proxy_url=proxy_url)) as client:
        assert client.get(VM) == {"via": "proxy"}
    listener.close()
    assert tunnels == [api.url.split("://")[1]]


def test_imports_stay_light(run_code: FreshRun) -> None:
    """Option parsing imports `kubeconfig`: no network, YAML or JSON modules; the client adds the
    standard library's HTTP and TLS, never `kubernetes` or urllib3 (yaml comes with a kubeconfig read)."""
    def loaded(module: str) -> list[str]:
        modules = run_code(f"import {module}").modules
        return sorted({m.split(".")[0] for m in modules} & {"kubernetes", "urllib3", "yaml", "requests", "subprocess",
                                                          "tempfile", "ssl", "http", "json"})

    assert loaded("oc_virt_expose.access.kubeconfig") == []
    assert loaded("oc_virt_expose.access.client") == ["http", "json", "ssl"]
