"""What a test's marks and its process say about how it runs: the kind of sandbox it needs, the xdist worker."""

from __future__ import annotations

import pytest

from tests.sandbox.running import SandboxKind


def kind_of(item: pytest.Item) -> SandboxKind | None:
    """The kind of sandbox the test runs against; None if it takes no `sandbox` fixture."""
    if "sandbox" not in getattr(item, "fixturenames", ()):
        return None
    marker = item.get_closest_marker("sandbox")
    return SandboxKind(**marker.kwargs) if marker else SandboxKind()


def worker_of(config: pytest.Config) -> str | None:
    """The xdist worker this process is (gw0, gw1), None when it runs the tests alone or is the controller."""
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else None
