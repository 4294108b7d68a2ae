"""A SOCKS5 client handshake (RFC 1928, CONNECT only) with no authentication or username/password
(RFC 1929), on an already connected socket: the few lines the standard library lacks, instead of a
dependency.

As Go's proxy dialer (kubectl's): a host name is sent to the proxy to resolve (address type 3), for
`socks5://` as for `socks5h://`; an IP address is sent as one.
"""

from __future__ import annotations

import socket
import struct

NO_AUTH, USERNAME_PASSWORD, NO_ACCEPTABLE = 0x00, 0x02, 0xFF
REPLIES = {1: "general SOCKS server failure", 2: "connection not allowed by ruleset", 3: "network unreachable",
           4: "host unreachable", 5: "connection refused", 6: "TTL expired", 7: "command not supported",
           8: "address type not supported"}


class ProxyError(OSError):
    """The proxy refused or failed the tunnel; the message names no credential."""


def socks5_connect(sock: socket.socket, host: str, port: int, *, username: str = "", password: str = "") -> None:
    """Ask the SOCKS5 proxy at the other end of `sock` for a TCP connection to host:port."""
    login = bool(username or password)
    methods = bytes([NO_AUTH, USERNAME_PASSWORD]) if login else bytes([NO_AUTH])
    sock.sendall(bytes([5, len(methods)]) + methods)
    version, method = _receive(sock, 2)
    if version != 5:
        raise ProxyError("the proxy does not speak SOCKS5")
    if method == USERNAME_PASSWORD and login:
        _authenticate(sock, username, password)
    elif method != NO_AUTH:
        raise ProxyError("the SOCKS5 proxy asks for a username and password: put them in the proxy URL"
                         " (socks5://USER:PASSWORD@HOST:PORT)" if not login
                         else "the SOCKS5 proxy accepts neither no authentication nor a username and password")
    sock.sendall(b"\x05\x01\x00" + _address(host) + struct.pack("!H", port))
    _version, reply, _reserved, kind = _receive(sock, 4)
    if reply != 0:
        raise ProxyError(f"the SOCKS5 proxy could not connect to {host}:{port}: "
                         + REPLIES.get(reply, f"reply code {reply}"))
    bound = {1: 4, 4: 16}.get(kind)
    _receive(sock, (bound if bound is not None else _receive(sock, 1)[0]) + 2)


def _authenticate(sock: socket.socket, username: str, password: str) -> None:
    user, secret = username.encode(), password.encode()
    if len(user) > 255 or len(secret) > 255:
        raise ProxyError("the SOCKS5 username and password must be at most 255 bytes each")
    sock.sendall(bytes([1, len(user)]) + user + bytes([len(secret)]) + secret)
    if _receive(sock, 2)[1] != 0:
        raise ProxyError("the SOCKS5 proxy refused the username and password of the proxy URL")


def _address(host: str) -> bytes:
    import ipaddress  # ~3 ms, for SOCKS users only

    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode("ascii") if host.isascii() else host.encode("idna")
        if len(name) > 255:
            raise ProxyError(f"host name too long for SOCKS5: {host}") from None
        return bytes([3, len(name)]) + name
    return (b"\x01" if address.version == 4 else b"\x04") + address.packed


def _receive(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ProxyError("the SOCKS5 proxy closed the connection")
        data += chunk
    return data
