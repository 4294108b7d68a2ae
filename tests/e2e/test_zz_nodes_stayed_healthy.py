"""Runs last (file order): the simulated nodes stayed Ready and untainted under the real node lifecycle
controller for the whole suite, and it evicted nothing."""

from __future__ import annotations

import pytest

from tests.conftest import SandboxPool

pytestmark = pytest.mark.sandbox


def test_nodes_stayed_ready_and_untainted(sandboxes: SandboxPool) -> None:
    sandbox = sandboxes.get("ipv4")
    nodes = sandbox.get("nodes")["items"]
    assert len(nodes) >= 2
    for node in nodes:
        conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conditions["Ready"] == "True", node["metadata"]["name"]
        assert not node["spec"].get("taints"), node["spec"]["taints"]
    events = sandbox.get("events", "-A")["items"]
    lifecycle = [e for e in events if e["reason"] in ("NodeNotReady", "TaintManagerEviction", "NodeNotSchedulable")]
    assert lifecycle == []
