"""Client certificates (data through a memfd or a private file, files, mismatched keys) and exec
credential plugins (token, certificate, KUBERNETES_EXEC_INFO, caching, errors) against the fake server."""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from oc_virt_expose.access import credentials
from oc_virt_expose.access.client import Client
from oc_virt_expose.access.credentials import ExecConfig
from tests.unit.access.fake_apiserver import PKI, VM, FakeAPI, connect


def test_client_certificate_from_data_leaves_no_file(api: FakeAPI, pki: PKI, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    api.route("GET", VM, (200, {}))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with Client(connect(api, pki, token="", cert_data=pki.client.cert_pem,
                        key_data=pki.client.key_pem)) as client:
        client.get(VM)
    assert api.seen[0].peer == "alice"
    assert "Authorization" not in api.seen[0].headers
    assert list((tmp_path / "tmp").iterdir()) == []


def test_client_certificate_through_a_private_file_where_there_is_no_memfd(
        api: FakeAPI, pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from oc_virt_expose.access import transport

    api.route("GET", VM, (200, {}))
    made: list[tuple[int, int]] = []
    real_open = os.open

    def spy_open(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, flags, mode, *args, **kwargs)
        made.append((stat.S_IMODE(os.fstat(fd).st_mode), stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)))
        return fd

    private = tmp_path / "private"
    private.mkdir()
    monkeypatch.delattr(transport.os, "memfd_create")
    monkeypatch.setattr(transport.os, "open", spy_open)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    with Client(connect(api, pki, token="", cert_data=pki.client.cert_pem,
                        key_data=pki.client.key_pem)) as client:
        client.get(VM)
    assert api.seen[0].peer == "alice"
    assert made == [(0o600, 0o700), (0o600, 0o700)]
    assert list(private.iterdir()) == []


def test_client_certificate_files_and_a_mismatched_key(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    api.route("GET", VM, (200, {}))
    (tmp_path / "c.crt").write_bytes(pki.client.cert_pem)
    (tmp_path / "c.key").write_bytes(pki.client.key_pem)
    with Client(connect(api, pki, token="", cert_file=str(tmp_path / "c.crt"),
                        key_file=str(tmp_path / "c.key"))) as client:
        client.get(VM)
    assert api.seen[0].peer == "alice"
    with Client(connect(api, pki, cert_data=pki.client.cert_pem, key_data=pki.server.key_pem)) as client, \
            pytest.raises(Exception, match="cannot be used: unreadable, not PEM, encrypted, or not a"):
        client.get(VM)


PLUGIN = """
import json, os, sys
with open(sys.argv[1], "a") as log:
    log.write(json.dumps({"info": json.loads(os.environ["KUBERNETES_EXEC_INFO"]),
                          "env": os.environ.get("PLUGIN_ENV"), "args": sys.argv[2:]}) + "\\n")
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": json.loads(sys.argv[2])}))
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Callable[[dict[str, Any]], tuple[ExecConfig, Path]]:
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN)
    credentials._cache.clear()

    def make(status: dict[str, Any]) -> tuple[ExecConfig, Path]:
        log = tmp_path / "calls.jsonl"
        config = ExecConfig(command=sys.executable, args=(str(script), str(log), json.dumps(status)),
                            api_version="client.authentication.k8s.io/v1", interactive_mode="Never",
                            env=(("PLUGIN_ENV", "from-kubeconfig"),), provide_cluster_info=True,
                            cluster_config={"audience": "x"})
        return config, log

    return make


def test_exec_plugin_token_runs_once(api: FakeAPI, pki: PKI, plugin: Callable) -> None:
    api.route("GET", VM, (200, {}))
    config, log = plugin({"token": "plugin-token"})
    for _ in range(2):
        with Client(connect(api, pki, token="", exec=config)) as client:
            client.get(VM)
            client.get(VM)
    assert [seen.headers["Authorization"] for seen in api.seen] == [["Bearer plugin-token"]] * 4
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 1
    assert calls[0]["env"] == "from-kubeconfig"
    info = calls[0]["info"]
    assert (info["apiVersion"], info["kind"], info["spec"]["interactive"]) == (
        "client.authentication.k8s.io/v1", "ExecCredential", False)
    assert info["spec"]["cluster"]["server"] == api.url
    assert info["spec"]["cluster"]["config"] == {"audience": "x"}
    assert "certificate-authority-data" in info["spec"]["cluster"]


def test_exec_plugin_client_certificate(api: FakeAPI, pki: PKI, plugin: Callable) -> None:
    api.route("GET", VM, (200, {}))
    config, _log = plugin({"clientCertificateData": pki.client.cert_pem.decode(),
                           "clientKeyData": pki.client.key_pem.decode()})
    with Client(connect(api, pki, token="", exec=config)) as client:
        client.get(VM)
    assert api.seen[0].peer == "alice"
    assert "Authorization" not in api.seen[0].headers


def test_exec_plugin_is_not_run_when_a_token_is_given(api: FakeAPI, pki: PKI, plugin: Callable) -> None:
    api.route("GET", VM, (200, {}))
    config, log = plugin({"token": "plugin-token"})
    with Client(connect(api, pki, token="flag-token", exec=config)) as client:
        client.get(VM)
    assert api.seen[0].headers["Authorization"] == ["Bearer flag-token"]
    assert not log.exists()


@pytest.mark.parametrize(("status_", "message"), [
    ({}, "didn't return a token or cert/key pair"),
    ({"clientCertificateData": "x"}, "returned only certificate or key, not both"),
])
def test_exec_plugin_bad_answers(api: FakeAPI, pki: PKI, plugin: Callable, status_: dict,
                                 message: str) -> None:
    config, _log = plugin(status_)
    with Client(connect(api, pki, token="", exec=config)) as client, pytest.raises(Exception, match=message):
        client.get(VM)


def test_exec_plugin_missing_or_failing(api: FakeAPI, pki: PKI, plugin: Callable) -> None:
    config, _log = plugin({"token": "t"})
    missing = config._replace(command="no-such-plugin-here", install_hint="Install it:\n  brew install x")
    with Client(connect(api, pki, token="", exec=missing)) as client, pytest.raises(
            Exception, match=r"exec: executable no-such-plugin-here not found \(Install it: brew install x\)$"):
        client.get(VM)
    failing = config._replace(args=("-c", "import sys; sys.exit(3)"))
    with Client(connect(api, pki, token="", exec=failing)) as client, pytest.raises(
            Exception, match="failed with exit code 3"):
        client.get(VM)


