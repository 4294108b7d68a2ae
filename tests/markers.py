"""What a test's marks and its process say about how it runs: the kind of sandbox it needs, the xdist worker."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from tests.sandbox.kinds import SandboxKind

SUITE_KINDS: tuple[tuple[SandboxKind, str], ...] = (
    (SandboxKind(), "the default (single-stack IPv4, KubeVirt 1.7, a load balancer, the Route API): most tests"),
    (SandboxKind(stack="dual"), "dual-stack Services and pods, in both orders of the families"),
    (SandboxKind(stack="ipv6", load_balancer=False),
     "single-stack IPv6, and no load-balancer provider: a LoadBalancer Service stays pending (a bare-metal cluster)"),
    (SandboxKind(kubevirt="1.6", route_api=False),
     "KubeVirt 1.6's launcher pods (no vmi.kubevirt.io/id), on a Kubernetes without OpenShift's Route API"),
    (SandboxKind(kubevirt=None, seed="empty"), "KubeVirt not installed"),
)
"""The kinds of sandbox a run starts, each once (in each xdist worker, the default), and why each is needed.
Two traits away from the default share a kind where no test needs them apart, so that a run starts fewer."""


def suite_order(kind: SandboxKind) -> int:
    """Where `kind` stands in SUITE_KINDS: the order in which a run starts its kinds."""
    return [suite for suite, _ in SUITE_KINDS].index(kind)


def kind_of(item: pytest.Item) -> SandboxKind | None:
    """The kind of sandbox the test runs against: the first of SUITE_KINDS with the traits its `sandbox` marker
    asks for (none: the default); None if it takes no `sandbox` fixture."""
    if "sandbox" not in getattr(item, "fixturenames", ()):
        return None
    marker = item.get_closest_marker("sandbox")
    return suite_kind(tuple(sorted(marker.kwargs.items())) if marker else ())


@cache
def suite_kind(traits: tuple[tuple[str, Any], ...]) -> SandboxKind:
    for kind, _ in SUITE_KINDS:
        if all(getattr(kind, trait, object()) == value for trait, value in traits):
            return kind
    asked = ", ".join(f"{trait}={value!r}" for trait, value in traits)
    raise pytest.UsageError(f"no sandbox kind in SUITE_KINDS (tests/markers.py) has {asked}: add one")


SANDBOXES_ROOT = "sandboxes_root"  # the key of an xdist worker's workerinput: where it starts its sandboxes


def worker_of(config: pytest.Config) -> str | None:
    """The xdist worker this process is (gw0, gw1), None when it runs the tests alone or is the controller."""
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else None


def worker_for(kind: SandboxKind, workers: int) -> str | None:
    """The xdist worker (gw0, gw1) that runs the tests of `kind` (None: the default kind, in every worker): the
    kinds other than the default in turns, in the order of SUITE_KINDS, so that a worker knows before their
    tests come which kinds it will start, and can start them ahead."""
    if kind == SandboxKind():
        return None
    return f"gw{(suite_order(kind) - 1) % workers}"
