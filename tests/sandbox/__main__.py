"""python -m tests.sandbox --kubeconfig PATH [--stack ipv4|ipv6|dual] [--seed demo|empty] [--kubevirt-version 1.7|1.6]
[--no-kubevirt] [--no-load-balancer] [--no-route-api] [--timings]

Builds what is missing, starts the sandbox cluster, writes its kubeconfig (current namespace
example-namespace), prints `sandbox ready: KUBECONFIG=PATH` and serves until SIGINT or SIGTERM.
The kubeconfig's current context is the admin's; its other contexts are other users (tests/sandbox/users.py)
and `faults`, the API server through the fault proxy. On stderr, `sandbox: audit log PATH` names the API
server's audit log (tests/sandbox/audit.py counts requests in it).

Variants, each the same start minus a part:
- `--no-kubevirt`: the control plane and the nodes only, no KubeVirt CRDs, controllers or virt-handler (the
  nodes lack KubeVirt's labels and devices): a cluster where KubeVirt is not installed. With `--seed empty`
  only (the demo seed is KubeVirt's objects).
- `--no-route-api`: no Route CRD, host-assignment webhook or router, as on a Kubernetes cluster that is not
  OpenShift (the infrastructure ConfigMap's `routerDomain` is empty).
- `--no-load-balancer`: no load-balancer provider; LoadBalancer Services stay pending.
`--timings` prints each start phase (when it began and ended, in seconds from the start; phases that do not
depend on each other overlap), the total, and each component's CPU time and memory on stderr, before the ready
line.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path

from tests.sandbox.kinds import DUMP_STACKS
from tests.sandbox.launch import SEEDS, Launch, SandboxOptions, launch


def parse(argv: list[str] | None) -> tuple[SandboxOptions, bool]:
    """The sandbox's options and whether to print the timings."""
    parser = argparse.ArgumentParser(prog="python -m tests.sandbox", description=__doc__.splitlines()[3])
    parser.add_argument("--kubeconfig", type=Path, required=True, help="where to write the kubeconfig")
    parser.add_argument("--stack", choices=("ipv4", "ipv6", "dual"), default="ipv4",
                        help="IP families of services and pods (dual: IPv4 first)")
    parser.add_argument("--seed", choices=SEEDS, default="empty",
                        help="demo: the seed's VM and friends; empty: only the namespace")
    kubevirt = parser.add_mutually_exclusive_group()
    kubevirt.add_argument("--kubevirt-version", choices=("1.7", "1.6"), default="1.7",
                          help="KubeVirt's controllers, API and CRDs of this release (1.6's launcher pods lack "
                               "vmi.kubevirt.io/id)")
    kubevirt.add_argument("--no-kubevirt", dest="kubevirt_version", action="store_const", const=None,
                          help="KubeVirt not installed: the control plane and the nodes only")
    parser.add_argument("--load-balancer", action=argparse.BooleanOptionalAction, default=True,
                        help="give LoadBalancer Services an address, as MetalLB would (default: on)")
    parser.add_argument("--route-api", action=argparse.BooleanOptionalAction, default=True,
                        help="OpenShift's Route API, host assignment and router, as MicroShift has them (default: on)")
    parser.add_argument("--timings", action="store_true", help="print each start phase's duration on stderr")
    args = parser.parse_args(argv)
    if args.kubevirt_version is None and args.seed == "demo":
        parser.error("--seed demo needs KubeVirt (its objects are VMs): use --seed empty with --no-kubevirt")
    return SandboxOptions(kubeconfig=args.kubeconfig.resolve(), stack=args.stack, seed=args.seed,
                          kubevirt_version=args.kubevirt_version, load_balancer=args.load_balancer,
                          route_api=args.route_api), args.timings


def stop_signals() -> int:
    """A pipe's read end that gets a byte for each SIGINT or SIGTERM: Python's own C handler writes the signal's
    number to it (`signal.set_wakeup_fd`) on whichever thread the signal lands. A Python handler that sets an
    Event instead hung the sandbox: it runs in the main thread between two of its steps, even inside the first
    handler when a second signal comes, and there waited for the Event's lock that the main thread held."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)  # a handler of Python's (not the default, which ends the process)
    return read_end


def main(argv: list[str] | None = None) -> int:
    options, timings = parse(argv)
    stop = stop_signals()
    faulthandler.register(DUMP_STACKS, all_threads=True)  # where it is stuck, if it ever is (tests/sandbox/pool.py)
    launched: Launch | None = None
    try:
        launched = launch(options)
        # Imported only now that etcd, kube-apiserver and virt-api run: the official client's import (~0.7 s of
        # CPU) overlaps their start instead of delaying it (see launch.py).
        from tests.sandbox.cluster import Sandbox
        Sandbox(launched).start()
    except Exception as error:  # whatever it is, everything started so far is stopped
        if not isinstance(error, (subprocess.CalledProcessError, RuntimeError, TimeoutError)):
            traceback.print_exc()
        detail = error.stderr.decode(errors="replace").strip() if isinstance(error, subprocess.CalledProcessError) \
            and error.stderr else ""
        print(f"sandbox: failed to start: {error} {detail}", file=sys.stderr)
        if launched is not None:
            for child in launched.supervisor.children:
                print(f"--- {child.name} (last lines of its log)\n{child.tail()}", file=sys.stderr)
            launched.stop()
        return 1
    finally:
        if timings and launched is not None:
            print("\n".join([*launched.timings.lines(), *launched.usage_lines()]), file=sys.stderr, flush=True)
    print(f"sandbox ready: KUBECONFIG={options.kubeconfig}", flush=True)
    os.read(stop, 1)  # until SIGINT or SIGTERM (at once if one came during the start)
    assert launched is not None
    print("sandbox: stopping", file=sys.stderr, flush=True)
    launched.stop()
    print("sandbox: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
