"""Exec credential plugins fetched again, as client-go fetches them: before a request once the credential's
expirationTimestamp has passed, and after a 401 (then, unlike kubectl, the refused request is sent once
more). Checked against the recording server, and side by side with kubectl 1.37.1."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oc_virt_expose.access import auth, credentials
from oc_virt_expose.access.client import Client
from oc_virt_expose.access.credentials import ExecConfig, parse_exec_config
from oc_virt_expose.errors import ClusterError
from tests.unit.access.fake_apiserver import PKI, VM, FakeAPI, Seen, connect, issue
from tests.unit.access.side_by_side import (
    KUBECTL,
    answer_both,
    auth_of,
    environment,
    exec_user,
    run_kubectl,
    run_plugin,
    runs,
    write_kubeconfig,
)

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Unauthorized",
                "code": 401, "message": "Unauthorized"}


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    credentials._cache.clear()
    yield
    credentials._cache.clear()


def plugin(tmp_path: Path, life: float = 0) -> tuple[ExecConfig, Path]:
    user, counter = exec_user(tmp_path, life=life)
    config = parse_exec_config(user["exec"], {}, 'user "u"')
    assert config is not None
    return config, counter


def refuse(token: str, ok: tuple[int, Any] = (200, {})):  # type: ignore[no-untyped-def]
    """A route that answers 401 to requests carrying `token` and `ok` to others."""
    def answer(seen: Seen) -> tuple[int, Any]:
        return (401, UNAUTHORIZED) if seen.headers.get("Authorization") == [f"Bearer {token}"] else ok

    return answer


def tokens(api: FakeAPI) -> list[str]:
    return [seen.headers.get("Authorization", [""])[0] for seen in api.seen]


def test_an_expired_credential_is_fetched_before_each_request_as_kubectl_does(
        api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    config, counter = plugin(tmp_path, life=-10)  # expired when issued: good for no later request
    api.route("GET", VM, (200, {}))
    with Client(connect(api, pki, token="", exec=config)) as client:
        client.get(VM)
        client.get(VM)
    assert tokens(api) == ["Bearer exec-token-1", "Bearer exec-token-2"]
    assert runs(counter) == 2
    # kubectl: each request of one `get pods` (discovery, then the list) ran the plugin again
    api.seen.clear()
    discovery(api)
    (tmp_path / "kubectl").mkdir()
    user, kubectl_counter = exec_user(tmp_path / "kubectl", life=-10)
    kubeconfig = write_kubeconfig(tmp_path / "config", api.url, user, pki)
    listed = subprocess.run([str(KUBECTL), "--kubeconfig", str(kubeconfig), "get", "pods", "-n", "default",
                             "--cache-dir", str(tmp_path / "cache")], env=environment(tmp_path),
                            capture_output=True, text=True, check=False)
    assert listed.returncode == 0, listed.stderr
    assert len(api.seen) >= 3
    assert len(set(tokens(api))) == len(api.seen)  # a credential of its own for every request
    assert runs(kubectl_counter) >= len(api.seen)  # (its discovery runs in parallel: sometimes one run more)


def discovery(api: FakeAPI) -> None:
    """Just enough discovery for `kubectl get pods`."""
    api.route("GET", "/version", (200, {"major": "1", "minor": "37"}))
    api.route("GET", "/api", (200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}))
    api.route("GET", "/apis", (200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}))
    api.route("GET", "/api/v1", (200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ["get", "list"]}]}))
    api.route("GET", "/api/v1/namespaces/default/pods",
              (200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}))


def test_a_credential_that_expires_during_the_run_is_fetched_again(
        api: FakeAPI, pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, counter = plugin(tmp_path, life=600)
    api.route("GET", VM, (200, {}))

    class Later:
        offset = 0.0

        @staticmethod
        def time() -> float:
            return time.time() + Later.offset

    monkeypatch.setattr(auth, "time", Later)
    monkeypatch.setattr(credentials, "time", Later)
    with Client(connect(api, pki, token="", exec=config)) as client:
        client.get(VM)
        Later.offset = 300  # still valid: the plugin is not run
        client.get(VM)
        Later.offset = 601  # expired meanwhile
        client.get(VM)
        client.get(VM)
    assert tokens(api) == ["Bearer exec-token-1"] * 2 + ["Bearer exec-token-2"] * 2
    assert runs(counter) == 2


def test_a_401_runs_the_plugin_again_and_sends_the_request_once_more(
        api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    config, counter = plugin(tmp_path)
    api.route("GET", VM, refuse("exec-token-1", (200, {"kind": "VirtualMachine"})))
    with Client(connect(api, pki, token="", exec=config)) as client:
        assert client.get(VM) == {"kind": "VirtualMachine"}
        assert client.requests == 2
        client.get(VM)
    assert tokens(api) == ["Bearer exec-token-1", "Bearer exec-token-2", "Bearer exec-token-2"]
    assert runs(counter) == 2
    assert api.connections == 1  # the refused request's body was read: the connection carried the retry


def test_a_write_and_a_watch_are_retried_too(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    """A 401 comes before the server does anything with a request: resending a write is safe."""
    config, counter = plugin(tmp_path)
    api.route("POST", "/api/v1/namespaces/ns/services", refuse("exec-token-1", (201, {"kind": "Service"})))
    api.route("GET", "/api/v1/namespaces/ns/services", refuse("exec-token-2", (200, [{"type": "ADDED"}])))
    with Client(connect(api, pki, token="", exec=config)) as client:
        assert client.create("/api/v1/namespaces/ns/services", {"kind": "Service"}) == {"kind": "Service"}
        assert [event["type"] for event in client.watch("/api/v1/namespaces/ns/services")] == ["ADDED"]
    assert [seen.body for seen in api.seen[:2]] == [b'{"kind":"Service"}'] * 2
    assert tokens(api) == ["Bearer exec-token-1", "Bearer exec-token-2", "Bearer exec-token-2",
                           "Bearer exec-token-3"]
    assert runs(counter) == 3


def test_a_second_401_is_the_answer(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    config, counter = plugin(tmp_path)
    api.route("GET", VM, (401, UNAUTHORIZED))
    with Client(connect(api, pki, token="", exec=config)) as client, pytest.raises(ClusterError) as caught:
        client.get(VM)
    assert caught.value.status == 401
    assert "exec-token" not in str(caught.value)
    assert (len(api.seen), runs(counter)) == (2, 2)


@pytest.mark.parametrize("status", [403, 500])
def test_other_refusals_do_not_run_the_plugin_again(api: FakeAPI, pki: PKI, tmp_path: Path, status: int) -> None:
    config, counter = plugin(tmp_path)
    api.route("GET", VM, (status, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": status,
                                   "message": "no"}))
    with Client(connect(api, pki, token="", exec=config)) as client, pytest.raises(ClusterError):
        client.get(VM)
    assert (len(api.seen), runs(counter)) == (1, 1)


def test_a_fixed_token_is_not_retried(api: FakeAPI, pki: PKI) -> None:
    api.route("GET", VM, (401, UNAUTHORIZED))
    with Client(connect(api, pki)) as client, pytest.raises(ClusterError):
        client.get(VM)
    assert len(api.seen) == 1


def test_clients_of_one_process_share_the_renewed_credential(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    """Two clients (as a batch run's workers) both refused the old token: the plugin runs once more, not twice."""
    config, counter = plugin(tmp_path)
    api.route("GET", VM, refuse("exec-token-1"))
    connection = connect(api, pki, token="", exec=config)
    with Client(connection) as first, Client(connection) as second:
        first._auth.current(), second._auth.current()  # both hold exec-token-1
        first.get(VM)
        second.get(VM)
    assert tokens(api) == ["Bearer exec-token-1", "Bearer exec-token-2", "Bearer exec-token-1",
                           "Bearer exec-token-2"]
    assert runs(counter) == 2


CERT_PLUGIN = """
import json, os, sys
counter = sys.argv[1]
runs = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
open(counter, "w").write(str(runs))
cert, key = sys.argv[2 * min(runs, 2)], sys.argv[2 * min(runs, 2) + 1]
status = {"clientCertificateData": open(cert).read(), "clientKeyData": open(key).read()}
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}))
"""


def test_a_renewed_client_certificate_is_presented_on_a_new_connection(
        api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    bob = issue("bob", issuer=pki.client_ca)
    paths = []
    for name, issued in (("alice", pki.client), ("bob", bob)):
        for suffix, data in (("crt", issued.cert_pem), ("key", issued.key_pem)):
            (tmp_path / f"{name}.{suffix}").write_bytes(data)
            paths.append(str(tmp_path / f"{name}.{suffix}"))
    (tmp_path / "cert_plugin.py").write_text(CERT_PLUGIN)
    counter = tmp_path / "runs"
    config = ExecConfig(command=sys.executable, api_version="client.authentication.k8s.io/v1",
                        args=(str(tmp_path / "cert_plugin.py"), str(counter), *paths), interactive_mode="Never")
    api.route("GET", VM, lambda seen: (401, UNAUTHORIZED) if seen.peer == "alice" else (200, {}))
    with Client(connect(api, pki, token="", exec=config)) as client:
        client.get(VM)
    assert [seen.peer for seen in api.seen] == ["alice", "bob"]
    assert api.connections == 2 and runs(counter) == 2


def test_side_by_side_with_kubectl_a_401_reruns_the_plugin(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    """kubectl re-runs the plugin after the 401 but leaves that request failed; the plugin sends it again."""
    answer_both(api)
    api.route("GET", "/version", refuse("exec-token-1", (200, {"major": "1"})))
    for path in ("/apis/kubevirt.io/v1/namespaces/ns/virtualmachines",):
        api.route("GET", path, refuse("exec-token-1", (200, {"kind": "List", "items": [], "metadata": {}})))
    seen: dict[str, list[dict[str, list[str]]]] = {}
    counts: dict[str, int] = {}
    for name, run in (("kubectl", run_kubectl), ("plugin", run_plugin)):
        directory = tmp_path / name
        directory.mkdir()
        user, counter = exec_user(directory)
        api.seen.clear()
        done = run(write_kubeconfig(directory / "config", api.url, user, pki), env=environment(directory))
        seen[name], counts[name] = [auth_of(request) for request in api.seen], runs(counter)
        assert ("exec-token" not in done.stdout + done.stderr), name
        assert done.returncode == (1 if name == "kubectl" else 0), done.stderr
    assert counts == {"kubectl": 2, "plugin": 2}
    assert seen["kubectl"] == [{"Authorization": ["Bearer exec-token-1"]}]
    assert seen["plugin"] == [{"Authorization": ["Bearer exec-token-1"]}, {"Authorization": ["Bearer exec-token-2"]}]
