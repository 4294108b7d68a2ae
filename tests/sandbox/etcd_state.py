"""The API server's storage as a fresh cluster has it once KubeVirt's CRDs and RBAC are installed: made once by
the real etcd and kube-apiserver, kept in the build cache, and copied into each new sandbox's etcd data
directory, as a cluster is restored from a backup.

Creating KubeVirt's 17 CRDs (megabytes of schema) and getting them established costs the API server more CPU
than its own start; restored, they are served as soon as it is ready. What differs between sandboxes is not in
the state: certificates and keys, ports and tokens are made at each start, and so are the objects that hold
them (KubeVirt's CA ConfigMaps, virt-api's Service, its APIServices and webhooks), the KubeVirt CR, nodes,
users and everything else. The state is made by etcd and kube-apiserver alone: what the controller manager
writes (default ServiceAccounts, root CA ConfigMaps) is written at each start.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.sandbox.build import CACHE, binary
from tests.sandbox.controlplane import ControlPlane, Stack, launch_api_server
from tests.sandbox.process import Supervisor

HERE = Path(__file__).resolve().parent
STATES = CACHE / "etcd-state"
UNUSED_SECONDS = 24 * 3600
# Besides the programs, what makes the state: this module, KubeVirt's objects and the control plane's flags.
_SOURCES = (HERE / "etcd_state.py", HERE / "kubevirt_objects.py", HERE / "controlplane.py")

Populate = Callable[[ControlPlane], None]  # waits for the API server it is given, and creates what goes in


def cached_state(stack: Stack, name: str, content: str) -> Path:
    """Where the etcd data directory of a cluster of `stack` holding what `name` says is kept; `content` names
    what makes it (the path of a built program, say), and keys the cache with the control plane's build and the
    code. `make_state` makes it if it does not exist."""
    digest = hashlib.sha256(content.encode())
    digest.update(str(binary("kube-sandbox")).encode())
    for source in _SOURCES:
        digest.update(source.read_bytes())
    state = STATES / f"{stack}-{name}-{digest.hexdigest()[:16]}"
    if state.exists():
        os.utime(state)  # in use (see _forget_unused)
    return state


def make_state(state: Path, stack: Stack, populate: Populate, scratch: Path) -> None:
    """Makes `state` unless it exists (another sandbox may have made it meanwhile): starts etcd and an API
    server in `scratch` (a folder the sandbox removes whatever happens), calls `populate` with it, stops them
    and keeps etcd's data."""
    STATES.mkdir(parents=True, exist_ok=True)
    kind = state.name.rsplit("-", 1)[0]  # without the digest
    with open(STATES / f".{kind}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another sandbox may be making the same state
        if not state.exists():
            _make(state, stack, populate, scratch)
            _forget_unused(STATES.glob(f"{kind}-*"))


def _forget_unused(states: Iterable[Path]) -> None:
    """Removes the states of other code (66 MB each, mostly etcd's preallocated log) not used for a day: checkouts
    of different versions may share the cache at once."""
    for state in states:
        if time.time() - state.stat().st_mtime > UNUSED_SECONDS:
            shutil.rmtree(state, ignore_errors=True)


def _make(target: Path, stack: Stack, populate: Populate, scratch: Path) -> None:
    print(f"sandbox: making the etcd state {target.name} (once for each kind)", file=sys.stderr, flush=True)
    supervisor = Supervisor(scratch)
    try:
        populate(launch_api_server(supervisor, scratch, stack))
    finally:
        supervisor.stop_all()  # the API server, then etcd: it closes its files cleanly
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(scratch / "etcd", partial)
    partial.rename(target)
    shutil.rmtree(scratch)
