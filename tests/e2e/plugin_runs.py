"""The plugin run as users run it: `kubectl virt-expose ...` through kubectl's plugin discovery (PATH holds the
venv's bin, where `kubectl-virt_expose` is installed), over HTTPS against a sandbox with its real kubeconfig.

Every run passes `-v 6`, so each test also sees the API requests the plugin made (`Result.requests`, as
`VERB path?query`), taken out of `Result.stderr`; `verbose=False` runs without it. What the API server
served is in its audit log: `audited(counter)`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tests.sandbox.audit import RequestCounter
from tests.sandbox.running import VENV_BIN, RunningSandbox

REQUEST_LINE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) https?://[^/\s]+(\S*) (\d{3}) .* in \d+ milliseconds$")
PLUGIN_AGENT = "virt-expose/"
# The seed chapter's command (OpenShift Virtualization 8.3.3), after the VM's name.
SEED_FLAGS = ("--name", "example-service", "--selector", "special=key", "--type", "NodePort", "--port", "80",
              "--target-port", "9376", "--node-port", "30000")


@dataclass
class Result:
    """One run of the plugin: exit code, stdout, stderr without the request log, the requests."""

    code: int
    stdout: str
    stderr: str
    requests: list[str]

    def verbs(self) -> list[str]:
        """`GET virtualmachines`, `POST services`, `WATCH endpointslices`: the requests in short."""
        return [short_request(request) for request in self.requests]

    def __str__(self) -> str:  # shown by pytest when an assertion on a Result fails
        return f"exit {self.code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}--- requests\n" + \
            "\n".join(self.requests)


def resource_of(path: str) -> list[str]:
    """`/apis/kubevirt.io/v1/namespaces/n/virtualmachines/x/restart` -> [virtualmachines, x, restart]."""
    parts = [part for part in path.split("/") if part]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    return rest[2:] if rest[:1] == ["namespaces"] and len(rest) >= 3 else rest


def short_request(request: str) -> str:
    """`GET /apis/kubevirt.io/v1/namespaces/n/virtualmachines/x` -> `GET virtualmachines`; lists are
    `LIST`, watches `WATCH`, subresources by their name (`PUT restart`)."""
    verb, _, target = request.partition(" ")
    path, _, query = target.partition("?")
    rest = resource_of(path)
    resource = rest[2] if len(rest) == 3 else rest[0]
    if verb == "GET":
        verb = "WATCH" if "watch=true" in query else "GET" if len(rest) >= 2 else "LIST"
    return f"{verb} {resource}"


def audited(counter: RequestCounter, since: Any = None) -> list[str]:
    """The plugin's requests as the API server's audit log has them: `get virtualmachines`, `watch
    endpointslices`, `update virtualmachines/restart`."""
    found = []
    for request in counter.requests(user_agent=PLUGIN_AGENT, since=since):
        rest = resource_of(request.path)
        found.append(f"{request.verb} {rest[0]}" + (f"/{rest[2]}" if len(rest) == 3 else ""))
    return found


def run_plugin(sandbox: RunningSandbox, *args: str, verbose: bool = True, env: dict[str, str] | None = None,
               timeout: float = 180) -> Result:
    """`kubectl virt-expose ARGS` with the sandbox's kubeconfig (KUBECONFIG), through plugin discovery."""
    environment = dict(env or sandbox.env)
    environment["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    command = [str(VENV_BIN / "kubectl"), "virt-expose", *args, *(["-v", "6"] if verbose else [])]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout)
    requests, rest = [], []
    for line in done.stderr.splitlines(keepends=True):
        match = REQUEST_LINE.match(line.rstrip("\n"))
        if match:
            requests.append(f"{match.group(1)} {match.group(2)}")
        else:
            rest.append(line)
    return Result(done.returncode, done.stdout, "".join(rest), requests)


def one_error_line(result: Result, code: int = 1, warnings: Sequence[str] = ()) -> str:
    """The one line a failure prints (`error: ...`) after exactly `warnings` (`Warning: ...` lines), after
    checking the exit code and that there is no traceback."""
    assert result.code == code, result
    assert "Traceback" not in result.stderr, result
    *warned, last = result.stderr.splitlines() or [""]
    assert warned == [f"Warning: {warning}" for warning in warnings] and last.startswith("error: "), result
    return last
