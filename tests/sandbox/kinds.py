"""The kinds of sandbox (what `python -m tests.sandbox` is started with), and the signs between a sandbox process
and the tests (its ready mark, its stack dump). Apart from the rest of running.py, so that what only orders and
groups tests by kind (tests/markers.py, tests/parallel.py) imports no cluster client."""

from __future__ import annotations

import signal
from dataclasses import dataclass

DUMP_STACKS = signal.SIGUSR1
"""On this signal a sandbox process writes every thread's stack to its stderr (its log): where it is stuck."""
READY_MARK = "ready"
"""A file in a starting sandbox's folder once its ready line is read (tests/sandbox/running.py), which the
scheduler of tests/parallel.py waits on before it gives a worker the tests of that sandbox."""


@dataclass(frozen=True)
class SandboxKind:
    """What a sandbox is started with (the flags of `python -m tests.sandbox`)."""

    stack: str = "ipv4"  # ipv4, ipv6 or dual
    kubevirt: str | None = "1.7"  # the KubeVirt release; None: KubeVirt not installed
    load_balancer: bool = True  # a load-balancer provider, as MetalLB
    route_api: bool = True  # OpenShift's Route API and router, as MicroShift
    seed: str = "demo"  # demo: the seed's VMs and friends; empty: only the namespace

    def flags(self) -> list[str]:
        flags = ["--stack", self.stack, "--seed", self.seed]
        flags += ["--no-kubevirt"] if self.kubevirt is None else ["--kubevirt-version", self.kubevirt]
        flags += [] if self.load_balancer else ["--no-load-balancer"]
        flags += [] if self.route_api else ["--no-route-api"]
        return flags

    @property
    def name(self) -> str:
        """`ipv4`, `dual`, `ipv4-kubevirt-1.6`, `ipv4-no-load-balancer`, ...: what differs from the default."""
        kubevirt = "no-kubevirt" if self.kubevirt is None else f"kubevirt-{self.kubevirt}"
        parts = [self.stack]
        parts += [] if self.kubevirt == "1.7" else [kubevirt]
        parts += [] if self.load_balancer else ["no-load-balancer"]
        parts += [] if self.route_api else ["no-route-api"]
        parts += [] if self.seed == "demo" else [f"seed-{self.seed}"]
        return "-".join(parts)
