"""A tiny OpenID Connect issuer for unit tests: the recording HTTPS server of fake_apiserver.py with a
certificate from a CA of its own (`IssuerPKI.ca`), answering discovery and the refresh-token grant.

The token endpoint checks the refresh token and the client's credentials (HTTP Basic, or in the form)
and hands out a new id-token (a JWT valid for an hour) and a new refresh token, counted (`id-token-N`
is not a JWT: the JWT carries `"n": N`; refresh tokens are `refresh-N`).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from tests.unit.access.fake_apiserver import PKI, FakeAPI, Issued, Seen, issue, serve
from tests.unit.access.side_by_side import jwt

REALM = "/realms/test"
CLIENT_ID, CLIENT_SECRET = "kube client", "client-s3cret"


@dataclass
class Issuer:
    api: FakeAPI
    ca: Issued
    url: str = ""
    refresh_token: str = "refresh-1"  # the one it takes now
    issued: list[str] = field(default_factory=list)  # id-tokens handed out
    basic_auth: bool = True  # False: refuse HTTP Basic client auth (the client must retry with the form)

    def token_requests(self) -> list[Seen]:
        return [seen for seen in self.api.seen if seen.method == "POST"]

    def answer_token(self, seen: Seen) -> tuple[int, Any]:
        form = {key: values[0] for key, values in parse_qs(seen.body.decode()).items()}
        client = _client_credentials(seen, form)
        if client is None or (client[0] == "basic" and not self.basic_auth):
            return 401, {"error": "invalid_client"}
        if client[1:] != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return 400, {"error": "invalid_grant", "error_description": "Token is not active"}
        count = len(self.issued) + 1
        self.refresh_token = f"refresh-{count + 1}"
        self.issued.append(jwt({"iss": self.url, "exp": int(time.time()) + 3600, "n": count}))
        return 200, {"access_token": f"access-{count}", "token_type": "Bearer", "expires_in": 3600,
                     "id_token": self.issued[-1], "refresh_token": self.refresh_token}


def _client_credentials(seen: Seen, form: dict[str, str]) -> tuple[str, str, str] | None:
    header = (seen.headers.get("Authorization") or [""])[0]
    if header.startswith("Basic "):
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        return "basic", unquote_plus(client_id), unquote_plus(secret)
    if "client_id" in form:
        return "form", form["client_id"], form.get("client_secret", "")
    return None


def serve_issuer(directory: Path, pki: PKI) -> Iterator[Issuer]:
    """An issuer at https://127.0.0.1:PORT/realms/test, its certificate from a CA of its own."""
    directory.mkdir(exist_ok=True)
    ca = issue("issuer-ca", ca=True)
    for api in serve(directory, pki, server=issue("issuer", issuer=ca, names=("localhost",), ips=("127.0.0.1",))):
        issuer = Issuer(api, ca)
        issuer.url = api.url + REALM
        api.route("GET", REALM + "/.well-known/openid-configuration", (200, {
            "issuer": issuer.url, "token_endpoint": issuer.url + "/protocol/openid-connect/token",
            "authorization_endpoint": issuer.url + "/protocol/openid-connect/auth"}))
        api.route("POST", REALM + "/protocol/openid-connect/token", issuer.answer_token)
        yield issuer
