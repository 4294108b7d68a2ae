"""One sandbox cluster: the real control plane and KubeVirt, simulated nodes, kubelets and virt-handler.

The start overlaps what does not depend on each other (timings.py prints each phase with `--timings`): etcd,
kube-apiserver and virt-api (whose own start-up is the longest, see kubevirt.py) start at once; once the API
server is ready, the controller manager and scheduler, KubeVirt's install, the nodes with kwok, the
infrastructure and the users all start side by side; the seed follows KubeVirt (it needs KubeVirt's webhooks).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.sandbox.apiclient import create, create_all
from tests.sandbox.controlplane import ControlPlane, Stack, launch_api_server, start_controllers, wait_api_server
from tests.sandbox.etcd_state import etcd_state
from tests.sandbox.infrastructure import Infrastructure, start_infrastructure
from tests.sandbox.kubevirt import KubeVirt, KubeVirtInstall, create_base, install_kubevirt, launch_kubevirt
from tests.sandbox.kubevirt_objects import generator
from tests.sandbox.nodes import create_nodes, start_kwok
from tests.sandbox.process import Supervisor
from tests.sandbox.timings import Concurrent, Timings
from tests.sandbox.users import ADMIN_CONTEXT, Kubeconfig, KubeconfigUser, create_users

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_NAMESPACE = "example-namespace"
SEEDS = ("demo", "empty")
USER_AGENT = "sandbox-start"
SEED_FIELD_MANAGER = "sandbox-seed"


@dataclass(frozen=True)
class SandboxOptions:
    kubeconfig: Path
    stack: Stack = "ipv4"
    seed: str = "empty"
    kubevirt_version: str | None = "1.7"  # None: KubeVirt is not installed
    load_balancer: bool = True
    route_api: bool = True


class Sandbox:
    """Started by `start()`, stopped by `stop()`; everything it made lives in one temporary folder."""

    def __init__(self, options: SandboxOptions) -> None:
        if options.seed == "demo" and options.kubevirt_version is None:
            raise ValueError("the demo seed is KubeVirt's objects: it needs KubeVirt")
        self.options = options
        self.workdir = Path(tempfile.mkdtemp(prefix="virt-expose-sandbox-"))
        self.supervisor = Supervisor(self.workdir)
        self.timings = Timings()
        self._janitor = self._start_janitor()
        self.control_plane: ControlPlane | None = None
        self.kubevirt: KubeVirt | None = None
        self.infrastructure: Infrastructure | None = None
        self._users: list[KubeconfigUser] = []

    def _start_janitor(self) -> subprocess.Popen[bytes]:
        """A process outside the supervisor that cleans up if this one is killed (see janitor.py)."""
        read_end, write_end = os.pipe()
        janitor = subprocess.Popen(
            [sys.executable, "-m", "tests.sandbox.janitor", str(self.workdir), str(self.options.kubeconfig)],
            stdin=read_end, cwd=REPO, start_new_session=True)
        os.close(read_end)
        self._janitor_pipe = write_end  # held open until this process exits, however it exits
        return janitor

    def start(self) -> None:
        print(f"sandbox: work folder {self.workdir}", file=sys.stderr)
        timings, options = self.timings, self.options
        with timings.phase("etcd state (made on first use)"):
            state = self._etcd_state()
        with timings.phase("certificates, etcd and kube-apiserver launched"):
            plane = self.control_plane = launch_api_server(self.supervisor, self.workdir, options.stack, state)
        preparing = Concurrent()
        if options.kubevirt_version is not None:
            version = options.kubevirt_version
            preparing.start("kubevirt", timings.timed("kubevirt: certificates, objects, virt-api launched",
                                                      lambda: launch_kubevirt(plane, self.supervisor, self.workdir,
                                                                              version)))
        with timings.phase("kube-apiserver ready"):
            wait_api_server(plane)
        prepared = preparing.wait()
        create(plane.admin_client(USER_AGENT), {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": DEFAULT_NAMESPACE}})
        starting = Concurrent()
        starting.start("controllers", timings.timed(
            "kube-controller-manager and kube-scheduler", lambda: start_controllers(plane, self.supervisor)))
        if "kubevirt" in prepared:
            starting.start("kubevirt", lambda: self._start_kubevirt(prepared["kubevirt"]))
        starting.start("nodes", timings.timed("nodes and kwok", self._start_nodes))
        starting.start("infrastructure", timings.timed("infrastructure", lambda: start_infrastructure(
            options, self.supervisor, self.workdir, plane)))
        starting.start("users", timings.timed("users", self._create_users))
        self.infrastructure = starting.wait()["infrastructure"]
        self._write_user_kubeconfig()
        # Tests count requests in it (tests/sandbox/audit.py); the line's form is read by tests/sandbox/running.py.
        print(f"sandbox: audit log {plane.audit_log}", file=sys.stderr)
        print(f"sandbox: started in {timings.since_start():.1f}s", file=sys.stderr)

    def _etcd_state(self) -> Path:
        """The API server's storage with what every sandbox of this kind holds (see etcd_state.py)."""
        version, scratch = self.options.kubevirt_version, self.workdir / "etcd-state"
        if version is None:
            return etcd_state(self.options.stack, "no-kubevirt", "", lambda api: None, scratch)
        return etcd_state(self.options.stack, f"kubevirt-{version}", str(generator(version)),
                          lambda api: create_base(api, version), scratch)

    def _start_kubevirt(self, plan: KubeVirtInstall) -> None:
        """KubeVirt, the simulated virt-handler, and the seed (it needs KubeVirt's webhooks)."""
        assert self.control_plane is not None
        self.kubevirt = install_kubevirt(plan, self.control_plane, self.supervisor, self.timings)
        self.supervisor.spawn("virt-handler", [
            sys.executable, "-m", "tests.sandbox.virt_handler",
            "--kubeconfig", str(self.kubevirt.handler_kubeconfig),
            "--observer-kubeconfig", str(self.control_plane.admin_kubeconfig),
        ], env={**os.environ, "PYTHONPATH": str(REPO)}, restart=True)
        if self.options.seed == "demo":
            with self.timings.phase("seed"), open(HERE / "seed-demo.yaml") as seed:
                create_all(self.control_plane.admin_client(USER_AGENT), list(yaml.safe_load_all(seed)),
                           SEED_FIELD_MANAGER)

    def _start_nodes(self) -> None:
        assert self.control_plane is not None
        plane = self.control_plane
        kubevirt = self.options.kubevirt_version is not None
        create_nodes(plane.admin_client(USER_AGENT), plane.pod_cidrs, kubevirt=kubevirt)
        start_kwok(self.supervisor, self.workdir, plane.admin_kubeconfig, plane.pod_cidrs)

    def _create_users(self) -> None:
        """The users of the kubeconfig's contexts (see users.py)."""
        assert self.control_plane is not None
        plane = self.control_plane
        self._users = create_users(plane.admin_client(USER_AGENT), plane, self.workdir / "users", DEFAULT_NAMESPACE)

    def _write_user_kubeconfig(self) -> None:
        """The admin's context (current) and the other users', plus `faults`: the API server through the
        infrastructure's fault proxy."""
        assert self.control_plane is not None and self.infrastructure is not None
        plane = self.control_plane
        kubeconfig = Kubeconfig(DEFAULT_NAMESPACE, clusters={
            "sandbox": {"server": plane.server, "certificate-authority": str(plane.ca.cert_file)},
            "faults": self.infrastructure.kubeconfig_cluster()}, users=list(self._users))
        kubeconfig.users.append(KubeconfigUser("faults", {"token": plane.admin_token}, cluster="faults"))
        kubeconfig.write(self.options.kubeconfig, current=ADMIN_CONTEXT)

    def usage_lines(self) -> list[str]:
        """The CPU time each component used so far (a measure of the start that other load on the machine does
        not change much) and its resident memory."""
        own = resource.getrusage(resource.RUSAGE_SELF)
        return [f"sandbox: {child.name} {child.cpu_seconds():.2f} CPU-s, {child.rss_mib():.0f} MiB"
                for child in self.supervisor.children] + [
                f"sandbox: this process {own.ru_utime + own.ru_stime:.2f} CPU-s, {own.ru_maxrss / 1024:.0f} MiB"]

    def stop(self) -> None:
        self.supervisor.stop_all()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.options.kubeconfig.unlink(missing_ok=True)
        os.close(self._janitor_pipe)
        self._janitor.wait()

