"""The fault proxy: a TLS proxy in front of the sandbox's API server that misbehaves when told to.

It serves HTTP/1.1 on a loopback port with a certificate from the cluster CA (so a kubeconfig that trusts the
cluster trusts it) and forwards each request unchanged, Authorization header included, over its own TLS
connection to the API server (verified with the cluster CA, no client certificate: a bearer-token user is
who they are through the proxy, a request without credentials is anonymous; client-certificate users are
not carried through). Upgrades (exec, port-forward) are piped both ways.

Tests tell it, through control paths on the same port (never forwarded), what to do to the next requests:

    POST   /sandbox-faults/rules          add a rule (JSON, below); answers the rule with its id
    GET    /sandbox-faults/rules          the rules, with `remaining` and `hits`
    DELETE /sandbox-faults/rules[/ID]     remove all rules, or one
    GET    /sandbox-faults/requests?since=SEQ   the requests seen (seq, method, path, query, status, rule)
    GET    /sandbox-faults/watches        the watches being relayed now
    POST   /sandbox-faults/watches/cut    {"path": REGEX, "graceful": false, "waitSeconds": 5}: end the
                                          matching watches now (waiting up to waitSeconds for one to open)
    GET    /sandbox-faults/healthz

A rule: {"action": "status"|"drop"|"delay"|"cut", "method": "GET" (any if absent), "path": REGEX (searched in
the path, any if absent), "query": REGEX (searched in the query), "watch": true|false (only watches / no
watches), "count": N (the next N matching requests; default 1; null for every one), "status": 500|503|429|...,
"retryAfter": SECONDS (a Retry-After header), "message": TEXT, "seconds": DELAY or CUT-AFTER,
"graceful": BOOL}.
- status: answers with that code and a Kubernetes Status body, as the API server words it; nothing is forwarded.
- drop: reads the request and closes the connection without an answer (a reset); nothing is forwarded.
- delay: waits `seconds`, then forwards.
- cut: applies to watches only: forwards, then ends the stream `seconds` after it started, abruptly (the
  connection is closed mid-stream) or, with `graceful`, as the API server ends a watch (last chunk sent).
The first matching rule with requests left applies; each control call is done when it answers, so a rule
added before a request is sent applies to it.

Run as `python -m tests.sandbox.faults --port P --upstream URL --ca CA --cert C --key K`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import socket
import ssl
import struct
import sys
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONTROL = "/sandbox-faults"
ACTIONS = ("status", "drop", "delay", "cut")
LOG_SIZE = 2000
HEAD_LIMIT = 1 << 20
_REASONS = {400: ("BadRequest", "the server rejected our request for an unknown reason"),
            401: ("Unauthorized", "Unauthorized"),
            403: ("Forbidden", "forbidden"),
            404: ("NotFound", "the server could not find the requested resource"),
            409: ("Conflict", "the object has been modified; please apply your changes to the latest version "
                              "and try again"),
            429: ("TooManyRequests", "Too many requests, please try again later."),
            500: ("InternalError", "Internal error occurred: injected by the sandbox's fault proxy"),
            503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
            504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be "
                             "processing the request")}
_PHRASES = {100: "Continue", 200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class BadRule(ValueError):
    pass


# -- HTTP/1.1 messages -----------------------------------------------------------------------------------

@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    @property
    def is_watch(self) -> bool:
        params = urllib.parse.parse_qs(self.query)
        return params.get("watch", [""])[0] in ("true", "1") or "/watch/" in self.path

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def wants_close(self) -> bool:
        return (self.header("Connection") or "").lower() == "close"

    def encode(self) -> bytes:
        lines = [f"{self.method} {self.target} HTTP/1.1", *(f"{k}: {v}" for k, v in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


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


def response_bytes(status: int, body: bytes, headers: Sequence[tuple[str, str]] = (),
                   content_type: str = "application/json") -> bytes:
    lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, 'Error')}", f"Content-Type: {content_type}",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_response(status: int, payload: Any) -> bytes:
    return response_bytes(status, json.dumps(payload).encode())


def status_body(status: int, message: str | None, retry_after: int | None) -> bytes:
    reason, default = _REASONS.get(status, ("", f"injected status {status}"))
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message or default, "reason": reason, "code": status}
    if retry_after is not None:
        body["details"] = {"retryAfterSeconds": retry_after}
    return json.dumps(body).encode()


# -- rules -----------------------------------------------------------------------------------------------

_ids = itertools.count(1)


@dataclass
class Rule:
    action: str
    method: str | None = None
    path: re.Pattern[str] | None = None
    query: re.Pattern[str] | None = None
    watch: bool | None = None
    remaining: int | None = 1
    status: int = 503
    retry_after: int | None = None
    message: str | None = None
    seconds: float = 0.0
    graceful: bool = False
    hits: int = 0
    id: str = field(default_factory=lambda: f"r{next(_ids)}")

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> Rule:
        unknown = set(spec) - {"action", "method", "path", "query", "watch", "count", "status", "retryAfter",
                               "message", "seconds", "graceful"}
        if unknown:
            raise BadRule(f"unknown fields {sorted(unknown)}")
        action = spec.get("action")
        if action not in ACTIONS:
            raise BadRule(f"action must be one of {', '.join(ACTIONS)}")
        count = spec.get("count", 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise BadRule("count must be a positive integer or null (every request)")
        status = int(spec.get("status", 503))
        if action == "status" and not 400 <= status <= 599:
            raise BadRule("status must be between 400 and 599")
        try:
            path = re.compile(spec["path"]) if spec.get("path") else None
            query = re.compile(spec["query"]) if spec.get("query") else None
        except re.error as error:
            raise BadRule(f"bad regular expression: {error}") from error
        retry_after = spec.get("retryAfter")
        return cls(action=action, method=(spec.get("method") or "").upper() or None, path=path, query=query,
                   watch=True if action == "cut" else spec.get("watch"), remaining=count, status=status,
                   retry_after=int(retry_after) if retry_after is not None else None, message=spec.get("message"),
                   seconds=float(spec.get("seconds", 0)), graceful=bool(spec.get("graceful", False)))

    def matches(self, request: Request) -> bool:
        return (self.remaining is None or self.remaining > 0) \
            and (self.method is None or self.method == request.method) \
            and (self.path is None or self.path.search(request.path) is not None) \
            and (self.query is None or self.query.search(request.query) is not None) \
            and (self.watch is None or self.watch == request.is_watch)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "method": self.method,
                "path": self.path.pattern if self.path else None, "query": self.query.pattern if self.query else None,
                "watch": self.watch, "remaining": self.remaining, "hits": self.hits, "status": self.status,
                "retryAfter": self.retry_after, "message": self.message, "seconds": self.seconds,
                "graceful": self.graceful}


@dataclass
class Watch:
    id: int
    request: Request
    started: float
    cut: asyncio.Event = field(default_factory=asyncio.Event)
    graceful: bool = False


class Faults:
    """The proxy's state; touched only from the event loop, so every change is atomic."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self.seq = 0
        self.watches: dict[int, Watch] = {}
        self.watch_ids = itertools.count(1)
        self.watch_opened = asyncio.Condition()

    def take(self, request: Request) -> Rule | None:
        for rule in self.rules:
            if rule.matches(request):
                rule.hits += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule
        return None

    def record(self, request: Request, status: int | None, rule: Rule | None) -> None:
        self.seq += 1
        self.log.append({"seq": self.seq, "time": time.time(), "method": request.method, "path": request.path,
                         "query": request.query, "watch": request.is_watch, "status": status,
                         "rule": rule.id if rule else None, "action": rule.action if rule else None})

    async def open_watch(self, request: Request) -> Watch:
        watch = Watch(id=next(self.watch_ids), request=request, started=time.monotonic())
        self.watches[watch.id] = watch
        async with self.watch_opened:
            self.watch_opened.notify_all()
        return watch

    def matching_watches(self, path: re.Pattern[str] | None) -> list[Watch]:
        return [w for w in self.watches.values() if path is None or path.search(w.request.path)]

    async def cut_watches(self, path: re.Pattern[str] | None, graceful: bool, wait: float) -> int:
        async with self.watch_opened:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.watch_opened.wait_for(lambda: bool(self.matching_watches(path))), wait)
        found = self.matching_watches(path)
        for watch in found:
            watch.graceful = graceful
            watch.cut.set()
        return len(found)


# -- the proxy -------------------------------------------------------------------------------------------

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
            await asyncio.sleep(rule.seconds)
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
            watch.graceful = rule.graceful
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
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        reset(writer)
        return False


class Control:
    """The control paths under /sandbox-faults."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    async def answer(self, request: Request) -> bytes:
        try:
            return await self._answer(request)
        except (BadRule, ValueError, KeyError, TypeError) as error:
            return json_response(400, {"error": str(error)})

    async def _answer(self, request: Request) -> bytes:
        route = request.path[len(CONTROL):].rstrip("/")
        method = request.method
        if route == "/healthz":
            return response_bytes(200, b"ok", content_type="text/plain")
        if route == "/rules" and method == "GET":
            return json_response(200, {"rules": [rule.to_json() for rule in self.faults.rules]})
        if route == "/rules" and method == "POST":
            rule = Rule.from_json(json.loads(request.body or b"{}"))
            self.faults.rules.append(rule)
            return json_response(201, rule.to_json())
        if route == "/rules" and method == "DELETE":
            count, self.faults.rules = len(self.faults.rules), []
            return json_response(200, {"deleted": count})
        if route.startswith("/rules/") and method == "DELETE":
            rule_id = route[len("/rules/"):]
            kept = [rule for rule in self.faults.rules if rule.id != rule_id]
            found = len(kept) != len(self.faults.rules)
            self.faults.rules = kept
            return json_response(200 if found else 404, {"deleted": int(found)})
        if route == "/requests" and method == "GET":
            since = int(urllib.parse.parse_qs(request.query).get("since", ["0"])[0])
            return json_response(200, {"requests": [e for e in self.faults.log if e["seq"] > since],
                                       "last": self.faults.seq})
        if route == "/watches" and method == "GET":
            return json_response(200, {"watches": [
                {"id": w.id, "path": w.request.path, "query": w.request.query,
                 "seconds": round(time.monotonic() - w.started, 3)} for w in self.faults.watches.values()]})
        if route == "/watches/cut" and method == "POST":
            spec = json.loads(request.body or b"{}")
            path = re.compile(spec["path"]) if spec.get("path") else None
            count = await self.faults.cut_watches(path, bool(spec.get("graceful", False)),
                                                  float(spec.get("waitSeconds", 0)))
            return json_response(200, {"cut": count})
        return json_response(404, {"error": f"no control {method} {request.path}"})


# -- process ---------------------------------------------------------------------------------------------

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


# -- the client tests use --------------------------------------------------------------------------------

class FaultProxyClient:
    """Tells a running fault proxy what to do (see the module's documentation for the rule fields)."""

    def __init__(self, url: str, ca_file: Path) -> None:
        self.url = url.rstrip("/")
        self.context = ssl.create_default_context(cafile=str(ca_file))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{CONTROL}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.context, timeout=timeout) as response:
            return json.loads(response.read())

    def add_rule(self, action: str, **fields: Any) -> dict[str, Any]:
        """E.g. `add_rule("status", method="GET", path="/namespaces$", status=429, retryAfter=1, count=2)`."""
        return dict(self.call("POST", "/rules", {"action": action, **fields}))

    def rules(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/rules")["rules"])

    def rule(self, rule_id: str) -> dict[str, Any]:
        return next(rule for rule in self.rules() if rule["id"] == rule_id)

    def clear(self) -> None:
        self.call("DELETE", "/rules")

    def last_seq(self) -> int:
        return int(self.call("GET", "/requests?since=999999999")["last"])

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/requests?since={since}")["requests"])

    def watches(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/watches")["watches"])

    def cut_watches(self, path: str | None = None, *, graceful: bool = False, wait: float = 10.0) -> int:
        """Ends the watches on paths matching `path` (all without), waiting up to `wait` s for one to open."""
        body = {"path": path, "graceful": graceful, "waitSeconds": wait}
        return int(self.call("POST", "/watches/cut", body, timeout=wait + 30)["cut"])


if __name__ == "__main__":
    sys.exit(main())
