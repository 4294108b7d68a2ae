"""Proxies for unit tests, on loopback: a SOCKS5 server (RFC 1928, no auth or RFC 1929 username/password)
and an HTTP CONNECT proxy, plain or behind TLS (an `https://` proxy). Each records what the client sent
(auth method, credentials, the address as asked: a name or an IP), and maps every name it is asked for to
127.0.0.1, so a test can use a name the test machine cannot resolve (the proxy resolves it, as a real one
would). Written here rather than taken from a package: the tests assert on those recorded details, which
proxy packages do not expose.
"""

from __future__ import annotations

import select
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field


@dataclass
class ProxyLog:
    """What reached a proxy: one entry per tunnel asked for."""

    url: str = ""
    targets: list[str] = field(default_factory=list)  # "host:port" as the client named it
    address_types: list[str] = field(default_factory=list)  # SOCKS: "name", "ipv4" or "ipv6"
    auth: list[str] = field(default_factory=list)  # SOCKS "user:password" / CONNECT Proxy-Authorization
    refused: int = 0  # SOCKS logins refused


def relay(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes (one thread; a TLS side's buffered bytes first)."""
    sockets = [one, other]
    while True:
        ready = [sock for sock in sockets if isinstance(sock, ssl.SSLSocket) and sock.pending()]
        if not ready:
            ready, _, _ = select.select(sockets, [], [], 30)
            if not ready:
                return
        for sock in ready:
            sock.setblocking(False)  # a TLS record with no data (e.g. a session ticket) must not block
            try:
                data = sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except OSError:
                return
            finally:
                sock.setblocking(True)
            if not data:
                return
            (other if sock is one else one).sendall(data)


def _read(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


class _Socks5(socketserver.BaseRequestHandler):
    log: ProxyLog
    login: tuple[str, str] | None

    def handle(self) -> None:
        with suppress(OSError):  # a client that went away
            self._handle()

    def _handle(self) -> None:
        sock = self.request
        version, count = _read(sock, 2)
        methods = _read(sock, count)
        assert version == 5
        wanted = 2 if self.login else 0
        if wanted not in methods:
            sock.sendall(b"\x05\xff")
            return
        sock.sendall(bytes([5, wanted]))
        if self.login and not self._authenticate(sock):
            return
        _version, command, _reserved, kind = _read(sock, 4)
        if kind == 1:
            host, name = socket.inet_ntoa(_read(sock, 4)), "ipv4"
        elif kind == 4:
            host, name = socket.inet_ntop(socket.AF_INET6, _read(sock, 16)), "ipv6"
        else:
            host, name = _read(sock, _read(sock, 1)[0]).decode(), "name"
        port = struct.unpack("!H", _read(sock, 2))[0]
        self.log.targets.append(f"{host}:{port}")
        self.log.address_types.append(name)
        if command != 1:
            sock.sendall(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        try:
            upstream = socket.create_connection(("127.0.0.1" if name == "name" else host, port), timeout=10)
        except OSError:
            sock.sendall(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        with upstream:
            sock.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + struct.pack("!H", upstream.getsockname()[1]))
            relay(sock, upstream)

    def _authenticate(self, sock: socket.socket) -> bool:
        assert self.login is not None
        _version = _read(sock, 1)
        user = _read(sock, _read(sock, 1)[0]).decode()
        password = _read(sock, _read(sock, 1)[0]).decode()
        self.log.auth.append(f"{user}:{password}")
        if (user, password) != self.login:
            self.log.refused += 1
            sock.sendall(b"\x01\x01")
            return False
        sock.sendall(b"\x01\x00")
        return True


class _Connect(socketserver.StreamRequestHandler):
    log: ProxyLog
    context: ssl.SSLContext | None

    def setup(self) -> None:
        if self.context is not None:
            self.request = self.context.wrap_socket(self.request, server_side=True)
        super().setup()

    def handle(self) -> None:
        with suppress(OSError):  # a client that went away, or gave up the TLS handshake
            self._handle()

    def _handle(self) -> None:
        request_line = self.rfile.readline().decode().split()
        headers = {}
        for line in iter(self.rfile.readline, b"\r\n"):
            if not line:
                return
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        if request_line[:1] != ["CONNECT"]:
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        target = request_line[1]
        self.log.targets.append(target)
        self.log.auth.append(headers.get("proxy-authorization", ""))
        port = int(target.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            relay(self.request, upstream)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that went away mid-handshake: the test sees it from the client side


@contextmanager
def _serving(handler: type[socketserver.BaseRequestHandler], scheme: str, log: ProxyLog,
             userinfo: str = "") -> Iterator[ProxyLog]:
    server = _Server(("127.0.0.1", 0), handler)
    log.url = f"{scheme}://{userinfo}127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield log
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def socks5_proxy(*, login: tuple[str, str] | None = None, scheme: str = "socks5") -> Iterator[ProxyLog]:
    """A SOCKS5 proxy; with `login`, it requires that username and password (and `url` carries them)."""
    log = ProxyLog()
    handler = type("Socks5", (_Socks5,), {"log": log, "login": login})
    userinfo = f"{login[0]}:{login[1]}@" if login else ""
    with _serving(handler, scheme, log, userinfo) as serving:
        yield serving


@contextmanager
def connect_proxy(*, cert_pem: bytes = b"", key_pem: bytes = b"", userinfo: str = "",
                  directory: str = "") -> Iterator[ProxyLog]:
    """An HTTP CONNECT proxy; with a certificate and key (written under `directory`), an HTTPS one."""
    context = None
    if cert_pem:
        import os

        cert_path, key_path = os.path.join(directory, "proxy.crt"), os.path.join(directory, "proxy.key")
        with open(cert_path, "wb") as cert, open(key_path, "wb") as key:
            cert.write(cert_pem)
            key.write(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
    log = ProxyLog()
    handler = type("Connect", (_Connect,), {"log": log, "context": context})
    with _serving(handler, "https" if context else "http", log, userinfo) as serving:
        yield serving
