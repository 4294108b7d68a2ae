"""A kubectl exec credential plugin for the sandbox's `exec-user` context: prints an ExecCredential
(client.authentication.k8s.io/v1) with the bearer token kept in the file given as its argument, as cloud
and OIDC credential helpers do.

Run by kubectl (and the Python client) as `PYTHON exec_credential.py TOKEN_FILE EXPIRES`; standalone (no
imports from the repository), it reads KUBERNETES_EXEC_INFO only to answer in the version asked for.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

API_VERSION = "client.authentication.k8s.io/v1"


def credential(token: str, expires: str) -> dict[str, object]:
    asked = json.loads(os.environ.get("KUBERNETES_EXEC_INFO") or "{}").get("apiVersion", API_VERSION)
    if asked != API_VERSION:
        raise SystemExit(f"exec_credential: only {API_VERSION} is supported, not {asked}")
    return {"apiVersion": API_VERSION, "kind": "ExecCredential",
            "status": {"token": token, "expirationTimestamp": expires}}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: exec_credential.py TOKEN_FILE EXPIRATION_TIMESTAMP", file=sys.stderr)
        return 2
    token = Path(argv[0]).read_text().strip()
    print(json.dumps(credential(token, argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
