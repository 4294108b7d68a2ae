"""python -m tests.sandbox --kubeconfig PATH [--stack ipv4|ipv6|dual] [--seed demo|empty] [--kubevirt-version 1.7|1.6]

Builds what is missing, starts the sandbox cluster, writes its kubeconfig (current namespace
example-namespace), prints `sandbox ready: KUBECONFIG=PATH` and serves until SIGINT or SIGTERM.
The kubeconfig's current context is the admin's; its other contexts are other users (tests/sandbox/users.py)
and `faults`, the API server through the fault proxy. On stderr, `sandbox: audit log PATH` names the API
server's audit log (tests/sandbox/audit.py counts requests in it).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.sandbox.cluster import SEEDS, Sandbox, SandboxOptions


def parse(argv: list[str] | None) -> SandboxOptions:
    parser = argparse.ArgumentParser(prog="python -m tests.sandbox", description=__doc__.splitlines()[2])
    parser.add_argument("--kubeconfig", type=Path, required=True, help="where to write the kubeconfig")
    parser.add_argument("--stack", choices=("ipv4", "ipv6", "dual"), default="ipv4",
                        help="IP families of services and pods (dual: IPv4 first)")
    parser.add_argument("--seed", choices=SEEDS, default="empty",
                        help="demo: the seed's VM and friends; empty: only the namespace")
    parser.add_argument("--kubevirt-version", choices=("1.7", "1.6"), default="1.7",
                        help="KubeVirt's controllers, API and CRDs of this release (1.6's launcher pods lack "
                             "vmi.kubevirt.io/id)")
    parser.add_argument("--load-balancer", action=argparse.BooleanOptionalAction, default=True,
                        help="give LoadBalancer Services an address, as MetalLB would (default: on)")
    args = parser.parse_args(argv)
    return SandboxOptions(kubeconfig=args.kubeconfig.resolve(), stack=args.stack, seed=args.seed,
                          kubevirt_version=args.kubevirt_version, load_balancer=args.load_balancer)


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    sandbox = Sandbox(options)
    try:
        sandbox.start()
    except (subprocess.CalledProcessError, RuntimeError, TimeoutError) as error:
        detail = error.stderr.decode(errors="replace").strip() if isinstance(error, subprocess.CalledProcessError) \
            and error.stderr else ""
        print(f"sandbox: failed to start: {error} {detail}", file=sys.stderr)
        for child in sandbox.supervisor.children:
            print(f"--- {child.name} (last lines of its log)\n{child.tail()}", file=sys.stderr)
        sandbox.stop()
        return 1
    print(f"sandbox ready: KUBECONFIG={options.kubeconfig}", flush=True)
    stop.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
