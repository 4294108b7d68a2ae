"""The shape of a kubeconfig file, after client-go's clientcmd/api/v1 types: where a map, a list or a single
value belongs. `kubeconfig` checks a file against it before reading any entry, so a field of the wrong kind
is one error naming the file and the field (kubectl: "cannot unmarshal ... into Go struct field ...")
rather than a crash further on. Single values stay lenient: a number where text belongs is read as text.
"""

from __future__ import annotations

from typing import Any

VALUE = "a single value"
ANY = "anything"
EXTENSIONS = [{"name": VALUE, "extension": ANY}]
SHAPE: dict[str, Any] = {
    "apiVersion": VALUE, "kind": VALUE, "current-context": VALUE, "extensions": EXTENSIONS,
    "preferences": {"colors": VALUE, "extensions": EXTENSIONS},
    "clusters": [{"name": VALUE, "cluster": {
        "server": VALUE, "tls-server-name": VALUE, "insecure-skip-tls-verify": VALUE, "certificate-authority": VALUE,
        "certificate-authority-data": VALUE, "proxy-url": VALUE, "disable-compression": VALUE,
        "extensions": EXTENSIONS}}],
    "users": [{"name": VALUE, "user": {
        "client-certificate": VALUE, "client-certificate-data": VALUE, "client-key": VALUE, "client-key-data": VALUE,
        "token": VALUE, "tokenFile": VALUE, "as": VALUE, "as-uid": VALUE, "as-groups": [VALUE],
        "as-user-extra": {"*": [VALUE]}, "username": VALUE, "password": VALUE,
        "auth-provider": {"name": VALUE, "config": {"*": VALUE}},
        "exec": {"command": VALUE, "args": [VALUE], "env": [{"name": VALUE, "value": VALUE}], "apiVersion": VALUE,
                 "installHint": VALUE, "provideClusterInfo": VALUE, "interactiveMode": VALUE},
        "extensions": EXTENSIONS}}],
    "contexts": [{"name": VALUE, "context": {"cluster": VALUE, "user": VALUE, "namespace": VALUE,
                                             "extensions": EXTENSIONS}}],
}
"""Field -> its shape: a map of fields (`"*"`: any key), a list of one shape, `VALUE` or `ANY`. Fields not
listed are not read, so anything goes there."""


def shape_problem(value: Any, shape: Any = SHAPE, where: str = "") -> str | None:
    """Where `value` departs from `shape`, e.g. `users[0].user.as-groups must be a list, not a number`; None
    when it does not. An empty field (null) fits any shape, but an empty entry of a list of maps does not."""
    in_list = where.endswith("]")
    if shape == ANY or (value is None and (shape == VALUE or not in_list)):
        return None
    if shape == VALUE:
        return None if not isinstance(value, (dict, list)) else f"{where} must be {VALUE}, not {_kind(value)}"
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{where} must be a list, not {_kind(value)}"
        return next((problem for index, item in enumerate(value)
                     if (problem := shape_problem(item, shape[0], f"{where}[{index}]"))), None)
    if not isinstance(value, dict):
        return f"{where} must be a map, not {_kind(value)}"
    return next((problem for key, item in value.items() if (problem := shape_problem(
        item, shape.get(key, shape.get("*", ANY)) if isinstance(key, str) else shape.get("*", ANY),
        f"{where}.{key}" if where else str(key)))), None)


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, (int, float)) else "text"
