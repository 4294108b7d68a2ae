"""Who the user is: kubeconfig user credentials, and exec credential plugins run as client-go runs them.

Credentials of a user entry: `token`, else `tokenFile`; a client certificate and key (files or `*-data`);
`username`/`password` (never with a token); an `auth-provider: oidc` login (its tokens are used and
refreshed by `oidc.py`); an `exec` plugin, run only at the first request (by `auth.py`) and only when no
other credential is set.

An exec plugin runs with the caller's environment plus its `env`, its `args`, and KUBERNETES_EXEC_INFO
(an ExecCredential whose spec says whether it may prompt and, with `provideClusterInfo`, describes the
cluster); its stderr and, when interactive, stdin are the user's. Its stdout is an ExecCredential of
the same apiVersion with `status.token` or `status.clientCertificateData` + `clientKeyData`. The result
is kept for the life of the process until its `expirationTimestamp` passes, or until the caller reports it
stale (a 401). Plugin output, args and env are never shown: they hold secrets.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from typing import Any, NamedTuple

from oc_virt_expose.errors import VirtExposeError
from oc_virt_expose.model.records import repr_hiding

EXEC_EXTENSION = "client.authentication.k8s.io/exec"
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


class ExecConfig(NamedTuple):
    """An exec credential plugin of a kubeconfig user (client.authentication.k8s.io v1 or v1beta1); repr()
    hides its arguments, environment and the cluster's extension, which may carry secrets."""

    command: str
    api_version: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    install_hint: str = ""
    provide_cluster_info: bool = False
    interactive_mode: str = "IfAvailable"
    cluster_config: Any = None  # the cluster's exec extension, if any

    def __repr__(self) -> str:
        return repr_hiding(self, ("args", "env", "cluster_config"))


class ExecCredential(NamedTuple):
    """What a plugin returned: a bearer token, or a client certificate and key (PEM); repr() hides them."""

    token: str = ""
    cert_pem: bytes = b""
    key_pem: bytes = b""
    expires: float | None = None  # epoch seconds

    def __repr__(self) -> str:
        return repr_hiding(self, ("token", "cert_pem", "key_pem"))


class OIDCConfig(NamedTuple):
    """An `auth-provider: oidc` user: its tokens, its issuer, and where to write refreshed tokens back;
    repr() hides the secret and the tokens."""

    issuer: str
    client_id: str
    user: str  # the kubeconfig user entry's name
    origin: str  # the kubeconfig file the user entry came from
    client_secret: str = ""
    id_token: str = ""
    refresh_token: str = ""
    ca_file: str = ""  # idp-certificate-authority: kubectl leaves a relative path relative to the cwd
    ca_data: bytes = b""

    def __repr__(self) -> str:
        return repr_hiding(self, ("client_secret", "id_token", "refresh_token", "ca_data"))


_cache: dict[str, ExecCredential] = {}


def parse_exec_config(raw: Any, cluster: dict[str, Any], who: str) -> ExecConfig | None:
    """The `exec` stanza of a kubeconfig user, checked as kubectl checks it; None when absent."""
    if not isinstance(raw, dict):
        return None
    api_version = str(raw.get("apiVersion") or "")
    if api_version not in EXEC_API_VERSIONS:
        raise VirtExposeError(f'exec plugin of {who}: apiVersion "{api_version}" is not supported'
                              f" (use {' or '.join(EXEC_API_VERSIONS)})")
    if not raw.get("command"):
        raise VirtExposeError(f"exec plugin of {who}: no command")
    mode = str(raw.get("interactiveMode") or ("" if api_version.endswith("/v1") else "IfAvailable"))
    if mode not in ("Never", "IfAvailable", "Always"):
        raise VirtExposeError(f"exec plugin of {who}: interactiveMode must be Never, IfAvailable or"
                              f' Always (got "{mode}")')
    extensions = cluster.get("extensions") or []
    config = next((item.get("extension") for item in extensions
                   if isinstance(item, dict) and item.get("name") == EXEC_EXTENSION), None)
    return ExecConfig(
        command=str(raw["command"]), api_version=api_version,
        args=tuple(str(arg) for arg in raw.get("args") or ()),
        env=tuple((str(item.get("name") or ""), str(item.get("value") or ""))
                  for item in raw.get("env") or ()),
        install_hint=str(raw.get("installHint") or ""), interactive_mode=mode,
        provide_cluster_info=raw.get("provideClusterInfo") in (True, "true"), cluster_config=config)


def user_credentials(user: dict[str, Any], cluster: dict[str, Any], who: str, *, name: str = "",
                     origin: str = "") -> dict[str, Any]:
    """The credential fields of a Connection from a kubeconfig user entry (paths already absolute);
    `name` and `origin` (its file) say where refreshed OIDC tokens go."""
    token = as_text(user.get("token")) or _read_token(as_text(user.get("tokenFile")), who)
    cert_data = decode_base64(user.get("client-certificate-data"), f"client-certificate-data of {who}")
    key_data = decode_base64(user.get("client-key-data"), f"client-key-data of {who}")
    cert_file = "" if cert_data else as_text(user.get("client-certificate"))
    key_file = "" if key_data else as_text(user.get("client-key"))
    if (cert_data or cert_file) and not (key_data or key_file):
        raise VirtExposeError(f"{who} has a client certificate but no client key"
                              " (client-key or client-key-data)")
    username, password = as_text(user.get("username")), as_text(user.get("password"))
    if token and (username or password):
        raise VirtExposeError(f"{who} has both a token and a username/password: only one is allowed")
    provider = user.get("auth-provider")
    oidc = parse_oidc_config(provider, who, name, origin) if isinstance(provider, dict) and not token else None
    exec_raw = user.get("exec")
    return {"token": token, "username": username, "password": password, "cert_file": cert_file,
            "cert_data": cert_data, "key_file": key_file, "key_data": key_data, "oidc": oidc,
            "exec": parse_exec_config(exec_raw, cluster, who) if exec_raw else None}


def _read_token(path: str, who: str) -> str:
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read().strip()
    except OSError as error:
        raise VirtExposeError(f'cannot read the token file "{path}" of {who}: {_reason(error)}') from None


def parse_oidc_config(provider: dict[str, Any], who: str, name: str, origin: str) -> OIDCConfig:
    """The `auth-provider` of a user: only `oidc` (kubectl dropped the others), checked as kubectl checks it."""
    if provider.get("name") != "oidc":
        raise VirtExposeError(f'{who} uses the auth-provider "{provider.get("name")}", which virt-expose'
                              " does not support: use an exec credential plugin (e.g. kubelogin)")
    config = provider.get("config")
    config = config if isinstance(config, dict) else {}
    for key in ("idp-issuer-url", "client-id"):
        if not as_text(config.get(key)):
            raise VirtExposeError(f"the oidc auth-provider of {who} needs {key} (kubectl: Must provide {key})")
    return OIDCConfig(
        issuer=as_text(config["idp-issuer-url"]), client_id=as_text(config["client-id"]), user=name,
        origin=origin, client_secret=as_text(config.get("client-secret")),
        id_token=as_text(config.get("id-token")), refresh_token=as_text(config.get("refresh-token")),
        ca_file=as_text(config.get("idp-certificate-authority")),
        ca_data=decode_base64(config.get("idp-certificate-authority-data"),
                              f"idp-certificate-authority-data of {who}"))


def decode_base64(value: Any, what: str) -> bytes:
    """Bytes of a kubeconfig `*-data` field (base64)."""
    if not value:
        return b""
    try:
        return base64.b64decode(as_text(value), validate=False)
    except ValueError:
        raise VirtExposeError(f"{what} is not valid base64") from None


def as_text(value: Any) -> str:
    """A kubeconfig scalar as text ("" for none)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or type(error).__name__


def exec_credential(config: ExecConfig, cluster_info: dict[str, Any] | None = None, *,
                    stale: ExecCredential | None = None) -> ExecCredential:
    """Run the plugin (once per process while its credential is valid) and return its credential.

    `cluster_info` is the `spec.cluster` sent when the plugin asks for it (`provideClusterInfo`). `stale`:
    a credential the server refused (401); the plugin runs again unless the cache already holds a newer one
    (another client refreshed it meanwhile), as client-go's `maybeRefreshCreds`. Callers serialize calls.
    """
    import json  # here and below: `kubeconfig` (imported by option parsing) stays without it

    key = json.dumps([config.command, config.args, config.env, config.api_version, cluster_info,
                      config.cluster_config], sort_keys=True, default=str)
    cached = _cache.get(key)
    if cached is not None and cached is not stale and (cached.expires is None or cached.expires > time.time()):
        return cached
    credential = _run(config, cluster_info)
    _cache[key] = credential
    return credential


def _run(config: ExecConfig, cluster_info: dict[str, Any] | None) -> ExecCredential:
    import json
    import subprocess  # ~7 ms, for users with a plugin only

    interactive = _interactive(config)
    spec: dict[str, Any] = {"interactive": interactive}
    if config.provide_cluster_info and cluster_info is not None:
        spec["cluster"] = dict(cluster_info, **({"config": config.cluster_config}
                                                if config.cluster_config is not None else {}))
    info = {"apiVersion": config.api_version, "kind": "ExecCredential", "spec": spec}
    env = dict(os.environ, **dict(config.env), KUBERNETES_EXEC_INFO=json.dumps(info))
    try:
        done = subprocess.run([config.command, *config.args], env=env, stdout=subprocess.PIPE,
                              stdin=None if interactive else subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        hint = " ".join(config.install_hint.split())
        raise VirtExposeError(f"getting credentials: exec: executable {config.command} not found"
                              + (f" ({hint})" if hint else "")) from None
    except OSError as error:
        raise VirtExposeError(f"getting credentials: exec: cannot run {config.command}:"
                              f" {error.strerror}") from None
    if done.returncode != 0:
        raise VirtExposeError(f"getting credentials: exec: executable {config.command} failed with"
                              f" exit code {done.returncode}")
    return _parse_output(config, done.stdout)


def _interactive(config: ExecConfig) -> bool:
    if config.interactive_mode == "Never":
        return False
    terminal = sys.stdin is not None and sys.stdin.isatty()
    if config.interactive_mode == "Always" and not terminal:
        raise VirtExposeError(f"getting credentials: exec plugin {config.command} needs interactive"
                              " mode, but standard input is not a terminal")
    return terminal


def _parse_output(config: ExecConfig, stdout: bytes) -> ExecCredential:
    import json

    what = f"getting credentials: exec plugin {config.command}"
    try:
        document = json.loads(stdout)
    except ValueError:
        raise VirtExposeError(f"{what} did not print an ExecCredential (JSON) on stdout") from None
    if not isinstance(document, dict) or document.get("kind") != "ExecCredential":
        raise VirtExposeError(f"{what} did not print an ExecCredential on stdout")
    if document.get("apiVersion") != config.api_version:
        raise VirtExposeError(f"{what} is configured to use API version {config.api_version},"
                              f" plugin returned version {document.get('apiVersion')}")
    status = document.get("status")
    if not isinstance(status, dict):
        raise VirtExposeError(f"{what} didn't return a status field")
    token = str(status.get("token") or "")
    cert, key = str(status.get("clientCertificateData") or ""), str(status.get("clientKeyData") or "")
    if not token and not cert and not key:
        raise VirtExposeError(f"{what} didn't return a token or cert/key pair")
    if bool(cert) != bool(key):
        raise VirtExposeError(f"{what} returned only certificate or key, not both")
    return ExecCredential(token=token, cert_pem=cert.encode(), key_pem=key.encode(),
                          expires=_timestamp(status.get("expirationTimestamp")))


def _timestamp(value: Any) -> float | None:
    if not value:
        return None
    from datetime import datetime

    text = str(value).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None  # kubectl refuses it; we treat it as not expiring within this short command


def cluster_info(server: str, *, tls_server_name: str = "", insecure: bool = False,
                 ca_pem: bytes = b"", proxy_url: str = "") -> dict[str, Any]:
    """The `spec.cluster` of KUBERNETES_EXEC_INFO, with kubectl's field names."""
    info: dict[str, Any] = {"server": server}
    if tls_server_name:
        info["tls-server-name"] = tls_server_name
    if insecure:
        info["insecure-skip-tls-verify"] = True
    if ca_pem:
        info["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    if proxy_url:
        info["proxy-url"] = proxy_url
    return info
