"""HTTP(S) connections to the API server: TLS as kubectl sets it up, proxies, and connection failures.

Transport: the standard library's `http.client` + `ssl`, not urllib3. Import cost on CPython 3.11
(`python -X importtime`, best of 7, 2026-11-25, on a busy 2-core machine): `ssl` 15 ms, `http.client`
39 ms (with `ssl` and `email.parser`), `urllib3` 137 ms (3.5x; it imports `http.client` and `ssl`
itself), the `kubernetes` package 728 ms. A CLI that sends a handful of requests on one keep-alive
connection needs nothing urllib3 adds (pools, retry policies, multipart). Python 3.9+ compatible.

TLS, as client-go: the cluster's CA (file or data) is the only trust anchor when given, else the system's
roots; any CA in the bundle may anchor a chain (OpenSSL's partial-chain flag, Go's behaviour); TLS 1.2+;
`tls-server-name` overrides the name checked; `insecure-skip-tls-verify` skips the check. Client
certificate data (kubeconfig or exec plugin) is handed to `SSLContext.load_cert_chain`, which reads only
files: on Linux from a memfd (never on disk), elsewhere from a 0600 file in a private 0700 directory,
deleted as soon as OpenSSL has read it. An encrypted key fails instead of prompting. A connection that skips
verification says so once per process, where `on_unverified_server` points (the CLI's warnings).

Proxies, as kubectl: the cluster's `proxy-url`, else HTTPS_PROXY (HTTP_PROXY for an http server) minus
NO_PROXY and loopback hosts; http, https, socks5 and socks5h ones (`tunnel.py`).
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit

from oc_virt_expose import __version__
from oc_virt_expose.access.kubeconfig import Connection
from oc_virt_expose.access.socks import ProxyError
from oc_virt_expose.access.tunnel import dial, parse_proxy, proxy_dialer, proxy_headers, reason_of
from oc_virt_expose.errors import ConnectionFailure, VirtExposeError

CONNECT_TIMEOUT = 30.0  # seconds, as kubectl's dialer
_PARTIAL_CHAIN = getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0x80000)
UNVERIFIED = "the server's certificate is not verified; anyone on the path can read and change this traffic"
_UNKNOWN_AUTHORITY = frozenset({2, 18, 19, 20, 21, 27})  # OpenSSL X509_V_ERR_* of an untrusted chain
_NAME_MISMATCH = frozenset({62, 63, 64})  # host name, email, IP address
_EXPIRED = 10
_unverified_notice: dict[str, Callable[[str], None] | None] = {"sink": None}


def on_unverified_server(sink: Callable[[str], None] | None) -> None:
    """Where to say, once per process, that the server's certificate is not verified (None: nowhere, as
    in completion and library use)."""
    _unverified_notice["sink"] = sink


def _say_unverified(connection: Connection) -> None:
    sink = _unverified_notice.pop("sink", None)  # once: the next connection finds no sink
    _unverified_notice["sink"] = None
    if sink is not None:
        origin = ("--insecure-skip-tls-verify" if connection.trust_source == "--insecure-skip-tls-verify"
                  else f'insecure-skip-tls-verify of cluster "{connection.cluster or "in-cluster"}" in the kubeconfig')
        sink(f"{origin}: {UNVERIFIED}")


def user_agent() -> str:
    system = {"win32": "windows", "cygwin": "windows"}.get(sys.platform, sys.platform.rstrip("0123456789"))
    machine = os.uname().machine if hasattr(os, "uname") else os.environ.get("PROCESSOR_ARCHITECTURE", "")
    arch = {"x86_64": "amd64", "aarch64": "arm64", "AMD64": "amd64", "ARM64": "arm64"}.get(machine, machine)
    return f"virt-expose/{__version__} ({system}/{arch.lower()}) kubectl-plugin"


class _HTTP(http.client.HTTPConnection):
    """A plain connection whose reads time out after `read_timeout` (None: never), not the dial's."""

    read_timeout: float | None = None

    def __init__(self, host: str, port: int, *, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._create_connection = dial

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(self.read_timeout)


class _HTTPS(_HTTP):
    """TLS over `_HTTP` (and over a proxy's CONNECT tunnel), checking `server_hostname`."""

    default_port = 443

    def __init__(self, host: str, port: int, *, context: ssl.SSLContext, server_hostname: str,
                 timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.tls_context, self.server_hostname = context, server_hostname

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        name = self.server_hostname
        # ssl encodes a str name with the idna codec, whose import (stringprep, unicodedata) costs
        # more than the handshake on loopback; an ASCII name needs no encoding, so pass it as bytes
        self.sock = self.tls_context.wrap_socket(self.sock, server_hostname=(
            name.encode("ascii") if name.isascii() else name))
        self.sock.settimeout(self.read_timeout)


def open_connection(connection: Connection, *, cert_pem: bytes = b"", key_pem: bytes = b"",
                    environ: Mapping[str, str] | None = None) -> http.client.HTTPConnection:
    """An unconnected HTTP(S) connection to the server (through a proxy when one applies)."""
    url = urlsplit(connection.server)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    proxy_url = proxy_for(connection, host, os.environ if environ is None else environ)
    proxy = parse_proxy(proxy_url) if proxy_url else None
    tunnelled = proxy is not None and proxy.scheme in ("http", "https")
    dial_host, dial_port = (proxy.host, proxy.port) if tunnelled and proxy is not None else (host, port)
    timeout = min(connection.request_timeout or CONNECT_TIMEOUT, CONNECT_TIMEOUT)
    context = tls_context(connection, cert_pem=cert_pem, key_pem=key_pem) if url.scheme == "https" else None
    if url.scheme == "https" and connection.insecure:
        _say_unverified(connection)
    http_connection: _HTTP
    if context is not None:
        http_connection = _HTTPS(dial_host, dial_port, context=context, timeout=timeout,
                                 server_hostname=connection.tls_server_name or host)
    else:
        http_connection = _HTTP(dial_host, dial_port, timeout=timeout)
    http_connection.read_timeout = connection.request_timeout
    if proxy is not None:
        http_connection._create_connection = proxy_dialer(proxy, host, port, context or tls_context(connection))
    if tunnelled and proxy is not None:
        http_connection.set_tunnel(host, port, headers=proxy_headers(proxy))
    return http_connection


def tls_context(connection: Connection, *, cert_pem: bytes = b"", key_pem: bytes = b"") -> ssl.SSLContext:
    """The TLS settings of the connection; client certificate from PEM data or the kubeconfig's files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if connection.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        _load_trust(context, connection)
    cert_pem = cert_pem or connection.cert_data
    key_pem = key_pem or connection.key_data
    if cert_pem or connection.cert_file:
        _load_client_certificate(context, connection, cert_pem, key_pem)
    return context


def _load_trust(context: ssl.SSLContext, connection: Connection) -> None:
    context.verify_flags |= _PARTIAL_CHAIN
    try:
        if connection.ca_data:
            context.load_verify_locations(cadata=connection.ca_data.decode("ascii", "replace"))
        elif connection.ca_file:
            context.load_verify_locations(cafile=connection.ca_file)
        else:
            context.load_default_certs()
    except (ssl.SSLError, OSError, ValueError):
        source = connection.ca_file or "certificate-authority-data"
        raise VirtExposeError(f'the certificate authority of cluster "{connection.cluster or "in-cluster"}"'
                              f" ({source}) is not a readable PEM certificate") from None


def _load_client_certificate(context: ssl.SSLContext, connection: Connection, cert_pem: bytes,
                             key_pem: bytes) -> None:
    try:
        with _pem_path(cert_pem, connection.cert_file) as cert_path, \
                _pem_path(key_pem, connection.key_file) as key_path:
            context.load_cert_chain(cert_path, key_path, password=b"")
    except (ssl.SSLError, OSError):
        raise VirtExposeError(f'the client certificate and key of user "{connection.user}" cannot be'
                              " used: unreadable, not PEM, encrypted, or not a matching pair") from None


@contextmanager
def _pem_path(data: bytes, path: str) -> Iterator[str]:
    """A path OpenSSL can read `data` from, gone on exit; or `path` itself when there is no data."""
    if not data:
        yield path
        return
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("virt-expose-pem", os.MFD_CLOEXEC)
        try:
            _write_all(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    import tempfile  # only where there is no memfd

    directory = tempfile.mkdtemp(prefix="virt-expose-")  # 0700
    file_path = os.path.join(directory, "pem")
    try:
        fd = os.open(file_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        yield file_path
    finally:
        if os.path.exists(file_path):
            os.unlink(file_path)
        os.rmdir(directory)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def proxy_for(connection: Connection, host: str, environ: Mapping[str, str]) -> str:
    """The proxy URL for the server: the cluster's proxy-url, else HTTPS_PROXY/HTTP_PROXY minus NO_PROXY.

    As Go's ProxyFromEnvironment: loopback hosts are never proxied.
    """
    if connection.proxy_url:
        return connection.proxy_url
    name = "HTTPS_PROXY" if connection.uses_tls else "HTTP_PROXY"
    proxy = environ.get(name) or environ.get(name.lower()) or ""
    if not proxy or _loopback(host) or _no_proxy(host, environ.get("NO_PROXY") or environ.get("no_proxy")):
        return ""
    return proxy if "://" in proxy else "http://" + proxy


def _loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _no_proxy(host: str, no_proxy: str | None) -> bool:
    for entry in (item.strip().lower() for item in (no_proxy or "").split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry and _in_network(host, entry):
            return True
        name = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
        domain = name.lstrip(".")
        if (host.lower() == domain and not name.startswith(".")) or host.lower().endswith("." + domain):
            return True
    return False


def _in_network(host: str, cidr: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def connection_failure(error: BaseException, server: str, *, timeout: float | None,
                       connection: Connection | None = None) -> ConnectionFailure:
    """One line naming the server and what to check, from a socket, TLS or HTTP error; with the connection,
    a certificate problem names the flag and the kubeconfig field that fix it."""
    url = urlsplit(server)
    address = url.netloc.rsplit("@", 1)[-1]
    if isinstance(error, ssl.SSLCertVerificationError):
        return ConnectionFailure(f"Unable to connect to the server {server}: TLS certificate verification failed"
                                 f" ({_untrusted(error, connection or Connection(server=server, namespace=''))}")
    if isinstance(error, ProxyError):
        return ConnectionFailure(f"Unable to connect to the server {server}: {error}")
    if isinstance(error, ssl.SSLError):
        return ConnectionFailure(f"Unable to connect to the server {server}: TLS handshake failed"
                                 f" ({error.reason or error}); is it an HTTPS API server that accepts"
                                 " this client certificate?")
    if isinstance(error, ConnectionRefusedError):
        return ConnectionFailure(f"The connection to the server {address} was refused - did you specify"
                                 " the right host or port?")
    if isinstance(error, socket.gaierror):
        return ConnectionFailure(f"Unable to connect to the server {server}: cannot resolve host"
                                 f' "{url.hostname}"; check the server address (kubeconfig or --server)'
                                 " and your DNS")
    if isinstance(error, (socket.timeout, TimeoutError)):
        limit = f" within {timeout:g}s" if timeout else ""
        return ConnectionFailure(f"Unable to connect to the server {server}: no answer{limit} (timeout);"
                                 " check the server is reachable from here, or raise --request-timeout")
    if isinstance(error, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        return ConnectionFailure(f"Unable to connect to the server {server}: the connection was closed"
                                 " by the server or a proxy; check the server address and port")
    return ConnectionFailure(f"Unable to connect to the server {server}: {reason_of(error)}")


def _untrusted(error: ssl.SSLCertVerificationError, connection: Connection) -> str:
    """Why the server's certificate was refused, closing the parenthesis it is put in, and the flag and
    kubeconfig field that fix it."""
    fields = (f"clusters[{connection.cluster}].cluster" if connection.cluster
              else "the cluster entry of the kubeconfig") + "."
    if error.verify_code in _NAME_MISMATCH:
        return (f"{error.verify_message.rstrip('.')}); use a server address the certificate names, or give"
                f" the name to check with --tls-server-name or {fields}tls-server-name")
    if error.verify_code == _EXPIRED:
        return "the server's certificate has expired); check this machine's clock, or ask for a renewed certificate"
    if error.verify_code not in _UNKNOWN_AUTHORITY:
        return (f"{error.verify_message}); check the CA given by --certificate-authority or"
                f" {fields}certificate-authority-data (or certificate-authority)")
    trusted = {"certificate-authority-data": f"the CA in {fields}certificate-authority-data",
               "certificate-authority": f"the CA file {connection.ca_file} of {fields}certificate-authority",
               "--certificate-authority": f"the CA file {connection.ca_file} given by --certificate-authority",
               "in-cluster": f"the service account's CA {connection.ca_file}"}.get(
                   connection.trust_source, "any CA this machine trusts")
    where = "" if connection.in_cluster else f", or set {fields}certificate-authority-data (or certificate-authority)"
    return (f"certificate signed by unknown authority: the server's certificate is not signed by {trusted}); pass"
            f" the cluster's CA with --certificate-authority FILE{where}")

