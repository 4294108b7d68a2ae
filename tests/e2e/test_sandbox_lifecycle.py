"""The sandbox leaves nothing behind: no process, port, folder or kubeconfig, whether stopped or killed."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import psutil
import pytest

from tests.conftest import start_sandbox

pytestmark = pytest.mark.sandbox


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
def test_nothing_left_behind(tmp_path: Path, signum: int, exit_code: int) -> None:
    sandbox = start_sandbox(tmp_path, "ipv4", "empty")
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
