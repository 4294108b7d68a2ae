"""A sandbox's first steps, which need no API server: its work folder and janitor, then, when the etcd state of
its kind is cached (etcd_state.py), etcd, kube-apiserver and virt-api (whose own start-up is the longest: see
kubevirt_launch.py).

Neither this module nor what it imports loads the official Python client: `python -m tests.sandbox` imports it
(~0.7 s of CPU) once these processes run, so that the import overlaps their start; cluster.py does the rest.
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

from tests.sandbox.controlplane import ControlPlane, Stack, launch_api_server
from tests.sandbox.etcd_state import cached_state
from tests.sandbox.kubevirt_launch import KubeVirtInstall, launch_kubevirt
from tests.sandbox.kubevirt_objects import generator
from tests.sandbox.process import Supervisor
from tests.sandbox.timings import Timings

REPO = Path(__file__).resolve().parents[2]
SEEDS = ("demo", "empty")


@dataclass(frozen=True)
class SandboxOptions:
    kubeconfig: Path
    stack: Stack = "ipv4"
    seed: str = "empty"
    kubevirt_version: str | None = "1.7"  # None: KubeVirt is not installed
    load_balancer: bool = True
    route_api: bool = True


@dataclass
class Launch:
    """A sandbox's work folder (everything it makes lives there), its processes and its janitor, and what was
    started before its API server answers; `stop()` stops and removes it all."""

    options: SandboxOptions
    workdir: Path
    supervisor: Supervisor
    timings: Timings
    etcd_state: Path  # see etcd_state.py; `launch_processes` needs it to exist
    janitor: subprocess.Popen[bytes]
    janitor_pipe: int  # its standard input: the janitor acts once it is closed
    control_plane: ControlPlane | None = None
    kubevirt: KubeVirtInstall | None = None

    def stop(self) -> None:
        self.supervisor.stop_all()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.options.kubeconfig.unlink(missing_ok=True)
        os.close(self.janitor_pipe)
        self.janitor.wait()

    def usage_lines(self) -> list[str]:
        """The CPU time each component used so far (less sensitive than the wall time to other load on the
        machine) and its resident memory."""
        own = resource.getrusage(resource.RUSAGE_SELF)
        return [f"sandbox: {child.name} {child.cpu_seconds():.2f} CPU-s, {child.rss_mib():.0f} MiB"
                for child in self.supervisor.children] + [
                f"sandbox: this process {own.ru_utime + own.ru_stime:.2f} CPU-s, {own.ru_maxrss / 1024:.0f} MiB"]


def launch(options: SandboxOptions) -> Launch:
    """The sandbox's work folder and janitor; its first processes too if the etcd state of its kind is cached."""
    if options.seed == "demo" and options.kubevirt_version is None:
        raise ValueError("the demo seed is KubeVirt's objects: it needs KubeVirt")
    timings = Timings()
    workdir = Path(tempfile.mkdtemp(prefix="virt-expose-sandbox-"))
    print(f"sandbox: work folder {workdir}", file=sys.stderr)
    janitor, janitor_pipe = _start_janitor(workdir, options.kubeconfig)
    version = options.kubevirt_version
    state = cached_state(options.stack, "no-kubevirt" if version is None else f"kubevirt-{version}",
                         "" if version is None else str(generator(version)))
    launched = Launch(options, workdir, Supervisor(workdir), timings, state, janitor, janitor_pipe)
    if state.exists():
        launch_processes(launched)
    return launched


def launch_processes(launched: Launch) -> None:
    """etcd and kube-apiserver on a copy of the etcd state, and virt-api waiting for its token."""
    options, timings = launched.options, launched.timings
    with timings.phase("certificates, etcd and kube-apiserver launched"):
        plane = launched.control_plane = launch_api_server(launched.supervisor, launched.workdir, options.stack,
                                                           launched.etcd_state)
    if options.kubevirt_version is not None:
        with timings.phase("kubevirt: certificates, objects, virt-api launched"):
            launched.kubevirt = launch_kubevirt(plane, launched.supervisor, launched.workdir,
                                                options.kubevirt_version)


def _start_janitor(workdir: Path, kubeconfig: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A process outside the supervisor that cleans up if this one is killed (see janitor.py), and the pipe
    whose end tells it so: held open until this process exits, however it exits."""
    read_end, write_end = os.pipe()
    janitor = subprocess.Popen([sys.executable, "-m", "tests.sandbox.janitor", str(workdir), str(kubeconfig)],
                               stdin=read_end, cwd=REPO, start_new_session=True)
    os.close(read_end)
    return janitor, write_end
