"""Impersonation side by side with kubectl 1.37.1: the Impersonate-* headers (and Authorization) that reach
the recording server from `kubectl get --raw /version` and from the plugin, for the same kubeconfig and
flags. As kubectl, `--as`, `--as-group` and `--as-uid` each replace their own field of the user's `as`,
`as-groups`, `as-uid` and keep the others (`as-user-extra` has no flag)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oc_virt_expose.access.client import Client
from oc_virt_expose.access.kubeconfig import load_connection
from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.settings import ConnectionFlags
from tests.unit.access.fake_apiserver import PKI, FakeAPI
from tests.unit.access.side_by_side import answer_both, auth_of, environment, run_kubectl, run_plugin, write_kubeconfig

EVERYTHING = {"token": "imp-token", "as": "alice", "as-groups": ["g1", "g2"], "as-uid": "uid-1",
              "as-user-extra": {"scopes": ["a", "b"], "example.com/x y": ["v"]}}
NO_USER = {"token": "imp-token", "as-groups": ["g1"], "as-user-extra": {"scopes": ["a"]}}

CASES = [
    (EVERYTHING, ()),
    (EVERYTHING, ("--as", "bob")),
    (EVERYTHING, ("--as", "bob", "--as-group", "ops", "--as-group", "dev")),
    (EVERYTHING, ("--as", "bob", "--as-uid", "uid-2")),
    (NO_USER, ("--as", "bob")),
    ({"token": "imp-token"}, ("--as", "bob", "--as-group", "ops", "--as-uid", "uid-3")),
]


@pytest.mark.parametrize(("user", "flags"), CASES)
def test_the_same_headers_reach_the_server_as_from_kubectl(api: FakeAPI, pki: PKI, tmp_path: Path,
                                                         user: dict[str, Any], flags: tuple[str, ...]) -> None:
    answer_both(api)
    kubeconfig = write_kubeconfig(tmp_path / "config", api.url, user, pki)
    headers = {}
    for name, run in (("kubectl", run_kubectl), ("plugin", run_plugin)):
        api.seen.clear()
        done = run(kubeconfig, *flags, env=environment(tmp_path))
        assert done.returncode == 0, done.stderr
        headers[name] = [auth_of(seen) for seen in api.seen]
    assert headers["plugin"] == headers["kubectl"]
    assert headers["plugin"][0].get("Impersonate-User") == [flags[1] if flags else "alice"]


def test_the_kubeconfig_as_with_an_as_group_flag(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    """kubectl takes `--as-group` alone when the kubeconfig names the user (`as`); the plugin's command
    line still asks for `--as` with it, so this compares the access layer itself."""
    answer_both(api)
    kubeconfig = write_kubeconfig(tmp_path / "config", api.url, EVERYTHING, pki)
    done = run_kubectl(kubeconfig, "--as-group", "ops", env=environment(tmp_path))
    assert done.returncode == 0, done.stderr
    connection = load_connection(ConnectionFlags(kubeconfig=str(kubeconfig), as_groups=("ops",)), {})
    with Client(connection) as client:
        client.get("/version")
    kubectl_headers, plugin_headers = auth_of(api.seen[0]), auth_of(api.seen[1])
    assert plugin_headers == kubectl_headers
    assert (plugin_headers["Impersonate-User"], plugin_headers["Impersonate-Group"]) == (["alice"], ["ops"])


def test_groups_or_extra_without_a_user_are_refused_as_by_kubectl(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    answer_both(api)
    kubeconfig = write_kubeconfig(tmp_path / "config", api.url, NO_USER, pki)
    kubectl = run_kubectl(kubeconfig, env=environment(tmp_path))
    assert kubectl.returncode == 1
    assert "requesting uid, groups or user-extra for u without impersonating a user" in kubectl.stderr
    plugin = run_plugin(kubeconfig, env=environment(tmp_path))
    assert plugin.returncode == 1
    assert plugin.stderr == ('error: user "u" in the kubeconfig asks for impersonated groups, uid or extra'
                             f" without a user to impersonate (as, or --as) (kubeconfig {kubeconfig})\n")
    assert api.seen == []
    with pytest.raises(UsageError, match="--as-group and --as-uid need a user to impersonate: give --as"):
        load_connection(ConnectionFlags(kubeconfig=str(kubeconfig), as_uid="u"), {})
