"""The fault proxy: a TLS proxy in front of the sandbox's API server that misbehaves when told to.

It serves HTTP/1.1 on a loopback port with a certificate from the cluster CA (so a kubeconfig that trusts the
cluster trusts it) and forwards each request unchanged, Authorization header included, over its own TLS
connection to the API server (verified with the cluster CA, no client certificate: a bearer-token user is
who they are through the proxy, a request without credentials is anonymous; client-certificate users are
not carried through). Upgrades (exec, port-forward) are piped both ways.

Tests tell it what to do to the next requests through control paths on the same port (fault_control.py),
with rules (fault_rules.py).

Run as `python -m tests.sandbox.fault_proxy --port P --upstream URL --ca CA --cert C --key K`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import ssl
import struct
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from tests.sandbox.fault_control import CONTROL, Control
from tests.sandbox.fault_rules import Faults, Request, Rule, error_event, json_response, response_bytes, status_body

HEAD_LIMIT = 1 << 20


@dataclass
class ResponseHead:
    raw: bytes
    status: int
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def parse_headers(lines: list[str]) -> list[tuple[str, str]]:
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return headers


async def read_head(reader: asyncio.StreamReader) -> bytes | None:
    """The head of a message up to its blank line; None when the peer closed before sending one."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if error.partial.strip():
            raise ConnectionError("connection closed in the middle of a message head") from error
        return None


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            return bytes(body)
        body += (await reader.readexactly(size + 2))[:-2]


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    head = await read_head(reader)
    if head is None:
        return None
    request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    method, target, _version = request_line.split(" ", 2)
    request = Request(method, target, parse_headers(lines))
    if (request.header("Expect") or "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.headers = [(k, v) for k, v in request.headers if k.lower() != "expect"]
    if (request.header("Transfer-Encoding") or "").lower() == "chunked":
        request.body = await read_chunked(reader)
        request.headers = [(k, v) for k, v in request.headers if k.lower() != "transfer-encoding"]
        request.headers.append(("Content-Length", str(len(request.body))))
    elif request.header("Content-Length"):
        request.body = await reader.readexactly(int(request.header("Content-Length") or "0"))
    return request


class Upstream:
    """The connection to the API server that one client connection uses, opened when first needed."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext) -> None:
        self.host, self.port, self.context = host, port, context
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = False

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.context, server_hostname=self.host, limit=HEAD_LIMIT)
            self.used = False
        return self.reader, self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def exchange(self, request: Request) -> tuple[asyncio.StreamReader, ResponseHead]:
        """Sends the request and reads the answer's head; once more on a new connection if a reused one
        turned out closed by the server (it may close an idle connection at any time)."""
        for attempt in (1, 2):
            reader, writer = await self.connect()
            reused = self.used
            self.used = True
            try:
                writer.write(request.encode())
                await writer.drain()
                raw = await read_head(reader)
            except (ConnectionError, ssl.SSLError):
                raw = None
            if raw is not None:
                status_line, *lines = raw.decode("latin-1").split("\r\n")[:-2]
                return reader, ResponseHead(raw, int(status_line.split(" ")[1]), parse_headers(lines))
            self.close()
            if not reused or attempt == 2:
                break
        raise ConnectionError("the API server closed the connection without answering")


async def relay_body(head: ResponseHead, request: Request, source: asyncio.StreamReader,
                     sink: asyncio.StreamWriter) -> bool:
    """Copies the body that follows `head`; False when its end is the connection's end."""
    if request.method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
        return True
    if (head.header("Transfer-Encoding") or "").lower() == "chunked":
        while True:
            size_line = await source.readline()
            if not size_line:
                raise ConnectionError("the API server closed a chunked response early")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                trailer = size_line
                while (line := await source.readline()) not in (b"\r\n", b""):
                    trailer += line
                sink.write(trailer + b"\r\n")
                await sink.drain()
                return True
            sink.write(size_line + await source.readexactly(size + 2))
            await sink.drain()
    if head.header("Content-Length") is not None:
        left = int(head.header("Content-Length") or "0")
        while left:
            data = await source.read(min(left, 1 << 16))
            if not data:
                raise ConnectionError("the API server closed a response early")
            sink.write(data)
            left -= len(data)
            await sink.drain()
        return True
    while data := await source.read(1 << 16):
        sink.write(data)
        await sink.drain()
    return False


async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await source.read(1 << 16):
            sink.write(data)
            await sink.drain()
    with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
        sink.close()


def reset(writer: asyncio.StreamWriter) -> None:
    """Closes a connection at once with a TCP reset, as a crashed server or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Proxy:
    def __init__(self, faults: Faults, upstream: str, upstream_context: ssl.SSLContext) -> None:
        url = urllib.parse.urlsplit(upstream)
        self.faults, self.host, self.port = faults, url.hostname or "127.0.0.1", url.port or 443
        self.upstream_context = upstream_context
        self.control = Control(faults)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = Upstream(self.host, self.port, self.upstream_context)
        try:
            while (request := await read_request(reader, writer)) is not None:
                if request.path == CONTROL or request.path.startswith(CONTROL + "/"):
                    writer.write(await self.control.answer(request))
                    await writer.drain()
                    continue
                if not await self.handle(request, reader, writer, upstream) or request.wants_close():
                    break
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            upstream.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
                writer.close()

    async def handle(self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     upstream: Upstream) -> bool:
        """Answers one request; False when the client connection is done."""
        rule = self.faults.take(request)
        if rule is not None and rule.action == "status":
            headers = [("Retry-After", str(rule.retry_after))] if rule.retry_after is not None else []
            writer.write(response_bytes(rule.status, status_body(rule.status, rule.message, rule.retry_after),
                                        headers))
            await writer.drain()
            self.faults.record(request, rule.status, rule)
            return True
        if rule is not None and rule.action == "drop":
            self.faults.record(request, None, rule)
            reset(writer)
            return False
        if rule is not None and rule.action == "delay":
            await self.faults.hold(request, rule.seconds)
        try:
            upstream_reader, head = await upstream.exchange(request)
        except (ConnectionError, OSError, ssl.SSLError):
            self.faults.record(request, 502, rule)
            writer.write(json_response(502, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                             "message": "fault proxy: the API server is unreachable", "code": 502}))
            return False
        self.faults.record(request, head.status, rule)
        writer.write(head.raw)
        if head.status == 101:
            assert upstream.writer is not None
            await asyncio.gather(pipe(reader, upstream.writer), pipe(upstream_reader, writer))
            return False
        if request.is_watch and head.status == 200:
            return await self.relay_watch(request, head, rule, upstream_reader, writer, upstream)
        keep = await relay_body(head, request, upstream_reader, writer)
        if not keep or (head.header("Connection") or "").lower() == "close":
            upstream.close()
        return keep

    async def relay_watch(self, request: Request, head: ResponseHead, rule: Rule | None,
                          source: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: Upstream) -> bool:
        """Relays a watch until it ends, or until it is cut (by a `cut` rule's timer or by a cut command)."""
        watch = await self.faults.open_watch(request)
        if rule is not None and rule.action == "cut":
            watch.graceful, watch.error = rule.graceful or rule.error is not None, rule.error
            asyncio.get_running_loop().call_later(rule.seconds, watch.cut.set)
        relay = asyncio.ensure_future(relay_body(head, request, source, writer))
        cut = asyncio.ensure_future(watch.cut.wait())
        try:
            done, _ = await asyncio.wait({relay, cut}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.faults.watches.pop(watch.id, None)
            cut.cancel()
        if relay in done:
            return relay.result()
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, ssl.SSLError):
            await relay
        upstream.close()  # the API server is still streaming on it
        chunked = (head.header("Transfer-Encoding") or "").lower() == "chunked"
        if watch.graceful and chunked:
            if watch.error is not None:
                event = error_event(request, watch.error)
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        reset(writer)
        return False


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.set_alpn_protocols(["http/1.1"])  # no h2: clients speak HTTP/1.1 to it
    return context


def upstream_context(ca: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["http/1.1"])
    return context


async def run(port: int, upstream: str, ca: Path, cert: Path, key: Path) -> None:
    proxy = Proxy(Faults(), upstream, upstream_context(ca))
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", port, ssl=server_context(cert, key),
                                        limit=HEAD_LIMIT)
    print(f"fault proxy on https://127.0.0.1:{port} for {upstream}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the API server, https://127.0.0.1:PORT")
    parser.add_argument("--ca", type=Path, required=True, help="the cluster CA (verifies the API server)")
    parser.add_argument("--cert", type=Path, required=True, help="the proxy's serving certificate")
    parser.add_argument("--key", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(run(args.port, args.upstream, args.ca, args.cert, args.key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
