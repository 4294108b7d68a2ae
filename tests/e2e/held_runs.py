"""Plugin runs a test steers while they go: one started in the background (to signal it, or to act on a line of
its stderr as soon as it is written), and a VM whose launcher pod becomes Ready only when the test says so.

- `RunningPlugin(sandbox, *args)`: `kubectl virt-expose ARGS` as `run_plugin` runs it, not waited for. kubectl
  execs the plugin, so the process started is the plugin's: a signal sent to it reaches the plugin. Its
  stderr is read as it comes (`wait_for_line`), so a chatty `-v 8` never fills the pipe.
- `NodeGate`: the VM's template asks for a node label (`nodeSelector`) no node has, so its pod stays Pending
  (no IP, no endpoint) until `open()` puts that label on a node: then the real scheduler binds the pod, and
  kwok and the simulated virt-handler run it as any other. No clock decides when the pod is Ready.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from tests.sandbox.running import VENV_BIN, RunningSandbox

GATE_NODE = "node-1"


class RunningPlugin:
    def __init__(self, sandbox: RunningSandbox, *args: str) -> None:
        environment = dict(sandbox.env, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.process = subprocess.Popen([str(VENV_BIN / "kubectl"), "virt-expose", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=environment)
        self.stderr: list[str] = []
        self._written = threading.Condition()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._written:
                self.stderr.append(line.rstrip("\n"))
                self._written.notify_all()
        with self._written:
            self._written.notify_all()

    def wait_for_line(self, matches: Callable[[str], bool], timeout: float = 60) -> str:
        """The first stderr line that `matches`, waiting for it to be written."""
        with self._written:
            self._written.wait_for(lambda: any(map(matches, self.stderr)) or not self._reader.is_alive(), timeout)
            found = next((line for line in self.stderr if matches(line)), None)
        if found is None:
            raise AssertionError(f"no such line within {timeout:g}s or before the plugin ended:\n"
                                 + "\n".join(self.stderr))
        return found

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        """Waits for the end: exit code, stdout, stderr."""
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code, out, "\n".join(self.stderr) + ("\n" if self.stderr else "")


class NodeGate:
    """A node label that the pods of the VMs made with `gated(...)` wait for."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.key = f"gate.test/{secrets.token_hex(4)}"

    def gated(self, vm: dict[str, Any]) -> dict[str, Any]:
        """The VM manifest with its pods held Pending until the gate opens."""
        vm["spec"]["template"]["spec"]["nodeSelector"] = {self.key: "open"}
        return vm

    def open(self) -> None:
        self.sandbox.kubectl("label", "node", GATE_NODE, f"{self.key}=open")

    def remove(self) -> None:
        self.sandbox.kubectl("label", "node", GATE_NODE, f"{self.key}-", check=False)
