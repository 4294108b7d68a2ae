"""Who each request is sent as: the Authorization header and client certificate of a Connection, kept
fresh for the life of the process as client-go keeps them.

- A token, username/password or client certificate from the kubeconfig or flags: used as is.
- An exec plugin (only when nothing else is set, over TLS): run at the first request; run again before a
  request once its `expirationTimestamp` has passed (kubectl 1.37.1 re-ran it before each request of one
  `get` when it came back already expired), and after a 401. client-go re-runs the plugin on a 401 but
  leaves that request failed (its next request carries the new credential); here the refused request is
  sent once more with the new credential (`Client` does that when `renew` says so). Other codes: no retry.
- `auth-provider: oidc`: the stored id-token while it is valid, else a refreshed one (`oidc.py`).

Every Client of the process shares these credentials (a batch run has several, in threads): refreshes
happen one at a time, and a 401 seen by two clients re-runs the plugin once.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from oc_virt_expose.access.credentials import ExecCredential
from oc_virt_expose.access.kubeconfig import Connection
from oc_virt_expose.model.records import repr_hiding

_refreshing = threading.Lock()  # one plugin run or token refresh at a time in the process


class Identity(NamedTuple):
    """What one request is sent with; repr() hides the credentials."""

    authorization: str = ""  # the header's value, "" for none
    cert_pem: bytes = b""  # a client certificate an exec plugin returned
    key_pem: bytes = b""
    expires: float | None = None  # epoch seconds; None: does not expire within the run
    renewable: bool = False  # an exec credential: a 401 is worth a new one

    def __repr__(self) -> str:
        return repr_hiding(self, ("authorization", "cert_pem", "key_pem"))


class Authenticator:
    """The current Identity of one connection; `log` gets the -v 6 lines of requests made to refresh it."""

    def __init__(self, connection: Connection, log: Callable[[str], None] | None = None) -> None:
        self.connection = connection
        self._log = log
        self._exec: ExecCredential | None = None
        self._identity: Identity | None = None

    def current(self) -> Identity:
        """The identity for the next request, refreshed first when it has expired."""
        identity = self._identity
        if identity is None or (identity.expires is not None and identity.expires <= time.time()):
            identity = self._identity = self._resolve(stale=None)
        return identity

    def renew(self, refused: Identity) -> bool:
        """After a 401 answered a request sent with `refused`: True when there is a new identity to retry with."""
        if not refused.renewable:
            return False
        if self._identity is refused:
            self._identity = self._resolve(stale=self._exec)
        return True

    def _resolve(self, *, stale: ExecCredential | None) -> Identity:
        c = self.connection
        if c.token:
            return Identity(authorization=f"Bearer {c.token}")
        if c.username or c.password:
            pair = base64.b64encode(f"{c.username}:{c.password}".encode()).decode()
            return Identity(authorization=f"Basic {pair}")
        if c.oidc is not None and c.uses_tls:
            return self._oidc()
        if c.exec is not None and c.uses_tls and not (c.cert_file or c.cert_data):
            return self._exec_identity(stale)
        return Identity()

    def _oidc(self) -> Identity:
        from oc_virt_expose.access.oidc import valid_id_token

        assert self.connection.oidc is not None
        with _refreshing:
            token, expires = valid_id_token(self.connection.oidc, timeout=self.connection.request_timeout,
                                            log=self._log)
        return Identity(authorization=f"Bearer {token}", expires=expires)

    def _exec_identity(self, stale: ExecCredential | None) -> Identity:
        from oc_virt_expose.access.credentials import exec_credential

        c = self.connection
        assert c.exec is not None
        with _refreshing:
            credential = self._exec = exec_credential(c.exec, self._cluster_info(), stale=stale)
        return Identity(authorization=f"Bearer {credential.token}" if credential.token else "",
                        cert_pem=credential.cert_pem, key_pem=credential.key_pem,
                        expires=credential.expires, renewable=True)

    def _cluster_info(self) -> dict[str, object]:
        from oc_virt_expose.access.credentials import cluster_info

        c = self.connection
        ca_pem = c.ca_data
        if not ca_pem and c.ca_file:
            with open(c.ca_file, "rb") as stream:
                ca_pem = stream.read()
        return cluster_info(c.server, tls_server_name=c.tls_server_name, insecure=c.insecure,
                            ca_pem=ca_pem, proxy_url=c.proxy_url)
