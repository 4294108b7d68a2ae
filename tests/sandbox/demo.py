"""make demo: the seed's procedure in one command, against the sandbox cluster, through kubectl's plugin
discovery, then a running VM exposed live; shows each command and its output, then stops the sandbox."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.sandbox.kinds import SandboxKind
from tests.sandbox.running import start_sandbox

BIN = Path(sys.executable).parent
SCENARIOS = [
    ("The seed chapter's five steps, in one command (the VM is stopped: verified statically)",
     "kubectl virt-expose vm example-vm -n example-namespace --name example-service --selector special=key "
     "--type NodePort --port 80 --target-port 9376 --node-port 30000"),
    ("The Service and the VM's template label it left",
     "kubectl get service example-service -n example-namespace"),
    ("", "kubectl get vm example-vm -n example-namespace -o jsonpath='{.spec.template.metadata.labels}{\"\\n\"}'"),
    ("Running it again changes nothing",
     "kubectl virt-expose vm example-vm -n example-namespace --name example-service --selector special=key "
     "--type NodePort --port 80 --target-port 9376 --node-port 30000"),
    ("A running VM, on the port it declares: selected by its pod's vmi.kubevirt.io/id, nothing on the VM "
     "changes, verified by its ready endpoint",
     "kubectl virt-expose vm web-vm -n example-namespace"),
    ("", "kubectl get endpointslices -n example-namespace -l kubernetes.io/service-name=web-vm"),
]


def show(title: str, command: str, env: dict[str, str]) -> int:
    if title:
        print(f"\n# {title}", flush=True)
    print(f"$ {command}", flush=True)
    return subprocess.run(shlex.split(command), env=env, check=False).returncode


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="virt-expose-demo-") as directory:
        print("Starting the sandbox cluster (real Kubernetes v1.37.2 and KubeVirt v1.7.0; see README.md)...",
              file=sys.stderr, flush=True)
        sandbox = start_sandbox(Path(directory), SandboxKind(seed="demo"))
        env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        try:
            failures = [command for title, command in SCENARIOS if show(title, command, env) != 0]
        finally:
            print("\nStopping the sandbox cluster.", file=sys.stderr, flush=True)
            sandbox.stop()
    if failures:
        print(f"demo: {len(failures)} command(s) failed: {failures}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
