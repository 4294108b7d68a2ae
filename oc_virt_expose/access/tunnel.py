"""Reaching the API server through a proxy, as kubectl does (checked side by side with kubectl 1.37.1).

`http://` and `https://` proxies get a CONNECT (`transport.py` sends it, with Basic Proxy-Authorization
from the URL's user:password); an https proxy's certificate is checked like the cluster's (its CA or the
system's; `insecure-skip-tls-verify` too, as Go does), and since the ssl module cannot layer one SSLSocket
on another, a thread relays the CONNECT and the server's own TLS over the proxy's TLS through a local
socket pair. `socks5://` and `socks5h://` proxies (`socks.py`) resolve the server's name themselves, with
username/password from the URL. kubectl refuses `socks5h://` in proxy-url (not in HTTPS_PROXY); it is
accepted here in both. Messages name the proxy's host:port, never its credentials.
"""

from __future__ import annotations

import base64
import socket
import ssl
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from oc_virt_expose.access.socks import ProxyError, socks5_connect
from oc_virt_expose.errors import VirtExposeError
from oc_virt_expose.model.records import repr_hiding


class Proxy(NamedTuple):
    """A proxy URL taken apart; `address` (host:port) is what messages show, never the credentials (nor
    does repr())."""

    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = ""

    def __repr__(self) -> str:
        return repr_hiding(self, ("username", "password"))

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def dial(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
    """socket.create_connection with an ASCII host as bytes: a str host goes through the idna codec,
    whose first use imports stringprep and unicodedata (as ssl does for server_hostname: see transport._HTTPS)."""
    host, port = address
    return socket.create_connection((host.encode("ascii") if host.isascii() else host, port),  # type: ignore[arg-type]
                                    *args, **kwargs)  # type: ignore[arg-type]


def proxy_dialer(proxy: Proxy, host: str, port: int,
                  context: ssl.SSLContext) -> Callable[..., socket.socket]:
    """A `create_connection` for http.client that reaches the proxy: through TLS for an https proxy, through
    the SOCKS5 handshake to host:port for a socks5 one. Failures name the proxy, never its credentials."""
    def through_proxy(_address: tuple[str, int], timeout: object = None, *args: object) -> socket.socket:
        try:
            sock = dial((proxy.host, proxy.port), timeout, *args)
        except OSError as error:
            raise ProxyError(f"cannot reach the proxy {proxy.address}: {reason_of(error)}") from None
        try:
            if proxy.scheme == "https":
                return _through(context.wrap_socket(sock, server_hostname=proxy.host.encode("ascii")
                                                    if proxy.host.isascii() else proxy.host), timeout)
            if proxy.scheme in ("socks5", "socks5h"):
                socks5_connect(sock, host, port, username=proxy.username, password=proxy.password)
            return sock
        except ssl.SSLCertVerificationError as error:
            sock.close()
            raise ProxyError(f"the https proxy {proxy.address} has an untrusted certificate"
                             f" ({error.verify_message}): as kubectl, it is checked against the cluster's"
                             " certificate authority (or the system's when the cluster has none)") from None
        except ProxyError as error:
            sock.close()
            raise ProxyError(f"proxy {proxy.address}: {error}") from None
        except (OSError, ssl.SSLError) as error:
            sock.close()
            raise ProxyError(f"proxy {proxy.address}: {reason_of(error)}") from None

    return through_proxy


def _through(tls: ssl.SSLSocket, timeout: object) -> socket.socket:
    """A plain socket whose bytes a thread carries over `tls` (the connection to an https proxy): the CONNECT
    and then the server's own TLS go over it, since the ssl module cannot layer an SSLSocket on another."""
    import threading

    ends = socket.socketpair()
    plain, relayed = _PairEnd(fileno=ends[0].detach()), ends[1]
    plain.settimeout(timeout if isinstance(timeout, (int, float)) else None)
    tls.settimeout(None)
    threading.Thread(target=_relay, args=(relayed, tls), name="virt-expose-proxy-tls", daemon=True).start()
    return plain


class _PairEnd(socket.socket):
    """A local socket pair's end, which takes no TCP options (http.client sets TCP_NODELAY on connecting)."""

    def setsockopt(self, level: int, *args: Any) -> None:
        if level != socket.IPPROTO_TCP:
            super().setsockopt(level, *args)


def _relay(plain: socket.socket, tls: ssl.SSLSocket) -> None:
    """Copy bytes both ways until either side closes; bytes TLS already decrypted are sent first."""
    import select

    with plain, tls:
        while True:
            ready = [tls] if tls.pending() else select.select([plain, tls], [], [])[0]
            for sock in ready:
                try:
                    data = _available(sock)
                    if data:
                        (tls if sock is plain else plain).sendall(data)
                except OSError:
                    return
                if data == b"":
                    return


def _available(sock: socket.socket) -> bytes | None:
    """What a readable socket holds; None when a TLS socket only had a record with no data (a TLS 1.3
    session ticket, a partial record), where a blocking read would wait for the other side's next request."""
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except ssl.SSLWantReadError:
        return None
    finally:
        sock.setblocking(True)


def parse_proxy(proxy_url: str) -> Proxy:
    """A proxy URL of a scheme kubectl supports (http, https, socks5; socks5h too)."""
    url = urlsplit(proxy_url)
    scheme = url.scheme.lower()
    default_port = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}.get(scheme)
    try:
        port = url.port
    except ValueError:
        port = None
        default_port = None
    if default_port is None or not url.hostname:
        raise VirtExposeError(f'proxy "{scheme}://{url.hostname or ""}": not a proxy URL kubectl takes'
                              " (http://, https:// or socks5:// with a host)")
    return Proxy(scheme, url.hostname, port or default_port, unquote(url.username or ""),
                 unquote(url.password or ""))


def proxy_headers(proxy: Proxy) -> dict[str, str]:
    if not proxy.username:
        return {}
    pair = f"{proxy.username}:{proxy.password}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode()}


def reason_of(error: BaseException) -> str:
    """An OS error's text without its errno, else the error's message or type."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__
