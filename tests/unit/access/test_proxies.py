"""Proxies kubectl supports: `socks5://` (no auth, or username/password) and `https://` (TLS to the proxy,
then CONNECT) from the cluster's `proxy-url` and from HTTPS_PROXY, with NO_PROXY; `socks5h://` too.
The server is named `kubernetes.default.svc`, which this machine cannot resolve: only a proxy that resolves
it (as the test proxies do, to 127.0.0.1) gets the request through. Side by side with kubectl 1.37.1: what
reached the proxy (the address as named, its kind, the credentials) and the server."""

from __future__ import annotations

import socket
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable

import pytest

from oc_virt_expose.access.client import Client
from oc_virt_expose.errors import ConnectionFailure, VirtExposeError
from tests.unit.access.fake_apiserver import PKI, VM, FakeAPI, connect, issue
from tests.unit.access.proxies import ProxyLog, connect_proxy, socks5_proxy
from tests.unit.access.side_by_side import answer_both, auth_of, environment, run_kubectl, run_plugin, write_kubeconfig

SERVER_NAME = "kubernetes.default.svc"


@pytest.fixture
def named(api: FakeAPI) -> str:
    """The server's URL with the name only a proxy resolves."""
    answer_both(api)
    api.route("GET", VM, (200, {"via": "proxy"}))
    return f"https://{SERVER_NAME}:{api.url.rsplit(':', 1)[1]}"


def https_proxy(pki: PKI, tmp_path: Path, userinfo: str = "") -> AbstractContextManager[ProxyLog]:
    """An https CONNECT proxy whose certificate the cluster's CA signed (kubectl checks it with that CA)."""
    certificate = issue("proxy", issuer=pki.ca, ips=("127.0.0.1",))
    return connect_proxy(cert_pem=certificate.cert_pem, key_pem=certificate.key_pem, userinfo=userinfo,
                         directory=str(tmp_path))


PROXIES: dict[str, Callable[[PKI, Path], AbstractContextManager[ProxyLog]]] = {
    "socks5": lambda pki, tmp_path: socks5_proxy(),
    "socks5 with a login": lambda pki, tmp_path: socks5_proxy(login=("me", "p@ss:word")),
    "https with a login": lambda pki, tmp_path: https_proxy(pki, tmp_path, userinfo="me:secret@"),
    "http": lambda pki, tmp_path: connect_proxy(),
}


@pytest.mark.parametrize("source", ["proxy-url", "HTTPS_PROXY"])
@pytest.mark.parametrize("kind", list(PROXIES))
def test_the_proxy_sees_what_it_sees_from_kubectl(api: FakeAPI, pki: PKI, tmp_path: Path, named: str,
                                                  kind: str, source: str) -> None:
    seen: dict[str, Any] = {}
    for name, run in (("kubectl", run_kubectl), ("plugin", run_plugin)):
        api.seen.clear()
        with PROXIES[kind](pki, tmp_path) as proxy:
            cluster = {"proxy-url": proxy.url} if source == "proxy-url" else {}
            extra = {"HTTPS_PROXY": proxy.url} if source == "HTTPS_PROXY" else {}
            kubeconfig = write_kubeconfig(tmp_path / "config", named, {"token": "proxied-token"}, pki,
                                          cluster=cluster)
            done = run(kubeconfig, env=environment(tmp_path, **extra))
            assert done.returncode == 0, f"{name}: {done.stderr}"
            assert "p@ss" not in done.stderr and "secret@" not in done.stderr
            seen[name] = (proxy.targets, proxy.address_types, proxy.auth, [auth_of(s) for s in api.seen])
    assert seen["plugin"] == seen["kubectl"]
    targets, _types, _auth, requests = seen["plugin"]
    assert set(targets) == {f"{SERVER_NAME}:{api.url.rsplit(':', 1)[1]}"}
    assert requests and all(request == {"Authorization": ["Bearer proxied-token"]} for request in requests)


def test_socks5_names_and_addresses(api: FakeAPI, pki: PKI, named: str) -> None:
    """A name goes to the proxy to resolve (for socks5:// too, as Go's dialer), an IP address as one."""
    for url, kind in ((named, "name"), (api.url, "ipv4")):
        for scheme in ("socks5", "socks5h"):
            with socks5_proxy(scheme=scheme) as proxy, Client(connect(api, pki, server=url,
                                                                      proxy_url=proxy.url)) as client:
                assert client.get(VM) == {"via": "proxy"}
            assert proxy.address_types == [kind]


def test_kubectl_refuses_socks5h_in_proxy_url_the_plugin_takes_it(api: FakeAPI, pki: PKI, tmp_path: Path,
                                                                 named: str) -> None:
    with socks5_proxy(scheme="socks5h") as proxy:
        kubeconfig = write_kubeconfig(tmp_path / "config", named, {"token": "t"}, pki,
                                      cluster={"proxy-url": proxy.url})
        kubectl = run_kubectl(kubeconfig, env=environment(tmp_path))
        assert kubectl.returncode == 1 and 'unsupported scheme "socks5h"' in kubectl.stderr
        assert run_plugin(kubeconfig, env=environment(tmp_path)).returncode == 0
        assert len(proxy.targets) == 1


def test_no_proxy_keeps_the_server_off_the_proxy(api: FakeAPI, pki: PKI, named: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with socks5_proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", ".svc")
        with Client(connect(api, pki, server=named)) as client, \
                pytest.raises(ConnectionFailure, match=f'cannot resolve host "{SERVER_NAME}"'):
            client.get(VM)  # straight to the server: this machine cannot resolve its name
        monkeypatch.setenv("NO_PROXY", "example.com")
        with Client(connect(api, pki, server=named)) as client:
            assert client.get(VM) == {"via": "proxy"}
    assert len(proxy.targets) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_proxy_failures_name_the_proxy_never_its_credentials(api: FakeAPI, pki: PKI, tmp_path: Path,
                                                              named: str) -> None:
    def failure(proxy_url: str, server: str = named) -> str:
        with Client(connect(api, pki, server=server, proxy_url=proxy_url)) as client, \
                pytest.raises(ConnectionFailure) as caught:
            client.get(VM)
        return str(caught.value)

    with socks5_proxy(login=("me", "right")) as proxy:
        address = proxy.url.rsplit("@", 1)[1]
        message = failure(proxy.url.replace(":right@", ":wrong@"))
        assert message == (f"Unable to connect to the server {named}: proxy {address}: the SOCKS5 proxy refused"
                           " the username and password of the proxy URL")
        assert "wrong" not in message
        assert "asks for a username and password" in failure(f"socks5://{address}")
        port = closed_port()
        assert failure(proxy.url, f"https://{SERVER_NAME}:{port}").endswith(
            f"the SOCKS5 proxy could not connect to {SERVER_NAME}:{port}: connection refused")
    port = closed_port()
    assert failure(f"socks5://u:pw@127.0.0.1:{port}") == (
        f"Unable to connect to the server {named}: cannot reach the proxy 127.0.0.1:{port}: Connection refused")
    untrusted = issue("proxy", issuer=pki.other_ca, ips=("127.0.0.1",))
    with connect_proxy(cert_pem=untrusted.cert_pem, key_pem=untrusted.key_pem, userinfo="me:pw@",
                       directory=str(tmp_path)) as proxy:
        message = failure(proxy.url)
        assert message.startswith(f"Unable to connect to the server {named}: the https proxy 127.0.0.1:")
        assert "has an untrusted certificate" in message and "pw" not in message
        assert proxy.targets == []


def test_a_proxy_url_kubectl_does_not_take(pki: PKI, tmp_path: Path) -> None:
    from oc_virt_expose.access.kubeconfig import load_connection
    from oc_virt_expose.model.settings import ConnectionFlags

    kubeconfig = write_kubeconfig(tmp_path / "config", "https://x.example:6443", {"token": "t"}, pki,
                                  cluster={"proxy-url": "ftp://proxy:21"})
    with pytest.raises(VirtExposeError, match='invalid proxy-url of cluster "k": scheme "ftp" is not one of'):
        load_connection(ConnectionFlags(kubeconfig=str(kubeconfig)), {})
