"""Waiting by watching, never by polling, under one deadline: the list-then-watch helper every wait uses.

A watch without a resourceVersion first replays the current objects as ADDED events, then follows changes:
a list and a watch from its resourceVersion in one request. A watch the server ends early, or whose
connection drops, is resumed from the last resourceVersion seen (bookmarks included); after 410 Expired
(as the answer, or as an ERROR event inside the stream) it starts again from the current state; an answer
that asks to try again (429, 5xx) is retried after its Retry-After, or a pause. `RESUMES_WITHOUT_PROGRESS`
resumptions in a row with no event between them end the wait with the last error. `Deadline.check_once`
(`--timeout 0`) lists once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from oc_virt_expose.access.client import Client
from oc_virt_expose.errors import ClusterError, ConnectionFailure
from oc_virt_expose.model.objects import Object

Found = TypeVar("Found")
GONE = 410
RETRYABLE = frozenset({429, 500, 502, 503, 504})
RESUMES_WITHOUT_PROGRESS = 3
RETRY_PAUSE = 1.0  # seconds before watching again after a retryable answer


class Deadline:
    """One deadline shared by every wait of the run."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.seconds = seconds
        self.end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - self.clock())

    @property
    def check_once(self) -> bool:
        return self.seconds <= 0


def wait_for(client: Client, path: str, deadline: Deadline, found: Callable[[dict[str, Object]], Found | None], *,
             label_selector: str | None = None, field_selector: str | None = None) -> Found | None:
    """Keep the objects at `path` (name -> object) current until `found(objects)` returns something (that
    is returned), or the deadline passes (then None)."""
    objects: dict[str, Object] = {}
    if deadline.check_once:
        listing = client.list(path, label_selector=label_selector, field_selector=field_selector)
        objects.update((str((item.get("metadata") or {}).get("name")), item) for item in listing.get("items") or [])
        return found(objects)
    for _ in watch_state(client, path, deadline, objects, label_selector=label_selector,
                         field_selector=field_selector):
        result = found(objects)
        if result is not None:
            return result
    return None


def watch_state(client: Client, path: str, deadline: Deadline, state: dict[str, Object], *,
                label_selector: str | None = None, field_selector: str | None = None) -> Iterator[None]:
    """Keep `state` (name -> object) current from watch events; yields after each change, until the
    deadline."""
    resource_version: str | None = None
    failures = 0
    while deadline.remaining() > 0:
        seconds = max(1, math.ceil(deadline.remaining()))
        events = client.watch(path, resource_version=resource_version, label_selector=label_selector,
                              field_selector=field_selector, timeout_seconds=seconds, allow_bookmarks=True)
        try:
            for event in events:
                failures = 0
                resource_version = apply_event(state, event) or resource_version
                yield
                if deadline.remaining() <= 0:
                    return
        except (ClusterError, ConnectionFailure) as error:
            failures += 1
            if failures > RESUMES_WITHOUT_PROGRESS or not _resumable(error):
                raise
            if getattr(error, "status", 0) == GONE:
                resource_version = None  # too old: start again from the current state
                state.clear()
            elif isinstance(error, ClusterError):
                time.sleep(min(_pause(error, failures), deadline.remaining()))
        finally:
            events.close()


def _resumable(error: ClusterError | ConnectionFailure) -> bool:
    """A dropped connection, an expired resourceVersion, or an answer that asks to try again."""
    return isinstance(error, ConnectionFailure) or error.status == GONE or error.status in RETRYABLE


def _pause(error: ClusterError, failures: int) -> float:
    """The server's Retry-After (its Status's `retryAfterSeconds`), else a second more at each failure."""
    asked = error.details.get("retryAfterSeconds")
    return float(asked) if isinstance(asked, int) and asked > 0 else RETRY_PAUSE * failures


def apply_event(state: dict[str, Object], event: Mapping[str, Any]) -> str | None:
    """Bring `state` (name -> object) up to date with one watch event; returns its resourceVersion."""
    obj = event.get("object") or {}
    meta = obj.get("metadata") or {}
    if event.get("type") == "DELETED":
        state.pop(str(meta.get("name")), None)
    elif event.get("type") != "BOOKMARK":
        state[str(meta.get("name"))] = obj
    return meta.get("resourceVersion")
