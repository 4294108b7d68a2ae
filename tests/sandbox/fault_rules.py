"""The fault proxy's rules: what a request is matched on, what a matching rule does, and the proxy's state.

A rule: {"action": "status"|"drop"|"delay"|"cut", "method": "GET" (any if absent), "path": REGEX (searched in
the path, any if absent), "query": REGEX (searched in the query), "watch": true|false (only watches / no
watches), "caller": TEXT (only requests whose bearer token ends with these 12 characters, as the log names
the caller: tests running side by side each fault their own requests), "count": N (the next N matching
requests; default 1; null for every one), "status": 500|503|429|..., "retryAfter": SECONDS (a Retry-After
header), "message": TEXT, "seconds": DELAY or CUT-AFTER, "graceful": BOOL, "error": CODE, "sticky": BOOL}.
- status: answers with that code and a Kubernetes Status body, as the API server words it; nothing is forwarded.
- drop: reads the request and closes the connection without an answer (a reset); nothing is forwarded.
- delay: waits `seconds` (the request is `held` meanwhile), then forwards.
- cut: applies to watches only: forwards, then ends the stream `seconds` after it started, abruptly (the
  connection is closed mid-stream) or, with `graceful`, as the API server ends a watch (last chunk sent);
  with `error` (e.g. 410), gracefully after an ERROR event carrying a Status of that code, as the API server
  ends a watch whose resourceVersion expired.
- sticky: once the rule has matched, it matches every later request of its caller (any method and path,
  whatever its count): with `drop`, the API server is gone from that request on.
The first matching rule with requests left applies; each control call is done when it answers, so a rule
added before a request is sent applies to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("status", "drop", "delay", "cut")
LOG_SIZE = 2000
CALLER_LENGTH = 12
_REASONS = {400: ("BadRequest", "the server rejected our request for an unknown reason"),
            401: ("Unauthorized", "Unauthorized"),
            403: ("Forbidden", "forbidden"),
            404: ("NotFound", "the server could not find the requested resource"),
            410: ("Expired", "too old resource version"),
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

    @property
    def caller(self) -> str | None:
        """The last 12 characters of the bearer token: who sent it, without showing the token."""
        scheme, _, token = (self.header("Authorization") or "").partition(" ")
        return token[-CALLER_LENGTH:] if scheme.lower() == "bearer" and token else None

    def wants_close(self) -> bool:
        return (self.header("Connection") or "").lower() == "close"

    def encode(self) -> bytes:
        lines = [f"{self.method} {self.target} HTTP/1.1", *(f"{k}: {v}" for k, v in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def response_bytes(status: int, body: bytes, headers: Sequence[tuple[str, str]] = (),
                   content_type: str = "application/json") -> bytes:
    lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, 'Error')}", f"Content-Type: {content_type}",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_response(status: int, payload: Any) -> bytes:
    return response_bytes(status, json.dumps(payload).encode())


def status_body(status: int, message: str | None, retry_after: int | None) -> bytes:
    return json.dumps(status_object(status, message, retry_after)).encode()


def status_object(status: int, message: str | None, retry_after: int | None) -> dict[str, Any]:
    reason, default = _REASONS.get(status, ("", f"injected status {status}"))
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message or default, "reason": reason, "code": status}
    if retry_after is not None:
        body["details"] = {"retryAfterSeconds": retry_after}
    return body


def error_event(request: Request, status: int) -> bytes:
    """The watch event line the API server sends before it ends a watch on an error (410: an expired
    resourceVersion, `too old resource version: RV`)."""
    version = urllib.parse.parse_qs(request.query).get("resourceVersion", [""])[0]
    message = f"too old resource version: {version}" if status == 410 and version else None
    return json.dumps({"type": "ERROR", "object": status_object(status, message, None)}).encode() + b"\n"


_ids = itertools.count(1)


@dataclass
class Rule:
    action: str
    method: str | None = None
    path: re.Pattern[str] | None = None
    query: re.Pattern[str] | None = None
    watch: bool | None = None
    caller: str | None = None
    remaining: int | None = 1
    status: int = 503
    retry_after: int | None = None
    message: str | None = None
    seconds: float = 0.0
    graceful: bool = False
    error: int | None = None
    sticky: bool = False
    hits: int = 0
    id: str = field(default_factory=lambda: f"r{next(_ids)}")

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> Rule:
        unknown = set(spec) - {"action", "method", "path", "query", "watch", "caller", "count", "status", "retryAfter",
                               "message", "seconds", "graceful", "error", "sticky"}
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
        retry_after, error = spec.get("retryAfter"), spec.get("error")
        return cls(action=action, method=(spec.get("method") or "").upper() or None, path=path, query=query,
                   watch=True if action == "cut" else spec.get("watch"), caller=spec.get("caller"), remaining=count,
                   status=status,
                   retry_after=int(retry_after) if retry_after is not None else None, message=spec.get("message"),
                   seconds=float(spec.get("seconds", 0)), graceful=bool(spec.get("graceful", False)),
                   error=int(error) if error is not None else None, sticky=bool(spec.get("sticky", False)))

    def matches(self, request: Request) -> bool:
        if self.caller is not None and self.caller != request.caller:
            return False
        if self.sticky and self.hits:
            return True
        return (self.remaining is None or self.remaining > 0) \
            and (self.method is None or self.method == request.method) \
            and (self.path is None or self.path.search(request.path) is not None) \
            and (self.query is None or self.query.search(request.query) is not None) \
            and (self.watch is None or self.watch == request.is_watch)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "method": self.method,
                "path": self.path.pattern if self.path else None, "query": self.query.pattern if self.query else None,
                "watch": self.watch, "caller": self.caller, "remaining": self.remaining, "hits": self.hits,
                "status": self.status,
                "retryAfter": self.retry_after, "message": self.message, "seconds": self.seconds,
                "graceful": self.graceful, "error": self.error, "sticky": self.sticky}


@dataclass
class Watch:
    id: int
    request: Request
    started: float
    cut: asyncio.Event = field(default_factory=asyncio.Event)
    graceful: bool = False
    error: int | None = None  # the code of the ERROR event sent before a graceful end


class Faults:
    """The proxy's state; touched only from the event loop, so every change is atomic."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self.seq = 0
        self.watches: dict[int, Watch] = {}
        self.watch_ids = itertools.count(1)
        self.watch_opened = asyncio.Condition()
        self.held: dict[int, Request] = {}  # the requests a `delay` holds now
        self.held_ids = itertools.count(1)
        self._changed = asyncio.Event()

    def changed(self) -> None:
        """Wakes the control calls waiting (`until`) for a request, a held request or a watch."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def until(self, ready: Callable[[], bool], seconds: float) -> None:
        """Returns once `ready()` holds, or after `seconds`."""
        end = time.monotonic() + seconds
        while not ready() and end > time.monotonic():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), end - time.monotonic())

    async def hold(self, request: Request, seconds: float) -> None:
        key = next(self.held_ids)
        self.held[key] = request
        self.changed()
        try:
            await asyncio.sleep(seconds)
        finally:
            del self.held[key]
            self.changed()

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
                         "query": request.query, "watch": request.is_watch, "caller": request.caller, "status": status,
                         "rule": rule.id if rule else None, "action": rule.action if rule else None})
        self.changed()

    async def open_watch(self, request: Request) -> Watch:
        watch = Watch(id=next(self.watch_ids), request=request, started=time.monotonic())
        self.watches[watch.id] = watch
        self.changed()
        async with self.watch_opened:
            self.watch_opened.notify_all()
        return watch

    def matching_watches(self, path: re.Pattern[str] | None) -> list[Watch]:
        return [w for w in self.watches.values() if path is None or path.search(w.request.path)]

    async def cut_watches(self, path: re.Pattern[str] | None, graceful: bool, wait: float,
                          error: int | None = None) -> int:
        async with self.watch_opened:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.watch_opened.wait_for(lambda: bool(self.matching_watches(path))), wait)
        found = self.matching_watches(path)
        for watch in found:
            watch.graceful, watch.error = graceful or error is not None, error
            watch.cut.set()
        return len(found)
