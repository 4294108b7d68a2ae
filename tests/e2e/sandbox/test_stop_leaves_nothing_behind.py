"""The sandbox leaves nothing behind: no process, port, folder or kubeconfig, whether stopped or killed.

Each test stops a sandbox of its own; the two are launched at once, so that they start side by side."""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.sandbox.running import SandboxKind, StartingSandbox

pytestmark = pytest.mark.sandbox
SIGNALS = (signal.SIGTERM, signal.SIGKILL)


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, StartingSandbox]]:
    """A sandbox for each signal (no seed), launched together."""
    root = tmp_path_factory.mktemp("stopped")
    starting = {signum: StartingSandbox(root / signum.name, SandboxKind(seed="empty")) for signum in SIGNALS}
    yield starting
    for sandbox in starting.values():  # a test that failed before its signal
        if sandbox.process.poll() is None:
            sandbox.process.terminate()
            sandbox.process.wait(60)


def listening_ports(processes: list[psutil.Process]) -> set[tuple[str, int]]:
    ports = set()
    for process in processes:
        for connection in process.net_connections(kind="inet"):
            if connection.status == psutil.CONN_LISTEN:
                ports.add((connection.laddr.ip, connection.laddr.port))
    return ports


def is_open(address: tuple[str, int]) -> bool:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(address) == 0


@pytest.mark.parametrize("signum, exit_code", [(signal.SIGTERM, 0), (signal.SIGKILL, -signal.SIGKILL)])
def test_nothing_left_behind(launched: dict[int, StartingSandbox], signum: int, exit_code: int) -> None:
    sandbox = launched[signum].wait()
    workdir = Path(re.search(r"work folder (\S+)", sandbox.log.read_text()).group(1))
    descendants = psutil.Process(sandbox.process.pid).children(recursive=True)
    ports = listening_ports(descendants)
    assert workdir.is_dir() and sandbox.kubeconfig.exists()
    assert len(ports) >= 6, ports  # etcd, apiserver, kcm, scheduler, virt-api, virt-controller, kwok

    assert sandbox.stop(signum) == exit_code
    _, alive = psutil.wait_procs(descendants, timeout=30)
    assert alive == []
    assert not workdir.exists()
    assert not sandbox.kubeconfig.exists()
    assert [port for port in ports if is_open(port)] == []
