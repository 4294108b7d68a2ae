"""The kinds of sandbox: what `python -m tests.sandbox` is started with. Apart from the rest of running.py, so that
what only orders and groups tests by kind (tests/markers.py, tests/parallel.py) imports no cluster client."""

from __future__ import annotations

from dataclasses import dataclass


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
