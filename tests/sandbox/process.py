"""Child processes of a sandbox: started so that they die with it, stopped in order, logged to files."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import urllib3

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
# The kernel sends PR_SET_PDEATHSIG's signal when the *thread* that started the child ends, and the sandbox
# starts its parts from short-lived threads: every child is started by this one thread, which lives as long as
# the process.
_STARTER = ThreadPoolExecutor(1, thread_name_prefix="process-starter")


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: the kernel kills it when the sandbox dies, even by SIGKILL."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setpgid(0, 0)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` different ports that nothing listens on now (the kernel's choice), for components to bind next.
    Their sockets stay bound until all are chosen: one closed first could be chosen again (an etcd got the
    same port for its clients and its peers)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(family, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port(host: str = "127.0.0.1") -> int:
    """A port that nothing listens on now, for a component to bind next."""
    return free_ports(1, host)[0]


class Child:
    """One supervised process; `restart=True` starts it again when it exits on its own."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: dict[str, str] | None,
                 restart: bool) -> None:
        self.name, self.argv, self.log, self.env, self.restart = name, list(argv), log, env, restart
        self.starts = 0
        self.popen = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        return _STARTER.submit(self._popen).result()

    def _popen(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as log:
            log.write(f"--- start {self.starts}: {' '.join(self.argv)}\n".encode())
            log.flush()
            return subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    env=self.env, preexec_fn=_die_with_parent, close_fds=True)

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def rss_mib(self) -> float:
        """Resident memory, in MiB (0 once exited)."""
        try:
            status = Path(f"/proc/{self.popen.pid}/status").read_text()
        except FileNotFoundError:
            return 0.0
        return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)

    def cpu_seconds(self) -> float:
        """CPU time used so far (user and system; 0 once exited)."""
        try:
            fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def check_running(self, waiting_for: str) -> None:
        """Raises, with the end of its log, if the process has exited (it will not get ready then)."""
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode} while waiting for {waiting_for}; "
                               f"log {self.log}:\n{self.tail(30)}")


def timed_out(what: str, child: Child | None) -> TimeoutError:
    return TimeoutError(f"{what}: not ready in time" + (f"; log {child.log}:\n{child.tail(30)}" if child else ""))


class Supervisor:
    """Starts children, restarts the ones that must stay up, and stops them all in reverse order.

    Every child's pid is also written to `pids` in the work folder, so the janitor (see janitor.py) can
    kill and wait for them if the sandbox itself is killed.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def spawn(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
              restart: bool = False) -> Child:
        child = Child(name, argv, self.logs / f"{name}.log", env, restart)
        with self._lock:
            self.children.append(child)
            self._record_pids()
        threading.Thread(target=self._watch, args=(child,), name=f"watch-{name}", daemon=True).start()
        return child

    def _watch(self, child: Child) -> None:
        while True:
            code = child.popen.wait()
            if self._stopping.is_set():
                return
            if not child.restart:
                print(f"sandbox: {child.name} exited with {code}; log: {child.log}", file=sys.stderr)
                return
            print(f"sandbox: {child.name} exited with {code}, restarting", file=sys.stderr)
            with self._lock:
                child.popen = child._start()
                self._record_pids()

    def _record_pids(self) -> None:
        pids = "".join(f"{c.popen.pid}\n" for c in self.children)
        (self.workdir / "pids").write_text(pids)

    def stop_all(self, grace: float = 5.0) -> None:
        """Stops the children: all but the first two (etcd, the API server) at once, with one grace period
        between SIGTERM and SIGKILL for all of them (virt-api alone takes all of it), then the API server,
        then etcd, each given the same grace; a child killed is said on stderr (the sandbox's log)."""
        self._stopping.set()
        foundation = self.children[:2]  # etcd, then the API server (controlplane.py), if a failed start got that far
        self._stop_at_once(self.children[2:][::-1], grace)
        for child in reversed(foundation):
            self._stop_at_once([child], grace)

    @staticmethod
    def _stop_at_once(children: list[Child], grace: float) -> None:
        deadline = time.monotonic() + grace
        for child in children:
            child.restart = False
            if child.popen.poll() is None:
                child.popen.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"sandbox: {child.name} did not stop within {grace:g}s of SIGTERM: killed", file=sys.stderr,
                      flush=True)
                child.popen.kill()
                child.popen.wait()


def poll_until(what: str, ready: Callable[[], bool], deadline: float, *children: Child) -> None:
    """Asks `ready()` every 50 ms (for what cannot be watched: a component's health endpoint, a webhook in
    effect) until it holds; fails at once with the log's tail if one of `children` exits, or at `deadline`."""
    while not ready():
        for child in children:
            child.check_running(what)
        if time.monotonic() > deadline:
            raise timed_out(what, children[-1] if children else None)
        time.sleep(0.05)


class HealthCheck:
    """A GET of a component's health endpoint that passes on 200 (on any answer with `any_answer`: the
    server is up)."""

    def __init__(self, url: str, ca_file: Path | None = None, *, any_answer: bool = False) -> None:
        self.url, self.any_answer = url, any_answer
        self._http = urllib3.PoolManager(ca_certs=str(ca_file) if ca_file else None, retries=False,
                                         timeout=urllib3.Timeout(connect=1, read=2))

    def __call__(self) -> bool:
        try:
            return self._http.request("GET", self.url).status == 200 or self.any_answer
        except urllib3.exceptions.HTTPError:  # refused, reset, TLS, timeout
            return False
