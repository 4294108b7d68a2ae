"""Running the real kubectl (the venv's, 1.37.1) and the plugin against the same recording server
(fake_apiserver.py), to compare what reached it: `kubectl get --raw /version -v 8` and
`kubectl-virt_expose list -n ns -v 8` (one LIST of VMs, answered empty), each with the same kubeconfig.
Also the pieces those tests share: kubeconfig files, an exec credential plugin that counts its runs,
unsigned JWTs.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.unit.access.fake_apiserver import PKI, FakeAPI, Seen

BIN = Path(sys.executable).parent
KUBECTL = BIN / "kubectl"
PLUGIN = BIN / "kubectl-virt_expose"
NAMESPACE = "ns"
LISTED = ("/apis/kubevirt.io/v1/namespaces/ns/virtualmachines", "/api/v1/namespaces/ns/services",
          "/apis/kubevirt.io/v1/namespaces/ns/virtualmachineinstances",
          "/apis/route.openshift.io/v1/namespaces/ns/routes")
AUTH_HEADERS = ("Authorization", "Impersonate-User", "Impersonate-Uid", "Impersonate-Group")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_kubeconfig(path: Path, server: str, user: dict[str, Any], pki: PKI, *,
                     cluster: dict[str, Any] | None = None, ca: bool = True) -> Path:
    """A kubeconfig with one context `c` (cluster `k`, user `u`), trusting the test CA unless `ca` is False."""
    entry = {"server": server, **({"certificate-authority-data": b64(pki.ca.cert_pem)} if ca else {}),
             **(cluster or {})}
    document = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
                "clusters": [{"name": "k", "cluster": entry}], "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def answer_both(api: FakeAPI) -> None:
    """Routes for what kubectl and the plugin ask in these comparisons."""
    api.route("GET", "/version", (200, {"major": "1", "minor": "37"}))
    for path in LISTED:
        api.route("GET", path, (200, {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                                      "items": []}))


def environment(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: a home of its own (kubectl's cache), PATH, and `extra`."""
    return {"HOME": str(home), "PATH": os.environ.get("PATH", ""), **extra}


def run_kubectl(kubeconfig: Path | None, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`kubectl get --raw /version -v 8 ARGS` (with --kubeconfig unless None: then KUBECONFIG decides)."""
    files = ["--kubeconfig", str(kubeconfig)] if kubeconfig else []
    return subprocess.run([str(KUBECTL), *files, "get", "--raw", "/version", "-v", "8", *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def run_plugin(kubeconfig: Path | None, *args: str, env: dict[str, str],
               verbosity: str = "8") -> subprocess.CompletedProcess[str]:
    """`kubectl-virt_expose list -n ns -v 8 ARGS`, as kubectl's plugin discovery would run it."""
    files = ["--kubeconfig", str(kubeconfig)] if kubeconfig else []
    return subprocess.run([str(PLUGIN), "list", "-n", NAMESPACE, *files, "-v", verbosity, *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def auth_of(seen: Seen) -> dict[str, list[str]]:
    """The headers that say who a request is from: Authorization and Impersonate-* (extra included)."""
    return {key.title(): sorted(values) for key, values in seen.headers.items()
            if key.title() in AUTH_HEADERS or key.lower().startswith("impersonate-extra-")}


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT (the client never checks signatures: the API server does)."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


EXEC_PLUGIN = """
import datetime, json, os, sys
counter, life = sys.argv[1], float(sys.argv[2])
runs = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
with open(counter, "w") as stream:
    stream.write(str(runs))
status = {"token": f"exec-token-{runs}"}
if life:
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=life * runs)
    status["expirationTimestamp"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}))
"""


def exec_user(directory: Path, *, life: float = 0) -> tuple[dict[str, Any], Path]:
    """A kubeconfig user whose exec plugin hands out `exec-token-N` on its Nth run (N counted in the
    returned file), expiring `life` x N seconds after issue (negative: already expired; 0: no expiry)."""
    script, counter = directory / "exec_plugin.py", directory / "exec_runs"
    script.write_text(EXEC_PLUGIN)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(script), str(counter), str(life)], "interactiveMode": "Never"}}
    return user, counter


def runs(counter: Path) -> int:
    return int(counter.read_text()) if counter.exists() else 0
