"""The one-file build against the pip-installed console script, side by side with farm-bench.

    python -m tests.packaging.bench [--runs N] [--kubeconfig FILE -- ARGS...]

Both run on the same interpreter, named explicitly (a pyenv shim on PATH would add ~50 ms to the one-file
program only), from the second run on (farm-bench's warm-up run unpacks the one-file program's cache), with
and without PYTHONDONTWRITEBYTECODE=1. Cases: `--help`, `--version`, completing VM names (kubeconfig, YAML,
the HTTP client and one request, against a local fake API server) and, with `--kubeconfig`, the real
command ARGS against that cluster.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from tests.packaging import build_dist
from tests.packaging.install import install_fresh_venv


class _VMs(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"kind": "VirtualMachineList", "items": [{"metadata": {"name": "bench-vm"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a completion that gave up (its budget ran out on a busy machine) closed the connection


def fake_cluster(directory: Path) -> Path:
    server = _Server(("127.0.0.1", 0), _VMs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
current-context: bench
contexts: [{{name: bench, context: {{cluster: bench, user: bench, namespace: bench}}}}]
clusters: [{{name: bench, cluster: {{server: "http://127.0.0.1:{server.server_address[1]}"}}}}]
users: [{{name: bench, user: {{}}}}]
""")
    return kubeconfig


def compare(name: str, one_file: list[str], installed: list[str], env: dict[str, str], runs: int) -> str:
    command = ["farm-bench", "-n", str(runs), "--vs", subprocess.list2cmdline(installed), "--", *one_file]
    output = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    figures = {}
    for figure in ("A wall s", "B wall s", "A/B wall", "A/B cpu"):
        match = re.search(rf"^{re.escape(figure)}\s+(\S+)\s+(\S+)", output, re.M)
        if not match:
            raise SystemExit(f"unexpected farm-bench output:\n{output}")
        figures[figure] = float(match.group(2))  # the median
    flag = " PYTHONDONTWRITEBYTECODE=1" if env.get("PYTHONDONTWRITEBYTECODE") else ""
    return (f"{name + flag:<60} one-file {figures['A wall s'] * 1000:5.0f} ms  installed "
            f"{figures['B wall s'] * 1000:5.0f} ms  wall ratio {figures['A/B wall']:.2f}  cpu ratio "
            f"{figures['A/B cpu']:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.packaging.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--kubeconfig", help="a cluster for the real command ARGS")
    parser.add_argument("args", nargs="*", help="a real command's arguments, e.g. vm example-vm --port 80 ...")
    options = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="virt-expose-bench-"))
    print(f"installing into {work} and building dist ...", file=sys.stderr)
    venv_bin = install_fresh_venv(work)
    executable, _ = build_dist.build(work / "dist", None)
    python = str(venv_bin / "python3")
    print(f"interpreter: {os.path.realpath(python)} ({sys.version.split()[0]}), both sides")
    base = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    base.update(VIRT_EXPOSE_CACHE=str(work / "cache"), KUBECONFIG=str(fake_cluster(work)))
    cases = [("--help", ["--help"]), ("--version", ["--version"]),
             ("completion: VM names from a (fake) API server", ["__complete", "vm", ""])]
    if options.kubeconfig:
        base["KUBECONFIG"] = options.kubeconfig
        cases = [cases[0], (f"real command: {' '.join(options.args)}", options.args)]
    for name, args in cases:
        for extra in ({}, {"PYTHONDONTWRITEBYTECODE": "1"}):
            print(compare(name, [python, str(executable), *args], [str(venv_bin / "oc-virt_expose"), *args],
                          {**base, **extra}, options.runs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
