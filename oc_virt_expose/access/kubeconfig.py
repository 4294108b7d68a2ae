"""Connection settings resolved from flags, kubeconfig files and the environment, as kubectl resolves them.

Why not `kubernetes.config`: importing it runs `kubernetes/__init__.py`, which imports the whole client
(~300 ms idle, 34x PyYAML's import), and its handling of several KUBECONFIG files, the in-cluster
namespace and exec plugins differs from kubectl's. Measured side by side (import, load a kubeconfig,
one GET against a real API server): this module with `client.py` took 0.21x the wall time and 0.22x the
CPU of `kubernetes.config.load_kube_config` + `CoreV1Api().read_namespace(_preload_content=False)`.
The rules here follow client-go's `tools/clientcmd` (loader.go, client_config.go,
merged_client_builder.go), with PyYAML:

- Files: `--kubeconfig` alone (it must exist), else each file of KUBECONFIG (missing ones skipped), else
  `~/.kube/config`. The first file that names a cluster, user or context wins that whole entry; the first
  file that sets `current-context` wins it. Relative paths are relative to the file that holds them.
- `--context`, `--cluster`, `--user` pick entries; `--server`, `--certificate-authority`,
  `--insecure-skip-tls-verify`, `--token`, `--as`, `--as-group`, `--as-uid` override fields of the chosen
  entries, one field at a time (`--as bob` keeps the user's `as-groups`, `as-uid` and `as-user-extra`).
- With no usable cluster at all, the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT, its token
  and CA) is used. Namespace: `-n`, else the context's, else the in-cluster one (POD_NAMESPACE, then the
  service account's namespace file) when running in a pod, else `default`.
- Credentials are resolved here (token, token file, client certificate, basic auth, exec plugin and OIDC
  settings) but nothing is run or sent: `auth.py` runs an exec plugin or refreshes an OIDC token at the
  first request, as kubectl.

Nothing secret is ever part of a message or a `repr()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from oc_virt_expose.access.credentials import ExecConfig, OIDCConfig, as_text, decode_base64, user_credentials
from oc_virt_expose.access.kubeconfig_shape import shape_problem
from oc_virt_expose.errors import UsageError, VirtExposeError
from oc_virt_expose.model.records import repr_hiding
from oc_virt_expose.model.settings import ConnectionFlags, parse_request_timeout

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")  # kubectl's proxy-url takes the first three only


class Connection(NamedTuple):
    """Everything needed to talk to one API server as one user; repr() hides the secrets."""

    server: str
    namespace: str
    context: str = ""
    cluster: str = ""
    user: str = ""
    namespace_explicit: bool = False  # from -n or the context, not a default
    in_cluster: bool = False
    ca_file: str = ""
    ca_data: bytes = b""
    trust_source: str = ""  # where the CA, or skipping verification, came from (for messages)
    insecure: bool = False
    tls_server_name: str = ""
    proxy_url: str = ""
    token: str = ""
    username: str = ""
    password: str = ""
    cert_file: str = ""
    cert_data: bytes = b""
    key_file: str = ""
    key_data: bytes = b""
    exec: ExecConfig | None = None
    oidc: OIDCConfig | None = None
    impersonate_user: str = ""
    impersonate_uid: str = ""
    impersonate_groups: tuple[str, ...] = ()
    impersonate_extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    request_timeout: float | None = None

    def __repr__(self) -> str:
        return repr_hiding(self, ("ca_data", "token", "password", "cert_data", "key_data"))

    @property
    def uses_tls(self) -> bool:
        return self.server.startswith("https://")


def load_connection(flags: ConnectionFlags, environ: Mapping[str, str] | None = None, *,
                    service_account_dir: str = SERVICE_ACCOUNT_DIR) -> Connection:
    """Resolve the connection as kubectl would for these flags; raise UsageError/VirtExposeError, naming the
    kubeconfig file(s) it was resolved from."""
    env = os.environ if environ is None else environ
    timeout = parse_request_timeout(flags.request_timeout)
    config = load_config(config_paths(flags, env), explicit=bool(flags.kubeconfig))
    try:
        return _resolve(config, flags, env, service_account_dir, timeout)
    except VirtExposeError as error:
        if not config["files"] or any(path in str(error) for path in config["files"]):
            raise
        raise type(error)(f"{error} (kubeconfig {_files(config)})") from None


def _resolve(config: dict[str, Any], flags: ConnectionFlags, env: Mapping[str, str], service_account_dir: str,
             timeout: float | None) -> Connection:
    context_name = flags.context or config["current-context"]
    context = _pick_context(config, context_name, required=bool(flags.context))
    cluster_name = flags.cluster or context.get("cluster", "")
    user_name = flags.user or context.get("user", "")
    cluster = _override_cluster(_pick(config, "clusters", cluster_name, bool(flags.cluster)), flags)
    user = _override_user(_pick(config, "users", user_name, bool(flags.user)), flags)
    in_cluster = _in_cluster_possible(env, service_account_dir)
    namespace, explicit = _namespace(flags, context, in_cluster, env, service_account_dir)
    use_in_cluster = not _cluster_set(cluster)
    if use_in_cluster:
        if not in_cluster:
            raise VirtExposeError(_no_config_message(flags, env, context_name))
        cluster, user = _in_cluster(flags, env, service_account_dir)
        context_name = cluster_name = user_name = ""
    elif not cluster.get("server"):
        raise VirtExposeError(f'no server found for cluster "{cluster_name}"'
                              " (set it in the kubeconfig or pass --server)")
    base = Connection(server=_server_url(cluster), namespace=namespace, context=context_name,
                      cluster=cluster_name, user=user_name, namespace_explicit=explicit,
                      in_cluster=use_in_cluster, request_timeout=timeout)
    connection = _with_cluster(base, cluster, flags)
    connection = _with_impersonation(connection, user, flags)
    if connection.uses_tls:  # kubectl sends credentials only over TLS
        connection = _with_credentials(connection, user, cluster, config["user-files"].get(user_name, ""))
    return connection


def config_paths(flags: ConnectionFlags, environ: Mapping[str, str]) -> list[str]:
    """The kubeconfig files in precedence order: --kubeconfig, else KUBECONFIG, else ~/.kube/config."""
    if flags.kubeconfig:
        return [flags.kubeconfig]
    listed = environ.get("KUBECONFIG", "")
    if listed:
        return list(dict.fromkeys(path for path in listed.split(os.pathsep) if path))
    home = environ.get("HOME") or environ.get("USERPROFILE") or os.path.expanduser("~")
    return [os.path.join(home, ".kube", "config")]


def load_config(paths: list[str], *, explicit: bool = False) -> dict[str, Any]:
    """Merge kubeconfig files: the first file to name an entry or set current-context wins it.
    `user-files` maps each user to the file it came from (where refreshed OIDC tokens are written)."""
    merged: dict[str, Any] = {"current-context": "", "clusters": {}, "users": {}, "contexts": {},
                              "files": [], "user-files": {}}
    for path in paths:
        document = _read_file(path, explicit=explicit)
        if document is None:
            continue
        merged["files"].append(path)
        if not merged["current-context"]:
            merged["current-context"] = as_text(document.get("current-context"))
        base = os.path.dirname(os.path.abspath(path))
        for section, key in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for name, entry in _named_entries(document, section, key, path).items():
                merged[section].setdefault(name, _resolve_paths(section, entry, base))
                if section == "users":
                    merged["user-files"].setdefault(name, path)
    return merged


def _read_file(path: str, *, explicit: bool) -> dict[str, Any] | None:
    import yaml  # ~10 ms; only a command that talks to the cluster pays it

    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        if explicit:
            raise VirtExposeError(f'kubeconfig file "{path}" (--kubeconfig) does not exist') from None
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise VirtExposeError(f'cannot read kubeconfig file "{path}": {_reason(error)}') from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise VirtExposeError(f'error loading kubeconfig file "{path}": not valid YAML{where}') from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise VirtExposeError(f'error loading kubeconfig file "{path}": not a kubeconfig (no mapping)')
    problem = shape_problem(document)
    if problem:
        raise VirtExposeError(f'error loading kubeconfig file "{path}": {problem}')
    return document


def _named_entries(document: dict[str, Any], section: str, key: str, path: str) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for item in document.get(section) or []:
        if not isinstance(item, dict) or not isinstance(item.get(key) or {}, dict):
            raise VirtExposeError(f'error loading kubeconfig file "{path}": malformed entry in {section}')
        name = as_text(item.get("name"))
        if name in entries:  # as kubectl: "duplicate name in list"
            raise VirtExposeError(f'error loading kubeconfig file "{path}": {section} names "{name}" twice')
        entries[name] = dict(item.get(key) or {})
    return entries


def _resolve_paths(section: str, entry: dict[str, Any], base: str) -> dict[str, Any]:
    keys = {"clusters": ("certificate-authority",),
            "users": ("client-certificate", "client-key", "tokenFile")}.get(section, ())
    for key in keys:
        if entry.get(key):
            entry[key] = _join(base, as_text(entry[key]))
    exec_ = entry.get("exec")
    if isinstance(exec_, dict) and os.sep in as_text(exec_.get("command")):
        exec_ = dict(exec_, command=_join(base, as_text(exec_["command"])))
        entry["exec"] = exec_
    return entry


def _join(base: str, path: str) -> str:
    """Go's filepath.Join: absolute paths stay, relative ones join `base`; the result is cleaned."""
    return os.path.normpath(os.path.join(base, path))


def _pick_context(config: dict[str, Any], name: str, *, required: bool) -> dict[str, Any]:
    if not name:
        return {}
    if name not in config["contexts"]:
        known = ", ".join(sorted(config["contexts"])) or "none"
        origin = "--context" if required else "current-context"
        raise VirtExposeError(f'context "{name}" ({origin}) not found in the kubeconfig'
                              f" {_files(config)} (contexts: {known})")
    return {key: as_text(value) for key, value in config["contexts"][name].items()}


def _pick(config: dict[str, Any], section: str, name: str, required: bool) -> dict[str, Any]:
    entry = config[section].get(name)
    if entry is None and required:
        flag = "--cluster" if section == "clusters" else "--user"
        known = ", ".join(sorted(config[section])) or "none"
        raise VirtExposeError(f'{section[:-1]} "{name}" ({flag}) not found in the kubeconfig'
                              f" {_files(config)} ({section}: {known})")
    return dict(entry or {})


def _override_cluster(cluster: dict[str, Any], flags: ConnectionFlags) -> dict[str, Any]:
    if flags.server:
        cluster["server"] = flags.server
    if flags.insecure_skip_tls_verify or flags.certificate_authority:
        # as kubectl: either flag replaces the kubeconfig's whole CA/skip-verify choice
        cluster["insecure-skip-tls-verify"] = flags.insecure_skip_tls_verify
        cluster["certificate-authority"] = os.path.abspath(flags.certificate_authority or "") \
            if flags.certificate_authority else ""
        cluster.pop("certificate-authority-data", None)
    if flags.tls_server_name or flags.server:
        cluster["tls-server-name"] = flags.tls_server_name or ""
    return cluster


def _override_user(user: dict[str, Any], flags: ConnectionFlags) -> dict[str, Any]:
    if flags.token:
        user["token"] = flags.token
    return user


def _cluster_set(cluster: dict[str, Any]) -> bool:
    return any(value not in (None, "", False, [], {}) for value in cluster.values())


def _in_cluster_possible(environ: Mapping[str, str], sa_dir: str) -> bool:
    return bool(environ.get("KUBERNETES_SERVICE_HOST") and environ.get("KUBERNETES_SERVICE_PORT")
                and os.path.isfile(os.path.join(sa_dir, "token")))


def _in_cluster(flags: ConnectionFlags, environ: Mapping[str, str],
                sa_dir: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod's service account, overridable by --server, --token and --certificate-authority."""
    host, port = environ["KUBERNETES_SERVICE_HOST"], environ["KUBERNETES_SERVICE_PORT"]
    host = f"[{host}]" if ":" in host else host
    cluster = {"server": flags.server or f"https://{host}:{port}",
               "certificate-authority": os.path.abspath(flags.certificate_authority or "")
               if flags.certificate_authority else os.path.join(sa_dir, "ca.crt"),
               "insecure-skip-tls-verify": flags.insecure_skip_tls_verify,
               "tls-server-name": flags.tls_server_name or ""}
    if flags.insecure_skip_tls_verify and not flags.certificate_authority:
        cluster["certificate-authority"] = ""
    user = {"token": flags.token} if flags.token else {"tokenFile": os.path.join(sa_dir, "token")}
    return cluster, user


def _namespace(flags: ConnectionFlags, context: dict[str, Any], in_cluster: bool,
               environ: Mapping[str, str], sa_dir: str) -> tuple[str, bool]:
    if flags.namespace:
        return flags.namespace, True
    if context.get("namespace"):
        return context["namespace"], True
    if in_cluster:
        if environ.get("POD_NAMESPACE"):
            return environ["POD_NAMESPACE"], True
        try:
            with open(os.path.join(sa_dir, "namespace"), encoding="utf-8") as stream:
                namespace = stream.read().strip()
        except OSError:
            namespace = ""
        if namespace:
            return namespace, True
    return "default", False


def _server_url(cluster: dict[str, Any]) -> str:
    """The server as a URL without a trailing slash; a bare host:port gets https when TLS is set up."""
    server = as_text(cluster.get("server")).rstrip("/")
    if "://" not in server:
        tls = cluster.get("certificate-authority") or cluster.get("certificate-authority-data") \
            or _flag(cluster.get("insecure-skip-tls-verify"))
        server = ("https://" if tls else "http://") + server
    scheme = server.split("://", 1)[0].lower()
    if scheme not in ("http", "https") or not server.split("://", 1)[1]:
        raise VirtExposeError(f'server "{server}" is not an http(s) URL or a host:port pair')
    return server.split("?", 1)[0].split("#", 1)[0]


def _with_cluster(connection: Connection, cluster: dict[str, Any], flags: ConnectionFlags) -> Connection:
    name = connection.cluster or "in-cluster"
    ca_data = decode_base64(cluster.get("certificate-authority-data"), f'certificate-authority-data of "{name}"')
    ca_file = as_text(cluster.get("certificate-authority"))
    if ca_file and not ca_data and not os.path.isfile(ca_file):
        raise VirtExposeError(f'cannot read certificate-authority "{ca_file}" of cluster "{name}"')
    insecure = _flag(cluster.get("insecure-skip-tls-verify"))
    if insecure and (ca_file or ca_data):
        raise VirtExposeError(f'cluster "{name}" sets both insecure-skip-tls-verify and a certificate'
                              " authority: remove one (kubectl refuses it too)")
    proxy_url = as_text(cluster.get("proxy-url"))
    scheme = proxy_url.split("://", 1)[0].lower() if "://" in proxy_url else ""
    if proxy_url and scheme not in PROXY_SCHEMES:
        raise VirtExposeError(f'invalid proxy-url of cluster "{name}": scheme "{scheme}" is not one of'
                              f" {', '.join(PROXY_SCHEMES)}")
    return connection._replace(ca_file="" if ca_data else ca_file, ca_data=ca_data, insecure=insecure,
                   trust_source=_trust_source(connection, insecure, bool(ca_data), ca_file, flags),
                   tls_server_name=as_text(cluster.get("tls-server-name")), proxy_url=proxy_url)


def _trust_source(connection: Connection, insecure: bool, ca_data: bool, ca_file: str,
                  flags: ConnectionFlags) -> str:
    """Where the CA, or the choice to skip verification, came from ("": the system's trusted CAs)."""
    if insecure:
        return "--insecure-skip-tls-verify" if flags.insecure_skip_tls_verify else "insecure-skip-tls-verify"
    if ca_data:
        return "certificate-authority-data"
    if flags.certificate_authority:
        return "--certificate-authority"
    if ca_file:
        return "in-cluster" if connection.in_cluster else "certificate-authority"
    return ""


def _with_impersonation(connection: Connection, user: dict[str, Any],
                        flags: ConnectionFlags) -> Connection:
    """As kubectl: each flag replaces its own field of the user's `as*` settings and keeps the others."""
    name = flags.as_user or as_text(user.get("as"))
    uid = flags.as_uid or as_text(user.get("as-uid"))
    groups = tuple(flags.as_groups) or tuple(as_text(group) for group in user.get("as-groups") or ())
    extra = user.get("as-user-extra")
    extra = extra if isinstance(extra, dict) else {}
    if (groups or uid or extra) and not name:
        if flags.as_groups or flags.as_uid:  # as kubectl: the user may come from the kubeconfig's `as`
            raise UsageError("--as-group and --as-uid need a user to impersonate: give --as, or `as` in the "
                             f'kubeconfig\'s user "{connection.user}"')
        raise VirtExposeError(f'user "{connection.user}" in the kubeconfig asks for impersonated'
                              " groups, uid or extra without a user to impersonate (as, or --as)")
    return connection._replace(impersonate_user=name, impersonate_uid=uid, impersonate_groups=groups,
                   impersonate_extra=tuple((as_text(k), tuple(as_text(v) for v in values or ()))
                                           for k, values in extra.items()))


def _with_credentials(connection: Connection, user: dict[str, Any], cluster: dict[str, Any],
                      origin: str) -> Connection:
    who = f'user "{connection.user}"' if connection.user else "the in-cluster service account"
    return connection._replace(**user_credentials(user, cluster, who, name=connection.user, origin=origin))


def _no_config_message(flags: ConnectionFlags, environ: Mapping[str, str], context: str) -> str:
    if context:
        return f'context "{context}" names no cluster with a server (pass --server or fix the kubeconfig)'
    where = "KUBECONFIG" if environ.get("KUBECONFIG") and not flags.kubeconfig else "the kubeconfig"
    return (f"no cluster to talk to: {where} has no current context, this is not a pod with a service"
            " account, and no --server was given; log in first (oc login, or a kubeconfig from your"
            " cluster admin) or pass --kubeconfig/--context")


def _files(config: dict[str, Any]) -> str:
    return ", ".join(config["files"]) or "(no file found)"


def _flag(value: Any) -> bool:
    """A kubeconfig boolean: true only when it says true (a quoted "false" is not true)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or type(error).__name__
