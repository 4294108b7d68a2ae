"""`auth-provider: oidc` users: an unexpired id-token is sent as is; an expired one (or one within 10 s of
its `exp`) is refreshed through the issuer (discovery, then the token endpoint with the refresh token and
the client's credentials) and the new tokens are written back to the kubeconfig file the user came from.
Side by side with kubectl 1.37.1 where it can be compared: what reached the issuer and the API server,
and what the kubeconfig holds afterwards."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml

from oc_virt_expose.access import oidc
from oc_virt_expose.access.client import Client
from oc_virt_expose.access.kubeconfig import load_connection
from oc_virt_expose.errors import VirtExposeError
from oc_virt_expose.model.settings import ConnectionFlags
from tests.unit.access.fake_apiserver import PKI, FakeAPI
from tests.unit.access.oidc_issuer import CLIENT_ID, CLIENT_SECRET, Issuer, serve_issuer
from tests.unit.access.side_by_side import (
    answer_both,
    auth_of,
    b64,
    environment,
    jwt,
    run_kubectl,
    run_plugin,
    write_kubeconfig,
)

COMMENT = "# kept by virt-expose, dropped by kubectl\n"


@pytest.fixture(autouse=True)
def nothing_refreshed_yet() -> Iterator[None]:
    oidc._refreshed.clear()
    yield
    oidc._refreshed.clear()


@pytest.fixture
def issuer(tmp_path: Path, pki: PKI) -> Iterator[Issuer]:
    yield from serve_issuer(tmp_path / "issuer", pki)


def oidc_user(issuer: Issuer, *, expires_in: float, **overrides: Any) -> dict[str, Any]:
    config = {"idp-issuer-url": issuer.url, "client-id": CLIENT_ID, "client-secret": CLIENT_SECRET,
              "id-token": jwt({"iss": issuer.url, "exp": int(time.time() + expires_in)}),
              "refresh-token": "refresh-1", "idp-certificate-authority-data": b64(issuer.ca.cert_pem),
              "extra-scopes": "groups"}
    config.update(overrides)
    return {"auth-provider": {"name": "oidc", "config": {key: value for key, value in config.items()
                                                         if value is not None}}}


def write_with_comment(path: Path, api: FakeAPI, user: dict[str, Any], pki: PKI) -> Path:
    write_kubeconfig(path, api.url, user, pki)
    path.write_text(COMMENT + path.read_text())
    return path


def user_config(path: Path) -> dict[str, Any]:
    users = yaml.safe_load(path.read_text())["users"]
    return dict(users[0]["user"]["auth-provider"]["config"])


def get_once(path: Path, environ: dict[str, str] | None = None) -> None:
    with Client(load_connection(ConnectionFlags(kubeconfig=str(path)), environ or {})) as client:
        client.get("/version")


def issuer_calls(issuer: Issuer) -> list[tuple[str, str, str, dict[str, list[str]]]]:
    """What reached the issuer: method, path, Authorization, form."""
    return [(seen.method, seen.path, (seen.headers.get("Authorization") or [""])[0],
             parse_qs(seen.body.decode())) for seen in issuer.api.seen]


def test_an_unexpired_id_token_is_sent_as_is(api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path) -> None:
    answer_both(api)
    path = write_with_comment(tmp_path / "config", api, oidc_user(issuer, expires_in=60), pki)
    before = path.read_text()
    get_once(path)
    assert api.seen[0].headers["Authorization"] == [f"Bearer {user_config(path)['id-token']}"]
    assert issuer.api.seen == []
    assert path.read_text() == before


def test_an_expired_id_token_is_refreshed_and_written_back_as_kubectl_does(
        api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path) -> None:
    answer_both(api)
    results = {}
    for name, run in (("kubectl", run_kubectl), ("plugin", run_plugin)):
        (tmp_path / name).mkdir()
        path = write_with_comment(tmp_path / name / "config", api, oidc_user(issuer, expires_in=-5), pki)
        original = path.read_text()
        api.seen.clear()
        issuer.api.seen.clear()
        issuer.refresh_token = "refresh-1"
        done = run(path, env=environment(tmp_path / name))
        assert done.returncode == 0, done.stderr
        results[name] = (issuer_calls(issuer), [auth_of(seen) for seen in api.seen], user_config(path))
        assert results[name][1] == [{"Authorization": [f"Bearer {issuer.issued[-1]}"]}]
        assert results[name][2]["id-token"] == issuer.issued[-1]
        assert results[name][2]["refresh-token"] == issuer.refresh_token
    assert results["plugin"][0] == results["kubectl"][0]
    assert [call[:2] for call in results["plugin"][0]] == [("GET", "/realms/test/.well-known/openid-configuration"),
                                                           ("POST", "/realms/test/protocol/openid-connect/token")]
    assert results["plugin"][0][1][2:] == ("Basic a3ViZStjbGllbnQ6Y2xpZW50LXMzY3JldA==",  # kube+client:client-s3cret
                                           {"grant_type": ["refresh_token"], "refresh_token": ["refresh-1"]})
    written = path.read_text()  # the plugin's: only the two token values changed
    assert written.startswith(COMMENT)
    assert written.replace(issuer.issued[-1], "ID").replace(issuer.refresh_token, "RT") == \
        original.replace(yaml.safe_load(original)["users"][0]["user"]["auth-provider"]["config"]["id-token"],
                         '"ID"').replace("refresh-1", '"RT"')
    api.seen.clear()
    issuer.api.seen.clear()
    oidc._refreshed.clear()
    get_once(path)  # the next run uses the written token: no issuer
    assert issuer.api.seen == [] and api.seen[0].headers["Authorization"] == [f"Bearer {issuer.issued[-1]}"]


def test_a_token_within_ten_seconds_of_expiry_is_refreshed(
        api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path) -> None:
    answer_both(api)
    path = write_kubeconfig(tmp_path / "config", api.url, oidc_user(issuer, expires_in=5), pki)
    get_once(path)
    assert len(issuer.token_requests()) == 1
    assert api.seen[0].headers["Authorization"] == [f"Bearer {issuer.issued[0]}"]


def test_client_credentials_go_in_the_form_when_basic_auth_is_refused_as_by_kubectl(
        api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path) -> None:
    answer_both(api)
    issuer.basic_auth = False
    calls = {}
    for name, run in (("kubectl", run_kubectl), ("plugin", run_plugin)):
        (tmp_path / name).mkdir()
        path = write_kubeconfig(tmp_path / name / "config", api.url, oidc_user(issuer, expires_in=-5), pki)
        issuer.api.seen.clear()
        issuer.refresh_token = "refresh-1"
        done = run(path, env=environment(tmp_path / name))
        assert done.returncode == 0, done.stderr
        calls[name] = issuer_calls(issuer)
    assert calls["plugin"] == calls["kubectl"]
    assert calls["plugin"][2][2:] == ("", {"client_id": [CLIENT_ID], "client_secret": [CLIENT_SECRET],
                                           "grant_type": ["refresh_token"], "refresh_token": ["refresh-1"]})


def test_the_tokens_go_back_to_the_file_the_user_came_from(
        api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path) -> None:
    answer_both(api)
    changed = {}
    for name, run in (("kubectl", run_kubectl), ("plugin", run_plugin)):
        (tmp_path / name).mkdir()
        first = write_kubeconfig(tmp_path / name / "first", api.url, {"token": "unused"}, pki)
        document = yaml.safe_load(first.read_text())
        document["users"] = []  # the user lives in the second file only
        first.write_text(yaml.safe_dump(document))
        second = write_kubeconfig(tmp_path / name / "second", api.url, oidc_user(issuer, expires_in=-5), pki)
        before = {path: path.read_text() for path in (first, second)}
        issuer.refresh_token = "refresh-1"
        done = run(None, env=environment(tmp_path / name, KUBECONFIG=f"{first}{os.pathsep}{second}"))
        assert done.returncode == 0, done.stderr
        changed[name] = [path.name for path in (first, second) if path.read_text() != before[path]]
        assert user_config(second)["id-token"] == issuer.issued[-1]
    assert changed == {"kubectl": ["second"], "plugin": ["second"]}


def test_the_issuer_is_verified_with_its_own_ca_or_the_system_roots(
        api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answer_both(api)
    untrusted = write_kubeconfig(tmp_path / "untrusted", api.url,
                                 oidc_user(issuer, expires_in=-5, **{"idp-certificate-authority-data": None}), pki)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))  # the system trusts nothing
    with pytest.raises(VirtExposeError) as caught:
        get_once(untrusted)
    assert str(caught.value) == (
        f'cannot refresh the id-token of user "u" (auth-provider oidc) through the issuer {issuer.url}: TLS'
        " certificate verification failed (unable to get local issuer certificate) against the system's roots:"
        " set idp-certificate-authority-data (or idp-certificate-authority) in users[u].user.auth-provider.config")
    kubectl = run_kubectl(untrusted, env=environment(tmp_path, SSL_CERT_FILE=str(tmp_path / "none.pem")))
    assert kubectl.returncode == 1 and "x509: certificate signed by unknown authority" in kubectl.stderr
    assert issuer.token_requests() == [] and api.seen == []
    (tmp_path / "issuer-ca.pem").write_bytes(issuer.ca.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "issuer-ca.pem"))  # now the system trusts it
    get_once(untrusted)
    with_file = write_kubeconfig(tmp_path / "with-file", api.url, oidc_user(
        issuer, expires_in=-5, **{"idp-certificate-authority-data": None,
                                  "idp-certificate-authority": str(tmp_path / "issuer-ca.pem")}), pki)
    monkeypatch.delenv("SSL_CERT_FILE")
    issuer.refresh_token = "refresh-1"
    get_once(with_file)
    assert len(issuer.token_requests()) == 2
    assert [seen.headers["Authorization"] for seen in api.seen] == [[f"Bearer {token}"] for token in issuer.issued]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"refresh-token": None}, 'the id-token of user "u" (auth-provider oidc) has expired and there is no'
                              " refresh-token to renew it: log in again"),
    ({"id-token": "not-a-jwt"}, 'the id-token of user "u" (auth-provider oidc) is not a valid JWT'),
    ({"refresh-token": "revoked"}, "its token endpoint answered 400 (invalid_grant Token is not active); log in again"),
    ({"client-secret": "wrong"}, "its token endpoint answered 401 (invalid_client); log in again"),
    ({"client-id": None}, 'the oidc auth-provider of user "u" needs client-id (kubectl: Must provide client-id)'),
])
def test_refresh_failures_are_one_line_without_secrets(api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path,
                                                       overrides: dict[str, Any], message: str) -> None:
    user = oidc_user(issuer, expires_in=-5, **overrides)
    path = write_kubeconfig(tmp_path / "config", api.url, user, pki)
    before = path.read_text()
    with pytest.raises(VirtExposeError) as caught:
        get_once(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    for secret in ("refresh-1", "revoked", CLIENT_SECRET, "wrong", user["auth-provider"]["config"].get("id-token")):
        assert secret not in str(caught.value)
    assert path.read_text() == before and api.seen == []


def test_an_answer_without_an_id_token(api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path) -> None:
    issuer.api.route("POST", "/realms/test/protocol/openid-connect/token",
                     (200, {"access_token": "a", "token_type": "Bearer", "refresh_token": "r"}))
    path = write_kubeconfig(tmp_path / "config", api.url, oidc_user(issuer, expires_in=-5), pki)
    with pytest.raises(VirtExposeError, match="its answer has no id_token"):
        get_once(path)


def test_another_writer_holding_the_lock_file(api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """kubectl's protocol: FILE.lock, made exclusively. One held by someone else is waited for, then named,
    before the issuer is asked (a refresh token it rotates would be lost with the tokens not written)."""
    from oc_virt_expose.access import kubeconfig_write

    answer_both(api)
    monkeypatch.setattr(kubeconfig_write, "LOCK_WAIT", 0.2)
    path = write_kubeconfig(tmp_path / "config", api.url, oidc_user(issuer, expires_in=-5), pki)
    before = path.read_text()
    Path(f"{path}.lock").touch()
    with pytest.raises(VirtExposeError, match=rf"{path}\.lock exists \(kubectl or another program"):
        get_once(path)
    assert path.read_text() == before and Path(f"{path}.lock").exists()
    assert issuer.api.seen == []
    os.unlink(f"{path}.lock")
    get_once(path)
    assert not Path(f"{path}.lock").exists() and user_config(path)["id-token"] == issuer.issued[-1]


def test_without_an_id_token_key_the_file_is_rewritten_whole(
        api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path) -> None:
    answer_both(api)
    link = tmp_path / "link"
    target = write_with_comment(tmp_path / "config", api, oidc_user(issuer, expires_in=0, **{"id-token": None}),
                                pki)
    target.chmod(0o600)
    link.symlink_to(target)
    expected = yaml.safe_load(target.read_text())
    get_once(link)
    config = expected["users"][0]["user"]["auth-provider"]["config"]
    config.update({"id-token": issuer.issued[-1], "refresh-token": issuer.refresh_token})
    assert yaml.safe_load(target.read_text()) == expected
    assert not target.read_text().startswith(COMMENT)  # PyYAML's round trip: comments are lost
    assert link.is_symlink() and (target.stat().st_mode & 0o777) == 0o600


def test_block_scalar_tokens_fall_back_to_the_round_trip(api: FakeAPI, pki: PKI, issuer: Issuer,
                                                         tmp_path: Path) -> None:
    answer_both(api)
    path = write_kubeconfig(tmp_path / "config", api.url, oidc_user(issuer, expires_in=-5), pki)
    old = user_config(path)["id-token"]
    path.write_text(path.read_text().replace(f"id-token: {old}", f"id-token: >-\n          {old}"))
    assert user_config(path)["id-token"] == old
    get_once(path)
    assert user_config(path) == {**oidc_user(issuer, expires_in=0)["auth-provider"]["config"],
                                 "id-token": issuer.issued[-1], "refresh-token": issuer.refresh_token}


def test_parallel_clients_refresh_once(api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path) -> None:
    """A batch run's workers share one refresh (and one write back)."""
    answer_both(api)
    path = write_kubeconfig(tmp_path / "config", api.url, oidc_user(issuer, expires_in=-5), pki)
    connection = load_connection(ConnectionFlags(kubeconfig=str(path)), {})
    start = threading.Barrier(4)

    def work() -> None:
        with Client(connection) as client:
            start.wait()
            client.get("/version")

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(issuer.token_requests()) == 1
    assert {seen.headers["Authorization"][0] for seen in api.seen} == {
        f"Bearer {issuer.issued[0]}"}
    assert len(api.seen) == 4


def test_a_token_another_process_refreshed_meanwhile_is_used(
        api: FakeAPI, pki: PKI, issuer: Issuer, tmp_path: Path) -> None:
    """The file is read again under its lock before the issuer is asked (kubectl does not: it would spend
    the refresh token a second time)."""
    answer_both(api)
    path = write_kubeconfig(tmp_path / "config", api.url, oidc_user(issuer, expires_in=-5), pki)
    connection = load_connection(ConnectionFlags(kubeconfig=str(path)), {})
    fresh = jwt({"iss": issuer.url, "exp": int(time.time()) + 600, "by": "another process"})
    path.write_text(path.read_text().replace("refresh-1", "refresh-from-elsewhere").replace(
        user_config(path)["id-token"], fresh))
    with Client(connection) as client:
        client.get("/version")
    assert issuer.api.seen == []
    assert api.seen[0].headers["Authorization"] == [f"Bearer {fresh}"]
