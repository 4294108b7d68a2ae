"""With -v 6, 8 and 9, against token, client-certificate, basic-auth, exec and oidc users, no token, key,
password, refresh token, client secret or exec output appears on stdout or stderr: the plugin's command
line run against the recording server, once answered and once refused (401)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.access.fake_apiserver import PKI, FakeAPI
from tests.unit.access.oidc_issuer import CLIENT_ID, CLIENT_SECRET, Issuer, serve_issuer
from tests.unit.access.side_by_side import LISTED, answer_both, b64, environment, exec_user, jwt, run_plugin, runs
from tests.unit.access.side_by_side import write_kubeconfig as write

UNAUTHORIZED = (401, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Unauthorized",
                      "code": 401, "message": "Unauthorized"})
USERS = ["token", "client-certificate", "basic-auth", "exec", "oidc"]


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> Iterator[Issuer]:
    yield from serve_issuer(tmp_path_factory.mktemp("issuer"), pki)


def user_and_secrets(kind: str, directory: Path, pki: PKI, issuer: Issuer) -> tuple[dict[str, Any], list[str]]:
    """A kubeconfig user of that kind, and the strings that must never be printed for it."""
    if kind == "token":
        return {"token": "token-SECRET-value"}, ["token-SECRET-value"]
    if kind == "client-certificate":
        key_lines = [line for line in pki.client.key_pem.decode().splitlines() if "-----" not in line]
        data = b64(pki.client.key_pem)
        return {"client-certificate-data": b64(pki.client.cert_pem), "client-key-data": data}, [*key_lines, data]
    if kind == "basic-auth":
        pair = base64.b64encode(b"basic-user:basic-PASSWORD").decode()
        return {"username": "basic-user", "password": "basic-PASSWORD"}, ["basic-PASSWORD", pair]
    if kind == "exec":
        user, _counter = exec_user(directory)
        return user, ["exec-token-", "ExecCredential", "expirationTimestamp"]
    issuer.refresh_token = "refresh-SECRET-1"
    old = jwt({"iss": issuer.url, "exp": 1, "secret": "old-id-token"})
    pair = base64.b64encode(f"kube+client:{CLIENT_SECRET}".encode()).decode()
    config = {"idp-issuer-url": issuer.url, "client-id": CLIENT_ID, "client-secret": CLIENT_SECRET, "id-token": old,
              "refresh-token": "refresh-SECRET-1", "idp-certificate-authority-data": b64(issuer.ca.cert_pem)}
    return {"auth-provider": {"name": "oidc", "config": config}}, [
        old, old.split(".")[1], "refresh-SECRET-1", CLIENT_SECRET, pair, "refresh-", "eyJ"]


@pytest.mark.parametrize("verbosity", ["6", "8", "9"])
@pytest.mark.parametrize("kind", USERS)
def test_no_secret_is_printed(api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path, kind: str,
                              verbosity: str) -> None:
    answer_both(api)
    user, secrets = user_and_secrets(kind, tmp_path, pki, issuer)
    done = run_plugin(write(tmp_path / "config", api.url, user, pki), env=environment(tmp_path), verbosity=verbosity)
    assert done.returncode == 0, done.stderr
    assert_no_secret(done.stdout + done.stderr, secrets)
    assert api.seen[0].headers.get("Authorization") or api.seen[0].peer == "alice"  # credentials were sent
    if verbosity != "6" and kind != "client-certificate":  # the header is logged, masked
        assert f"Authorization: {'Basic' if kind == 'basic-auth' else 'Bearer'} <masked>" in done.stderr
    if kind == "oidc":
        assert "/protocol/openid-connect/token 200 OK in" in done.stderr  # the refresh was logged, not its body
        assert issuer.issued[-1] not in done.stdout + done.stderr


@pytest.mark.parametrize("kind", USERS)
def test_no_secret_is_printed_when_the_server_refuses(api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path,
                                                      kind: str) -> None:
    for path in LISTED:
        api.route("GET", path, UNAUTHORIZED)
    user, secrets = user_and_secrets(kind, tmp_path, pki, issuer)
    done = run_plugin(write(tmp_path / "config", api.url, user, pki), env=environment(tmp_path), verbosity="9")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("error: You must be logged in to the server (Unauthorized)")
    assert_no_secret(done.stdout + done.stderr, secrets)
    if kind == "exec":
        assert runs(tmp_path / "exec_runs") == 2 and len(api.seen) == 2  # fetched again and retried once


def assert_no_secret(output: str, secrets: list[str]) -> None:
    found = [secret for secret in secrets if secret in output]
    assert not found, f"printed: {found}\n{output}"
