"""`access.watch`: a watch answered 429 or 5xx waits as long as the server's Retry-After says (its Status's
`retryAfterSeconds`), else a second more at each failure; never past the deadline."""

from __future__ import annotations

import pytest

from oc_virt_expose.access.watch import Deadline, wait_for
from oc_virt_expose.errors import ClusterError
from tests.unit.access.test_watch import PATH, FakeClient, event, service


def busy(retry_after: int | None) -> ClusterError:
    details = {"retryAfterSeconds": retry_after} if retry_after is not None else {}
    return ClusterError("Too many requests", status=429, reason="TooManyRequests", details=details)


@pytest.mark.parametrize("retry_after, pauses", [(7, [7.0, 7.0]), (None, [1.0, 2.0])])
def test_the_pause_before_watching_again_is_the_servers_retry_after(
        monkeypatch: pytest.MonkeyPatch, retry_after: int | None, pauses: list[float]) -> None:
    slept: list[float] = []
    monkeypatch.setattr("oc_virt_expose.access.watch.time.sleep", slept.append)
    client = FakeClient([busy(retry_after)], [busy(retry_after)], [event("ADDED", service("web", "5", "192.0.2.1"))])
    found = wait_for(client, PATH, Deadline(60, client.clock), lambda objects: objects.get("web"))  # type: ignore[arg-type]
    assert found is not None and slept == pauses


def test_the_pause_ends_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("oc_virt_expose.access.watch.time.sleep", slept.append)
    client = FakeClient([busy(600)])
    assert wait_for(client, PATH, Deadline(60, client.clock), lambda objects: None) is None  # type: ignore[arg-type]
    assert slept == [60.0]
