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

from kubernetes import client

from tests.sandbox.build import CACHE, binary
from tests.sandbox.controlplane import Stack, launch_api_server, wait_api_server
from tests.sandbox.process import Supervisor

HERE = Path(__file__).resolve().parent
STATES = CACHE / "etcd-state"
UNUSED_SECONDS = 24 * 3600
# Besides the programs, what makes the state: this module, KubeVirt's objects and the control plane's flags.
_SOURCES = (HERE / "etcd_state.py", HERE / "kubevirt_objects.py", HERE / "controlplane.py")

Populate = Callable[[client.ApiClient], None]


def etcd_state(stack: Stack, name: str, content: str, populate: Populate, scratch: Path) -> Path:
    """The cached etcd data directory of a cluster of `stack` in which `populate(admin client)` created what
    `name` says; `content` names what makes it (the path of a built program, say), and keys the cache with the
    control plane's build and the code. Made on first use in `scratch` (a folder the sandbox removes whatever
    happens), which takes one more API server start."""
    digest = hashlib.sha256(content.encode())
    digest.update(str(binary("kube-sandbox")).encode())
    for source in _SOURCES:
        digest.update(source.read_bytes())
    target = STATES / f"{stack}-{name}-{digest.hexdigest()[:16]}"
    if not target.exists():
        STATES.mkdir(parents=True, exist_ok=True)
        with open(STATES / f".{stack}-{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another sandbox may be making the same state
            if not target.exists():
                _make(target, stack, populate, scratch)
                _forget_unused(STATES.glob(f"{stack}-{name}-*"))
    os.utime(target)  # in use (see _forget_unused)
    return target


def _forget_unused(states: Iterable[Path]) -> None:
    """Removes the states of other code (66 MB each, mostly etcd's preallocated log) not used for a day: checkouts
    of different versions may share the cache at once."""
    for state in states:
        if time.time() - state.stat().st_mtime > UNUSED_SECONDS:
            shutil.rmtree(state, ignore_errors=True)


def _make(target: Path, stack: Stack, populate: Populate, scratch: Path) -> None:
    print(f"sandbox: making the etcd state {target.name} (first run only)", file=sys.stderr, flush=True)
    supervisor = Supervisor(scratch)
    try:
        plane = launch_api_server(supervisor, scratch, stack)
        wait_api_server(plane)
        populate(plane.admin_client("sandbox-etcd-state"))
    finally:
        supervisor.stop_all()  # the API server, then etcd: it closes its files cleanly
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(scratch / "etcd", partial)
    partial.rename(target)
