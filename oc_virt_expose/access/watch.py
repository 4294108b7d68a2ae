"""Waiting by watching, never by polling, under one deadline: the list-then-watch helper every wait uses.

A watch without a resourceVersion first replays the current objects as ADDED events, then follows changes:
a list and a watch from its resourceVersion in one request. A watch the server ends early is resumed from
the last resourceVersion seen (bookmarks included); after 410 Expired (as the answer, or as an ERROR event
inside the stream) it starts again from the current state. `Deadline.check_once` (`--timeout 0`) lists once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from oc_virt_expose.access.client import Client
from oc_virt_expose.errors import ClusterError
from oc_virt_expose.model.objects import Object

Found = TypeVar("Found")
GONE = 410


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
    while deadline.remaining() > 0:
        seconds = max(1, math.ceil(deadline.remaining()))
        events = client.watch(path, resource_version=resource_version, label_selector=label_selector,
                              field_selector=field_selector, timeout_seconds=seconds, allow_bookmarks=True)
        try:
            for event in events:
                resource_version = apply_event(state, event) or resource_version
                yield
                if deadline.remaining() <= 0:
                    return
        except ClusterError as error:
            if error.status != GONE:
                raise
            resource_version = None  # too old: start again from the current state
            state.clear()
        finally:
            events.close()


def apply_event(state: dict[str, Object], event: Mapping[str, Any]) -> str | None:
    """Bring `state` (name -> object) up to date with one watch event; returns its resourceVersion."""
    obj = event.get("object") or {}
    meta = obj.get("metadata") or {}
    if event.get("type") == "DELETED":
        state.pop(str(meta.get("name")), None)
    elif event.get("type") != "BOOKMARK":
        state[str(meta.get("name"))] = obj
    return meta.get("resourceVersion")
