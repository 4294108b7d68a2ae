"""A fake API server for unit tests: http.server + ssl on loopback, with certificates made here.

It records each request (method, path with query, headers, body, the client certificate's common name)
and answers from routes: a JSON body, raw bytes, or a list of watch events streamed chunked (a float in
the list is a pause). Not for e2e tests, which use the sandbox's real API server.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from oc_virt_expose.access.kubeconfig import Connection

# -- certificates ------------------------------------------------------------------------------------

@dataclass
class Issued:
    cert_pem: bytes
    key_pem: bytes
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def issue(common_name: str, *, issuer: Issued | None = None, ca: bool = False,
          names: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> Issued:
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                        critical=False)
    else:
        alt = [x509.DNSName(name) for name in names] + [x509.IPAddress(ipaddress.ip_address(ip))
                                                         for ip in ips]
        if alt:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    if issuer:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.key.public_key()), critical=False)
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem, cert, key)


@dataclass
class PKI:
    ca: Issued
    other_ca: Issued
    server: Issued
    client_ca: Issued
    client: Issued


def make_pki() -> PKI:
    ca = issue("test-ca", ca=True)
    client_ca = issue("client-ca", ca=True)
    return PKI(ca=ca, other_ca=issue("other-ca", ca=True),
               server=issue("apiserver", issuer=ca, names=("localhost", "kubernetes.default.svc"),
                            ips=("127.0.0.1", "::1")),
               client_ca=client_ca, client=issue("alice", issuer=client_ca))


# -- a fake API server --------------------------------------------------------------------------------

@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, list[str]]
    body: bytes
    peer: str  # client certificate's common name, "" without one


Reply = tuple[int, Any]  # status, JSON body (or bytes); a list of events streams a watch


@dataclass
class FakeAPI:
    url: str
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    routes: dict[tuple[str, str], Callable[[Seen], Reply]] = field(default_factory=dict)

    def route(self, method: str, path: str, reply: Reply | Callable[[Seen], Reply]) -> None:
        self.routes[(method, path)] = reply if callable(reply) else (lambda _seen: reply)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api: FakeAPI

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        peer_cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        peer = dict(item[0] for item in peer_cert["subject"]).get("commonName", "") if peer_cert else ""
        headers = {key: self.headers.get_all(key) for key in set(self.headers.keys())}
        seen = Seen(self.command, self.path, headers, body, peer)
        self.api.seen.append(seen)
        route = self.api.routes.get((self.command, self.path.split("?")[0]))
        status, reply = route(seen) if route else (404, {
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
            "message": "the server could not find the requested resource", "details": {}})
        if isinstance(reply, list):
            return self._stream(status, reply)
        data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status in (429, 503):
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, status: int, events: list[Any]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            if isinstance(event, float):
                time.sleep(event)
                continue
            line = json.dumps(event).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: FakeAPI, context: ssl.SSLContext | None, host: str = "127.0.0.1") -> None:
        handler = type("BoundHandler", (Handler,), {"api": api})
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), handler)
        self.api, self.context = api, context

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        self.api.connections += 1
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up the TLS handshake, on purpose in some tests


def serve(tmp_path: Path, pki: PKI, *, tls: bool = True, client_ca: bool = False,
          server: Issued | None = None, host: str = "127.0.0.1") -> Iterator[FakeAPI]:
    context = None
    if tls:
        issued = server or pki.server
        (tmp_path / "server.crt").write_bytes(issued.cert_pem + pki.ca.cert_pem)
        (tmp_path / "server.key").write_bytes(issued.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
        if client_ca:
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_verify_locations(cadata=pki.client_ca.cert_pem.decode())
    api = FakeAPI(url="")
    httpd = Server(api, context, host)
    netloc = f"[{host}]" if ":" in host else host
    api.url = f"{'https' if tls else 'http'}://{netloc}:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        httpd.shutdown()
        httpd.server_close()


def connect(api: FakeAPI, pki: PKI, **fields: Any) -> Connection:
    settings: dict[str, Any] = dict(server=api.url, namespace="default", user="u", ca_data=pki.ca.cert_pem,
                                    token="sekret-token")
    settings.update(fields)
    return Connection(**settings)


VM = "/apis/kubevirt.io/v1/namespaces/ns/virtualmachines/vm"
