"""A kubectl exec credential plugin (client.authentication.k8s.io/v1): prints an ExecCredential with the bearer
token kept in the file given as its argument, as cloud and OIDC credential helpers do. The sandbox's `exec-user`
context uses it (users.py), and so does virt-api, which starts before its ServiceAccount's token exists (its own
start-up takes seconds): given a wait, the plugin waits for the token file to appear, so that virt-api's first
request to the API server goes out once the sandbox has installed what virt-api needs and written the token.

Run by kubectl (and client-go, and the Python client) as `PYTHON exec_credential.py TOKEN_FILE EXPIRES
[WAIT_SECONDS]`; standalone (no imports from the repository), it reads KUBERNETES_EXEC_INFO only to answer in the
version asked for.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

API_VERSION = "client.authentication.k8s.io/v1"


def kubeconfig_user(token_file: Path, valid_for: datetime.timedelta, wait_seconds: int = 0) -> dict[str, Any]:
    """A kubeconfig user that gets its token from this plugin (run by this Python)."""
    expires = datetime.datetime.now(datetime.timezone.utc) + valid_for
    return {"exec": {
        "apiVersion": API_VERSION,
        "command": sys.executable,
        "args": [str(Path(__file__).resolve()), str(token_file), expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 *([str(wait_seconds)] if wait_seconds else [])],
        "interactiveMode": "Never",
        "provideClusterInfo": False,
    }}


def credential(token: str, expires: str) -> dict[str, object]:
    asked = json.loads(os.environ.get("KUBERNETES_EXEC_INFO") or "{}").get("apiVersion", API_VERSION)
    if asked != API_VERSION:
        raise SystemExit(f"exec_credential: only {API_VERSION} is supported, not {asked}")
    return {"apiVersion": API_VERSION, "kind": "ExecCredential",
            "status": {"token": token, "expirationTimestamp": expires}}


def read_token(token_file: Path, wait_seconds: float) -> str:
    """The token, once the file exists (the sandbox writes it whole, by a rename); looks every 50 ms until then,
    and gives up if the program that runs the plugin is gone."""
    deadline, parent = time.monotonic() + wait_seconds, os.getppid()
    while not token_file.exists():
        if time.monotonic() > deadline or os.getppid() != parent:
            raise SystemExit(f"exec_credential: no token in {token_file}")
        time.sleep(0.05)
    return token_file.read_text().strip()


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: exec_credential.py TOKEN_FILE EXPIRATION_TIMESTAMP [WAIT_SECONDS]", file=sys.stderr)
        return 2
    token = read_token(Path(argv[0]), float(argv[2]) if len(argv) == 3 else 0)
    print(json.dumps(credential(token, argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
