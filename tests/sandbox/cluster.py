"""One sandbox cluster: the real control plane and KubeVirt, simulated nodes, kubelets and virt-handler.

The start overlaps what does not depend on each other (timings.py prints each phase with `--timings`): etcd,
kube-apiserver and virt-api (whose own start-up is the longest) start at once (launch.py); once the API server is
ready, the controller manager and scheduler, KubeVirt's install, the nodes with kwok, the infrastructure and the
users all start side by side; the seed follows KubeVirt (it needs KubeVirt's webhooks).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from tests.sandbox.apiclient import admin_client, create, create_all
from tests.sandbox.controlplane import ControlPlane
from tests.sandbox.controlplane_ready import start_controllers, wait_api_server
from tests.sandbox.etcd_state import make_state
from tests.sandbox.infrastructure import Infrastructure, start_infrastructure
from tests.sandbox.kubevirt import KubeVirt, create_base, install_kubevirt
from tests.sandbox.kubevirt_launch import KubeVirtInstall
from tests.sandbox.launch import REPO, Launch, launch_processes
from tests.sandbox.nodes import create_nodes, start_kwok
from tests.sandbox.timings import Concurrent
from tests.sandbox.users import ADMIN_CONTEXT, Kubeconfig, KubeconfigUser, create_users

HERE = Path(__file__).resolve().parent
DEFAULT_NAMESPACE = "example-namespace"
USER_AGENT = "sandbox-start"
SEED_FIELD_MANAGER = "sandbox-seed"


class Sandbox:
    """Started by `start()` from what `launch` began, stopped by its `stop()`."""

    def __init__(self, launched: Launch) -> None:
        self.launched = launched
        self.options, self.supervisor, self.timings = launched.options, launched.supervisor, launched.timings
        self.workdir = launched.workdir
        self.kubevirt: KubeVirt | None = None
        self.infrastructure: Infrastructure | None = None
        self._users: list[KubeconfigUser] = []

    def start(self) -> None:
        launched, timings, options = self.launched, self.timings, self.options
        if launched.control_plane is None:  # the etcd state of this kind was not cached
            with timings.phase("etcd state (made once for each kind)"):
                make_state(launched.etcd_state, options.stack, self._populate_state, self.workdir / "etcd-state")
            launch_processes(launched)
        plane = launched.control_plane
        assert plane is not None
        with timings.phase("kube-apiserver ready"):
            wait_api_server(plane)
        create(admin_client(plane, USER_AGENT), {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": DEFAULT_NAMESPACE}})
        starting = Concurrent()
        starting.start("controllers", timings.timed(
            "kube-controller-manager and kube-scheduler", lambda: start_controllers(plane, self.supervisor)))
        if launched.kubevirt is not None:
            plan = launched.kubevirt
            starting.start("kubevirt", lambda: self._start_kubevirt(plane, plan))
        starting.start("nodes", timings.timed("nodes and kwok", lambda: self._start_nodes(plane)))
        starting.start("infrastructure", timings.timed("infrastructure", lambda: start_infrastructure(
            options, self.supervisor, self.workdir, plane)))
        starting.start("users", timings.timed("users", lambda: self._create_users(plane)))
        self.infrastructure = starting.wait()["infrastructure"]
        self._write_user_kubeconfig(plane)
        # Tests count requests in it (tests/sandbox/audit.py); the line's form is read by tests/sandbox/running.py.
        print(f"sandbox: audit log {plane.audit_log}", file=sys.stderr)
        print(f"sandbox: started in {timings.since_start():.1f}s", file=sys.stderr)

    def _populate_state(self, plane: ControlPlane) -> None:
        """What every sandbox of this kind holds (see etcd_state.py): KubeVirt's base objects, if installed."""
        wait_api_server(plane)
        if self.options.kubevirt_version is not None:
            create_base(admin_client(plane, "sandbox-etcd-state"), self.options.kubevirt_version)

    def _start_kubevirt(self, plane: ControlPlane, plan: KubeVirtInstall) -> None:
        """KubeVirt, the simulated virt-handler, and the seed (it needs KubeVirt's webhooks)."""
        self.kubevirt = install_kubevirt(plan, plane, self.supervisor, self.timings)
        self.supervisor.spawn("virt-handler", [
            sys.executable, "-m", "tests.sandbox.virt_handler",
            "--kubeconfig", str(self.kubevirt.handler_kubeconfig),
            "--observer-kubeconfig", str(plane.admin_kubeconfig),
        ], env={**os.environ, "PYTHONPATH": str(REPO)}, restart=True)
        if self.options.seed == "demo":
            with self.timings.phase("seed"), open(HERE / "seed-demo.yaml") as seed:
                create_all(admin_client(plane, USER_AGENT), list(yaml.safe_load_all(seed)), SEED_FIELD_MANAGER)

    def _start_nodes(self, plane: ControlPlane) -> None:
        kubevirt = self.options.kubevirt_version is not None
        create_nodes(admin_client(plane, USER_AGENT), plane.pod_cidrs, kubevirt=kubevirt)
        start_kwok(self.supervisor, self.workdir, plane.admin_kubeconfig, plane.pod_cidrs)

    def _create_users(self, plane: ControlPlane) -> None:
        """The users of the kubeconfig's contexts (see users.py)."""
        self._users = create_users(admin_client(plane, USER_AGENT), plane, self.workdir / "users", DEFAULT_NAMESPACE)

    def _write_user_kubeconfig(self, plane: ControlPlane) -> None:
        """The admin's context (current) and the other users', plus `faults`: the API server through the
        infrastructure's fault proxy."""
        assert self.infrastructure is not None
        kubeconfig = Kubeconfig(DEFAULT_NAMESPACE, clusters={
            "sandbox": {"server": plane.server, "certificate-authority": str(plane.ca.cert_file)},
            "faults": self.infrastructure.kubeconfig_cluster()}, users=list(self._users))
        kubeconfig.users.append(KubeconfigUser("faults", {"token": plane.admin_token}, cluster="faults"))
        kubeconfig.write(self.options.kubeconfig, current=ADMIN_CONTEXT)
