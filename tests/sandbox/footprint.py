"""What a running sandbox holds (its processes, the ports they listen on, its work folder and kubeconfig), so
that a test or the pool can check that it left nothing behind once stopped or killed."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.sandbox.running import RunningSandbox


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


@dataclass(frozen=True)
class Footprint:
    processes: list[psutil.Process]  # the sandbox's descendants
    ports: set[tuple[str, int]]
    workdir: Path
    kubeconfig: Path

    @classmethod
    def of(cls, sandbox: RunningSandbox) -> Footprint:
        match = re.search(r"work folder (\S+)", sandbox.log.read_text())
        assert match, f"the sandbox did not say where its work folder is ({sandbox.log})"
        descendants = psutil.Process(sandbox.process.pid).children(recursive=True)
        return cls(descendants, listening_ports(descendants), Path(match.group(1)), sandbox.kubeconfig)

    def assert_held(self) -> None:
        assert self.workdir.is_dir() and self.kubeconfig.exists()
        assert len(self.ports) >= 6, self.ports  # etcd, apiserver, kcm, scheduler, virt-api, virt-controller, kwok

    def assert_released(self) -> None:
        """Once the sandbox's own process has ended: its descendants end too, and what they held is gone."""
        _, alive = psutil.wait_procs(self.processes, timeout=30)
        assert alive == []
        assert not self.workdir.exists()
        assert not self.kubeconfig.exists()
        assert [port for port in self.ports if is_open(port)] == []
