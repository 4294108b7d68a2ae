"""`access.watch`: one deadline, list-then-watch in one request, resumed after the server ends a watch and
started again after 410 Expired; `--timeout 0` lists once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from oc_virt_expose.access.watch import Deadline, apply_event, wait_for
from oc_virt_expose.errors import ClusterError, ConnectionFailure

PATH = "/api/v1/namespaces/ns/services"
Event = dict[str, Any]


def service(name: str, version: str, ingress: str | None = None) -> dict[str, Any]:
    status = {"loadBalancer": {"ingress": [{"ip": ingress}]}} if ingress else {}
    return {"metadata": {"name": name, "resourceVersion": version}, "status": status}


def event(kind: str, obj: dict[str, Any]) -> Event:
    return {"type": kind, "object": obj}


def bookmark(version: str) -> Event:
    return {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": version}}}


class FakeClient:
    """The two calls `wait_for` makes, from scripted watch streams; time ends when the script does."""

    def __init__(self, *streams: list[Event | BaseException], listing: Sequence[dict[str, Any]] = ()) -> None:
        self.streams = list(streams)
        self.listing = list(listing)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.closed = 0
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def list(self, path: str, **query: Any) -> dict[str, Any]:
        self.calls.append(("list", {"path": path, **query}))
        return {"items": self.listing}

    def watch(self, path: str, **query: Any) -> Iterator[Event]:
        self.calls.append(("watch", {"path": path, **query}))
        if not self.streams:
            self.now += 3600.0  # the deadline passes while the last watch waits
            return self._stream([])
        return self._stream(self.streams.pop(0))

    def _stream(self, events: list[Event | BaseException]) -> Iterator[Event]:
        try:
            for item in events:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.closed += 1


def balanced(services: dict[str, dict[str, Any]]) -> str | None:
    """The ingress address of service `web`, once it has one."""
    ingress = ((services.get("web") or {}).get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    return ingress[0]["ip"] if ingress else None


def wait(client: FakeClient, seconds: float, **selectors: str) -> str | None:
    deadline = Deadline(seconds, clock=client.clock)
    return wait_for(client, PATH, deadline, balanced, **selectors)  # type: ignore[arg-type]


def watches(client: FakeClient) -> list[dict[str, Any]]:
    return [query for verb, query in client.calls if verb == "watch"]


def test_deadline() -> None:
    now = [100.0]
    deadline = Deadline(5, clock=lambda: now[0])
    assert deadline.remaining() == 5
    now[0] = 110.0
    assert deadline.remaining() == 0
    assert Deadline(0).check_once


def test_check_once_lists_once_and_never_watches() -> None:
    client = FakeClient(listing=[service("web", "3", ingress="203.0.113.7"), service("db", "4")])
    assert wait(client, 0, field_selector="metadata.name=web") == "203.0.113.7"
    assert client.calls == [("list", {"path": PATH, "label_selector": None, "field_selector": "metadata.name=web"})]
    pending = FakeClient(listing=[service("web", "3")])
    assert wait(pending, 0) is None
    assert [verb for verb, _ in pending.calls] == ["list"]


def test_one_watch_from_the_current_state_until_found() -> None:
    client = FakeClient([event("ADDED", service("web", "5")), event("MODIFIED", service("web", "6", "203.0.113.7")),
                         event("MODIFIED", service("web", "7"))])
    assert wait(client, 90.5, label_selector="app=web") == "203.0.113.7"
    assert watches(client) == [{"path": PATH, "resource_version": None, "label_selector": "app=web",
                                "field_selector": None, "timeout_seconds": 91, "allow_bookmarks": True}]
    assert client.closed == 1  # the watch is closed as soon as the answer is found


def test_a_watch_the_server_ends_is_resumed_from_the_last_version_bookmarks_included() -> None:
    client = FakeClient([event("ADDED", service("web", "5")), bookmark("9")],
                        [event("MODIFIED", service("web", "10", "203.0.113.7"))])
    assert wait(client, 60) == "203.0.113.7"
    assert [query["resource_version"] for query in watches(client)] == [None, "9"]


def test_expired_starts_again_from_the_current_state() -> None:
    gone = ClusterError("Error from server (Expired): too old resource version", status=410, reason="Expired")
    client = FakeClient([event("ADDED", service("old", "5")), gone],
                        [event("ADDED", service("web", "20", "203.0.113.7"))])
    seen: list[set[str]] = []

    def found(services: dict[str, dict[str, Any]]) -> str | None:
        seen.append(set(services))
        return balanced(services)

    assert wait_for(client, PATH, Deadline(60, clock=client.clock), found) == "203.0.113.7"  # type: ignore[arg-type]
    assert [query["resource_version"] for query in watches(client)] == [None, None]
    assert seen == [{"old"}, {"web"}]  # the state was cleared: "old" may be gone meanwhile
    assert client.closed == 2


def test_other_errors_end_the_wait() -> None:
    forbidden = ClusterError("Error from server (Forbidden): services is forbidden", status=403, reason="Forbidden")
    client = FakeClient([forbidden])
    with pytest.raises(ClusterError, match="Forbidden"):
        wait(client, 60)
    assert client.closed == 1


def test_nothing_found_by_the_deadline() -> None:
    client = FakeClient([event("ADDED", service("web", "5"))])
    assert wait(client, 60) is None
    assert client.now >= 60


def test_apply_event() -> None:
    state: dict[str, dict[str, Any]] = {}
    assert apply_event(state, event("ADDED", service("web", "5"))) == "5"
    assert apply_event(state, event("MODIFIED", service("web", "6"))) == "6"
    assert state == {"web": service("web", "6")}
    assert apply_event(state, bookmark("8")) == "8"
    assert set(state) == {"web"}
    assert apply_event(state, event("DELETED", service("web", "9"))) == "9"
    assert state == {}



def test_a_dropped_connection_resumes_from_the_last_version_seen() -> None:
    dropped = ConnectionFailure("connection reset by peer")
    client = FakeClient([event("ADDED", service("web", "5")), dropped],
                        [event("MODIFIED", service("web", "7", ingress="198.51.100.1"))])
    assert wait(client, 60) == "198.51.100.1"
    assert [query.get("resource_version") for query in watches(client)] == [None, "5"]


def test_an_answer_that_asks_to_try_again_is_retried_then_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr("oc_virt_expose.access.watch.time.sleep", pauses.append)
    busy = ClusterError("Error from server (ServiceUnavailable)", status=503)
    client = FakeClient([busy], [event("ADDED", service("web", "3", ingress="198.51.100.2"))])
    assert wait(client, 60) == "198.51.100.2"
    assert pauses == [1.0]


def test_resumptions_without_progress_end_with_the_last_error() -> None:
    dropped = ConnectionFailure("connection refused")
    client = FakeClient([dropped], [dropped], [dropped], [dropped])
    with pytest.raises(ConnectionFailure, match="refused"):
        wait(client, 60)
    assert len(watches(client)) == 4


def test_a_refusal_that_is_not_transient_is_raised_at_once() -> None:
    client = FakeClient([ClusterError("Error from server (Forbidden)", status=403)])
    with pytest.raises(ClusterError, match="Forbidden"):
        wait(client, 60)
    assert len(watches(client)) == 1
