"""Connection settings from flags, kubeconfig files and the environment, checked against kubectl's rules
(and, where kubectl can show its own result offline, against kubectl itself)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from oc_virt_expose.access.credentials import ExecConfig, parse_exec_config
from oc_virt_expose.access.kubeconfig import config_paths, load_connection
from oc_virt_expose.errors import VirtExposeError
from oc_virt_expose.model.settings import ConnectionFlags

KUBECTL = Path(sys.executable).parent / "kubectl"
CA_PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def kubeconfig(path: Path, *, current: str | None = None, clusters: dict[str, dict] | None = None,
               users: dict[str, dict] | None = None, contexts: dict[str, dict] | None = None) -> Path:
    document: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    if current is not None:
        document["current-context"] = current
    for section, key, entries in (("clusters", "cluster", clusters), ("users", "user", users),
                                  ("contexts", "context", contexts)):
        document[section] = [{"name": name, key: entry} for name, entry in (entries or {}).items()]
    path.write_text(yaml.safe_dump(document))
    return path


def simple(path: Path, name: str = "a", *, server: str = "https://a.example:6443", namespace: str = "",
           user: dict | None = None) -> Path:
    context = {"cluster": name, "user": name, **({"namespace": namespace} if namespace else {})}
    return kubeconfig(path, current=name, clusters={name: {"server": server}},
                      users={name: user if user is not None else {"token": f"token-{name}"}},
                      contexts={name: context})


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment with an empty home and no KUBECONFIG, as on a fresh machine."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "PATH": os.environ.get("PATH", "")}


@pytest.fixture
def no_pod(tmp_path: Path) -> str:
    """A service account directory that does not exist: not running in a pod."""
    return str(tmp_path / "no-service-account")


def load(flags: ConnectionFlags, env: dict[str, str], sa_dir: str):
    return load_connection(flags, env, service_account_dir=sa_dir)


# -- which files -------------------------------------------------------------------------------------

def test_default_file_is_home_kube_config(env: dict[str, str], no_pod: str) -> None:
    kube = Path(env["HOME"]) / ".kube"
    kube.mkdir()
    simple(kube / "config", namespace="from-context")
    connection = load(ConnectionFlags(), env, no_pod)
    assert (connection.server, connection.namespace, connection.token) == (
        "https://a.example:6443", "from-context", "token-a")
    assert (connection.context, connection.cluster, connection.user) == ("a", "a", "a")
    assert connection.namespace_explicit


def test_kubeconfig_list_merges_first_file_wins_each_entry(tmp_path: Path, env: dict[str, str],
                                                           no_pod: str) -> None:
    first = kubeconfig(tmp_path / "1", clusters={"c": {"server": "https://first:1"}},
                       users={"u": {"token": "first-token"}})
    second = kubeconfig(tmp_path / "2", current="ctx",
                        clusters={"c": {"server": "https://second:2", "tls-server-name": "x"},
                                  "other": {"server": "https://other:3"}},
                        users={"u": {"token": "second", "username": "ignored"}},
                        contexts={"ctx": {"cluster": "c", "user": "u", "namespace": "ns2"}})
    third = kubeconfig(tmp_path / "3", current="late", contexts={"late": {"cluster": "other"}})
    env["KUBECONFIG"] = os.pathsep.join([str(tmp_path / "missing"), str(first), "", str(second),
                                         str(third), str(first)])
    connection = load(ConnectionFlags(), env, no_pod)
    # the whole entry of the first file wins: no tls-server-name or username from the second
    assert (connection.server, connection.tls_server_name) == ("https://first:1", "")
    assert (connection.token, connection.username) == ("first-token", "")
    assert (connection.context, connection.namespace) == ("ctx", "ns2")  # first current-context set


def test_kubeconfig_flag_overrides_environment_and_must_exist(tmp_path: Path, env: dict[str, str],
                                                              no_pod: str) -> None:
    env["KUBECONFIG"] = str(simple(tmp_path / "env", "env"))
    explicit = simple(tmp_path / "flag", "flag")
    assert load(ConnectionFlags(kubeconfig=str(explicit)), env, no_pod).context == "flag"
    assert config_paths(ConnectionFlags(kubeconfig="x"), env) == ["x"]
    with pytest.raises(VirtExposeError, match=r'kubeconfig file ".*nope" \(--kubeconfig\) does not exist'):
        load(ConnectionFlags(kubeconfig=str(tmp_path / "nope")), env, no_pod)


def test_no_configuration_at_all_says_what_to_do(env: dict[str, str], no_pod: str) -> None:
    with pytest.raises(VirtExposeError, match=r"no cluster to talk to.*log in first"):
        load(ConnectionFlags(), env, no_pod)


def test_server_flag_alone_is_enough(env: dict[str, str], no_pod: str) -> None:
    connection = load(ConnectionFlags(server="https://10.0.0.1:6443", token="t"), env, no_pod)
    assert (connection.server, connection.token, connection.namespace) == (
        "https://10.0.0.1:6443", "t", "default")
    assert not connection.namespace_explicit


def test_malformed_file_names_the_file_and_line_without_content(tmp_path: Path, env: dict[str, str],
                                                                no_pod: str) -> None:
    path = tmp_path / "bad"
    path.write_text("users:\n- name: u\n  user: {token: s3cret\n")
    with pytest.raises(VirtExposeError) as error:
        load(ConnectionFlags(kubeconfig=str(path)), env, no_pod)
    assert f'"{path}": not valid YAML (line' in str(error.value)
    assert "s3cret" not in str(error.value)


def test_empty_file_is_an_empty_config(tmp_path: Path, env: dict[str, str], no_pod: str) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    env["KUBECONFIG"] = f"{empty}{os.pathsep}{simple(tmp_path / 'b', 'b')}"
    assert load(ConnectionFlags(), env, no_pod).context == "b"


# -- picking entries and overriding them ---------------------------------------------------------------

@pytest.fixture
def two(tmp_path: Path, env: dict[str, str]) -> Path:
    path = kubeconfig(
        tmp_path / "two", current="one",
        clusters={"c1": {"server": "https://c1:6443", "certificate-authority-data":
                         base64.b64encode(CA_PEM).decode(), "tls-server-name": "api.c1"},
                  "c2": {"server": "https://c2:6443", "insecure-skip-tls-verify": True}},
        users={"u1": {"token": "t1"}, "u2": {"username": "admin", "password": "pw"}},
        contexts={"one": {"cluster": "c1", "user": "u1", "namespace": "ns1"},
                  "two": {"cluster": "c2", "user": "u2"}})
    env["KUBECONFIG"] = str(path)
    return path


def test_context_cluster_user_flags(two: Path, env: dict[str, str], no_pod: str) -> None:
    connection = load(ConnectionFlags(context="two"), env, no_pod)
    assert (connection.server, connection.insecure, connection.username, connection.namespace) == (
        "https://c2:6443", True, "admin", "default")
    mixed = load(ConnectionFlags(cluster="c2", user="u2"), env, no_pod)
    assert (mixed.server, mixed.username, mixed.namespace, mixed.context) == (
        "https://c2:6443", "admin", "ns1", "one")


@pytest.mark.parametrize(("flags", "message"), [
    (ConnectionFlags(context="nope"), r'context "nope" \(--context\) not found .*\(contexts: one, two\)'),
    (ConnectionFlags(cluster="nope"), r'cluster "nope" \(--cluster\) not found .*\(clusters: c1, c2\)'),
    (ConnectionFlags(user="nope"), r'user "nope" \(--user\) not found .*\(users: u1, u2\)'),
])
def test_unknown_names_list_the_known_ones(two: Path, env: dict[str, str], no_pod: str,
                                           flags: ConnectionFlags, message: str) -> None:
    with pytest.raises(VirtExposeError, match=message):
        load(flags, env, no_pod)


def test_server_flag_drops_the_kubeconfig_tls_server_name(two: Path, env: dict[str, str],
                                                         no_pod: str) -> None:
    assert load(ConnectionFlags(), env, no_pod).tls_server_name == "api.c1"
    connection = load(ConnectionFlags(server="https://elsewhere:6443"), env, no_pod)
    assert (connection.server, connection.tls_server_name, connection.ca_data) == (
        "https://elsewhere:6443", "", CA_PEM)
    named = load(ConnectionFlags(server="https://e:1", tls_server_name="n"), env, no_pod)
    assert named.tls_server_name == "n"


def test_insecure_and_ca_flags_replace_the_kubeconfig_trust(tmp_path: Path, two: Path,
                                                            env: dict[str, str], no_pod: str) -> None:
    insecure = load(ConnectionFlags(insecure_skip_tls_verify=True), env, no_pod)
    assert (insecure.insecure, insecure.ca_data, insecure.ca_file) == (True, b"", "")
    ca = tmp_path / "ca.crt"
    ca.write_bytes(CA_PEM)
    with_ca = load(ConnectionFlags(context="two", certificate_authority=str(ca)), env, no_pod)
    assert (with_ca.insecure, with_ca.ca_file, with_ca.ca_data) == (False, str(ca), b"")
    with pytest.raises(VirtExposeError, match="cannot read certificate-authority"):
        load(ConnectionFlags(certificate_authority=str(tmp_path / "missing.crt")), env, no_pod)
    both = simple(tmp_path / "both", user={"token": "t"})
    document = yaml.safe_load(both.read_text())
    document["clusters"][0]["cluster"].update({"insecure-skip-tls-verify": True,
                                               "certificate-authority": str(ca)})
    both.write_text(yaml.safe_dump(document))
    with pytest.raises(VirtExposeError, match="sets both insecure-skip-tls-verify and a certificate"):
        load(ConnectionFlags(kubeconfig=str(both)), env, no_pod)
    assert load(ConnectionFlags(kubeconfig=str(both), insecure_skip_tls_verify=True), env, no_pod).insecure


def test_token_flag_replaces_the_user_token(two: Path, env: dict[str, str], no_pod: str) -> None:
    assert load(ConnectionFlags(token="flag-token"), env, no_pod).token == "flag-token"
    with pytest.raises(VirtExposeError, match="both a token and a username/password"):
        load(ConnectionFlags(context="two", token="flag-token"), env, no_pod)


def test_relative_paths_are_relative_to_their_file(tmp_path: Path, env: dict[str, str],
                                                   no_pod: str) -> None:
    directory = tmp_path / "conf"
    directory.mkdir()
    (directory / "ca.crt").write_bytes(CA_PEM)
    (directory / "token").write_text("file-token\n")
    path = kubeconfig(directory / "config", current="x",
                      clusters={"x": {"server": "https://x:1", "certificate-authority": "ca.crt"}},
                      users={"x": {"tokenFile": "token", "client-certificate": "sub/c.crt",
                                   "client-key": "sub/c.key"}},
                      contexts={"x": {"cluster": "x", "user": "x"}})
    os.chdir(tmp_path)
    connection = load(ConnectionFlags(kubeconfig=os.path.relpath(path)), env, no_pod)
    assert connection.ca_file == str(directory / "ca.crt")
    assert connection.token == "file-token"
    assert (connection.cert_file, connection.key_file) == (str(directory / "sub/c.crt"),
                                                           str(directory / "sub/c.key"))


def test_token_wins_over_token_file_and_credentials_need_tls(tmp_path: Path, env: dict[str, str],
                                                             no_pod: str) -> None:
    path = simple(tmp_path / "c", user={"token": "inline", "tokenFile": "/nonexistent"})
    assert load(ConnectionFlags(kubeconfig=str(path)), env, no_pod).token == "inline"
    plain = simple(tmp_path / "p", server="http://127.0.0.1:8001", user={"token": "never-sent"})
    connection = load(ConnectionFlags(kubeconfig=str(plain)), env, no_pod)
    assert (connection.uses_tls, connection.token) == (False, "")  # as kubectl: no auth without TLS


def test_client_certificate_data_and_missing_key(tmp_path: Path, env: dict[str, str],
                                                 no_pod: str) -> None:
    data = {"client-certificate-data": base64.b64encode(b"CERT").decode(),
            "client-key-data": base64.b64encode(b"KEY").decode()}
    connection = load(ConnectionFlags(kubeconfig=str(simple(tmp_path / "k", user=data))), env, no_pod)
    assert (connection.cert_data, connection.key_data, connection.token) == (b"CERT", b"KEY", "")
    half = simple(tmp_path / "h", user={"client-certificate-data": data["client-certificate-data"]})
    with pytest.raises(VirtExposeError, match="client certificate but no client key"):
        load(ConnectionFlags(kubeconfig=str(half)), env, no_pod)


def test_secrets_stay_out_of_repr(tmp_path: Path, env: dict[str, str], no_pod: str) -> None:
    user = {"token": "tok-SECRET", "client-certificate-data": base64.b64encode(b"C").decode(),
            "client-key-data": base64.b64encode(b"KEY-SECRET").decode()}
    connection = load(ConnectionFlags(kubeconfig=str(simple(tmp_path / "s", user=user))), env, no_pod)
    assert "SECRET" not in repr(connection)
    basic = load(ConnectionFlags(kubeconfig=str(simple(tmp_path / "b", user={
        "username": "u", "password": "pw-SECRET"}))), env, no_pod)
    assert "SECRET" not in repr(basic)
    assert "SECRET" not in repr(ConnectionFlags(token="tok-SECRET"))


def test_server_without_scheme(tmp_path: Path, env: dict[str, str], no_pod: str) -> None:
    assert load(ConnectionFlags(server="10.0.0.1:6443"), env, no_pod).server == "http://10.0.0.1:6443"
    secure = load(ConnectionFlags(server="10.0.0.1:6443", insecure_skip_tls_verify=True), env, no_pod)
    assert secure.server == "https://10.0.0.1:6443"
    with_path = load(ConnectionFlags(server="https://rancher/k8s/clusters/c-1/"), env, no_pod)
    assert with_path.server == "https://rancher/k8s/clusters/c-1"
    with pytest.raises(VirtExposeError, match="not an http"):
        load(ConnectionFlags(server="ftp://x"), env, no_pod)


def test_impersonation(tmp_path: Path, env: dict[str, str], no_pod: str) -> None:
    path = simple(tmp_path / "i", user={"token": "t", "as": "alice", "as-groups": ["g1", "g2"],
                                        "as-user-extra": {"scopes": ["a", "b"]}})
    connection = load(ConnectionFlags(kubeconfig=str(path)), env, no_pod)
    assert (connection.impersonate_user, connection.impersonate_groups) == ("alice", ("g1", "g2"))
    assert connection.impersonate_extra == (("scopes", ("a", "b")),)
    flagged = load(ConnectionFlags(kubeconfig=str(path), as_user="bob", as_groups=("ops",)), env, no_pod)
    assert (flagged.impersonate_user, flagged.impersonate_groups, flagged.impersonate_extra) == (
        "bob", ("ops",), (("scopes", ("a", "b")),))  # as kubectl: each flag replaces its own field only
    grouped = load(ConnectionFlags(kubeconfig=str(path), as_groups=("ops",)), env, no_pod)
    assert (grouped.impersonate_user, grouped.impersonate_groups) == ("alice", ("ops",))


# -- in a pod ----------------------------------------------------------------------------------------

@pytest.fixture
def pod(tmp_path: Path, env: dict[str, str]) -> str:
    sa_dir = tmp_path / "serviceaccount"
    sa_dir.mkdir()
    (sa_dir / "token").write_text("sa-token\n")
    (sa_dir / "ca.crt").write_bytes(CA_PEM)
    (sa_dir / "namespace").write_text("pod-ns\n")
    env.update(KUBERNETES_SERVICE_HOST="10.96.0.1", KUBERNETES_SERVICE_PORT="443")
    return str(sa_dir)


def test_in_cluster_without_kubeconfig(pod: str, env: dict[str, str]) -> None:
    connection = load(ConnectionFlags(), env, pod)
    assert connection.in_cluster
    assert (connection.server, connection.token, connection.ca_file, connection.namespace) == (
        "https://10.96.0.1:443", "sa-token", os.path.join(pod, "ca.crt"), "pod-ns")
    env["KUBERNETES_SERVICE_HOST"] = "fd00:10:96::1"
    env["POD_NAMESPACE"] = "downward"
    ipv6 = load(ConnectionFlags(namespace="flag-ns", token="flag-token"), env, pod)
    assert (ipv6.server, ipv6.namespace, ipv6.token) == ("https://[fd00:10:96::1]:443", "flag-ns",
                                                         "flag-token")
    assert load(ConnectionFlags(), env, pod).namespace == "downward"


def test_in_cluster_namespace_fills_a_kubeconfig_context_without_one(tmp_path: Path, pod: str,
                                                                     env: dict[str, str]) -> None:
    env["KUBECONFIG"] = str(simple(tmp_path / "k"))
    connection = load(ConnectionFlags(), env, pod)
    assert (connection.server, connection.namespace, connection.in_cluster) == (
        "https://a.example:6443", "pod-ns", False)
    env["KUBECONFIG"] = str(simple(tmp_path / "n", namespace="ctx-ns"))
    assert load(ConnectionFlags(), env, pod).namespace == "ctx-ns"


# -- exec plugins, durations ---------------------------------------------------------------------------

def test_exec_config_as_kubectl_reads_it(tmp_path: Path, env: dict[str, str], no_pod: str) -> None:
    plugin = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "./bin/plugin",
              "args": ["get-token"], "env": [{"name": "A", "value": "1"}], "provideClusterInfo": True}
    path = kubeconfig(tmp_path / "e", current="x",
                      clusters={"x": {"server": "https://x:1", "extensions": [
                          {"name": "client.authentication.k8s.io/exec", "extension": {"k": "v"}}]}},
                      users={"x": {"exec": plugin}, "y": {"exec": dict(plugin, command="aws")}},
                      contexts={"x": {"cluster": "x", "user": "x"}})
    connection = load(ConnectionFlags(kubeconfig=str(path)), env, no_pod)
    assert connection.exec == ExecConfig(command=str(tmp_path / "bin/plugin"), api_version=plugin["apiVersion"],
                                         args=("get-token",), env=(("A", "1"),), provide_cluster_info=True,
                                         interactive_mode="IfAvailable", cluster_config={"k": "v"})
    assert load(ConnectionFlags(kubeconfig=str(path), user="y"), env, no_pod).exec.command == "aws"


@pytest.mark.parametrize(("raw", "message"), [
    ({"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}, "is not supported"),
    ({"apiVersion": "client.authentication.k8s.io/v1", "command": "x"}, "interactiveMode must be"),
    ({"apiVersion": "client.authentication.k8s.io/v1", "interactiveMode": "Never"}, "no command"),
])
def test_exec_config_errors(raw: dict, message: str) -> None:
    with pytest.raises(VirtExposeError, match=message):
        parse_exec_config(raw, {}, 'user "u"')


# -- the same answers as kubectl -------------------------------------------------------------------------

@pytest.mark.parametrize("flags", [
    ConnectionFlags(), ConnectionFlags(context="b"), ConnectionFlags(cluster="c-b"),
    ConnectionFlags(context="b", cluster="c-a"), ConnectionFlags(namespace="flag"),
    ConnectionFlags(server="https://127.0.0.1:5"),
])
def test_resolution_matches_kubectl(tmp_path: Path, env: dict[str, str], no_pod: str,
                                    flags: ConnectionFlags) -> None:
    """kubectl, given the same files and flags, dials the same server and uses the same namespace
    (closed loopback ports: kubectl's own error names the server it chose)."""
    first = kubeconfig(tmp_path / "1", clusters={"c-a": {"server": "https://127.0.0.1:1"}},
                       users={"u-a": {"token": "first"}},
                       contexts={"b": {"cluster": "c-b", "user": "u-a", "namespace": "ns-b1"}})
    second = kubeconfig(tmp_path / "2", current="a",
                        clusters={"c-a": {"server": "https://127.0.0.1:2"},
                                  "c-b": {"server": "https://127.0.0.1:3"}},
                        users={"u-a": {"token": "second"}, "u-b": {"token": "b"}},
                        contexts={"a": {"cluster": "c-a", "user": "u-a", "namespace": "ns-a"},
                                  "b": {"cluster": "c-b", "user": "u-b"}})
    env["KUBECONFIG"] = os.pathsep.join([str(first), str(second)])
    ours = load(flags, env, no_pod)
    args = [f"--{name}={value}" for name, value in (
        ("context", flags.context), ("cluster", flags.cluster), ("user", flags.user),
        ("namespace", flags.namespace), ("server", flags.server)) if value]
    refused = subprocess.run([str(KUBECTL), "get", "serviceaccounts", "--request-timeout=5s", *args],
                             env=env, capture_output=True, text=True).stderr.strip().splitlines()[-1]
    assert refused == f"The connection to the server {ours.server.split('://')[1]} was refused - did" \
                      " you specify the right host or port?"
    namespace = subprocess.run([str(KUBECTL), "config", "view", "--minify", "-o",
                                "jsonpath={.contexts[0].context.namespace}", *args],
                               env=env, capture_output=True, text=True, check=True).stdout
    assert ours.namespace == (flags.namespace or namespace or "default")
