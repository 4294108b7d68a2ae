"""The requests a sandbox's API server served, read from its audit log (Metadata level, JSON lines), so tests
can assert how many requests a command made and which.

The API server writes one line per request at ResponseComplete (RequestReceived is omitted by the policy;
a watch also gets a line when its response starts). In blocking mode (controlplane.py) a line is written
before its response ends; `RequestCounter.requests` does not rely on that: it first makes a marker request
and waits until the marker's line is in the log, so every request answered before then is in it too.
"""

from __future__ import annotations

import datetime
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config

MARKER_AGENT = "sandbox-audit-marker"
FLUSH_TIMEOUT = 10.0


@dataclass(frozen=True)
class Request:
    """One request the API server served, as its audit log tells it."""

    verb: str  # the audit verb: get, list, watch, create, update, patch, delete, deletecollection
    path: str  # requestURI without its query
    query: str  # the query string, '' if none
    user: str
    user_agent: str
    code: int  # response code; 0 for a watch whose response has started and not ended yet
    received: datetime.datetime
    audit_id: str

    @property
    def uri(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    def __str__(self) -> str:
        return f"{self.verb} {self.uri} {self.code}"


def parse(line: str) -> tuple[Request, str] | None:
    """The request of an audit log line and its stage; None for a line that is not an event."""
    try:
        event: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError:
        return None  # a line being written
    if event.get("kind") != "Event":
        return None
    path, _, query = event["requestURI"].partition("?")
    received = datetime.datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00"))
    request = Request(
        verb=event["verb"], path=path, query=query, user=event["user"].get("username", ""),
        user_agent=event.get("userAgent", ""), code=int((event.get("responseStatus") or {}).get("code", 0)),
        received=received, audit_id=event["auditID"])
    return request, event["stage"]


@dataclass(frozen=True)
class Mark:
    """A point in the log: its size then and the time then (later requests are received after it)."""

    offset: int
    time: datetime.datetime


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> Mark:
        offset = self.path.stat().st_size  # first the size, then the time: see RequestCounter
        return Mark(offset, datetime.datetime.now(datetime.timezone.utc))

    def lines_since(self, mark: Mark) -> Iterator[str]:
        with open(self.path, encoding="utf-8") as log:
            log.seek(mark.offset)
            yield from log

    def requests_since(self, mark: Mark) -> list[Request]:
        """Requests received since the mark, one per audit ID (its last stage), in log order."""
        found: dict[str, Request] = {}
        for line in self.lines_since(mark):
            parsed = parse(line)
            if parsed is not None and parsed[0].received >= mark.time:
                found[parsed[0].audit_id] = parsed[0]
        return list(found.values())


class Marker:
    """Makes a request as the sandbox's admin with a unique user agent (GET /version)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path, context: str = "sandbox") -> Marker:
        return cls(config.new_client_from_config(str(kubeconfig), context=context))

    def send(self) -> str:
        agent = f"{MARKER_AGENT}/{secrets.token_hex(8)}"
        self.api.user_agent = agent
        client.VersionApi(self.api).get_code(_preload_content=False, _request_timeout=10)
        return agent


class RequestCounter:
    """Requests since `start()` (called on creation), filtered by user agent or user."""

    def __init__(self, log: AuditLog, marker: Marker) -> None:
        self.log, self.marker = log, marker
        self.started = self.log.mark()

    def start(self) -> Mark:
        self.started = self.log.mark()
        return self.started

    def flush(self) -> None:
        """Returns once every request answered so far is in the log."""
        agent = self.marker.send()
        deadline = time.monotonic() + FLUSH_TIMEOUT
        while not any(agent in line for line in self.log.lines_since(self.started)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the audit marker {agent} never reached {self.log.path}")
            time.sleep(0.02)  # a file has nothing to wait on; the line is normally there at once

    def requests(self, *, user_agent: str | None = None, user: str | None = None,
                 since: Mark | None = None, until: datetime.datetime | None = None) -> list[Request]:
        """Requests received since `since` (default: the counter's start) and until `until`, whose user
        agent starts with `user_agent` (e.g. "kubectl/") and whose user is `user`, in log order."""
        self.flush()
        found = []
        for request in self.log.requests_since(since or self.started):
            if request.user_agent.startswith(MARKER_AGENT):
                continue
            if user_agent is not None and not request.user_agent.startswith(user_agent):
                continue
            if (user is not None and request.user != user) or (until is not None and request.received > until):
                continue
            found.append(request)
        return found
