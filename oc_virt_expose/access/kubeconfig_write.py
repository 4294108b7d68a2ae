"""Writing refreshed OIDC tokens back into the kubeconfig file their user entry came from, as kubectl does.

kubectl rewrites the whole file from its parsed form (comments and unknown fields are lost, empty sections
become `null`). Here, when possible, only the characters of the two token values change: their YAML
scalars are replaced by double-quoted strings and everything else (comments, key order, quoting, other
entries) stays as written. When that is not possible (the user has no `id-token` key yet, a token is a
block scalar or an alias), the file is rewritten from PyYAML's round trip: the data stays, but comments,
anchors and aliases, quoting, flow style and the spelling of timestamps are lost. Either way the new text
is parsed again and must equal the old content with the new tokens before it replaces the file.

Concurrent writers: kubectl's lock protocol (`FILE.lock` created exclusively, removed afterwards). The
caller holds it from reading the stored tokens to writing the new ones (`locked`), so that a token another
process refreshed meanwhile is found and used rather than refreshed again, and a lock held by another
writer stops the refresh before the issuer is asked (a rotated refresh token is never lost). The new text
goes to a temporary file in the file's directory that then replaces it in one step (a symlink is
followed), with the file's permission bits.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from oc_virt_expose.errors import VirtExposeError

LOCK_WAIT = 1.0  # seconds to wait for another writer's lock file to go


def read_auth_provider_config(path: str, user: str) -> dict[str, str]:
    """`users[user].user.auth-provider.config` as the file holds it now ({} when it cannot be read)."""
    import yaml

    try:
        with open(os.path.realpath(path), encoding="utf-8", newline="") as stream:
            entries = _entries(_load(stream.read()), user)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    provider = entries[-1]["user"].get("auth-provider") if entries else None
    config = provider.get("config") if isinstance(provider, dict) else None
    return {str(key): str(value) for key, value in config.items()} if isinstance(config, dict) else {}


def write_auth_provider_config(path: str, user: str, values: Mapping[str, str]) -> None:
    """Set `values` in `users[user].user.auth-provider.config` of the kubeconfig file at `path` (hold `locked`)."""
    import yaml

    real = os.path.realpath(path)
    try:
        with open(real, encoding="utf-8", newline="") as stream:
            text = stream.read()
        expected = _with_values(_load(text), user, values, path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise _cannot_write(path, user, type(error).__name__) from None
    new_text = _spliced(text, user, values)
    if new_text is None or _parses_to(new_text) != expected:
        new_text = yaml.safe_dump(expected, sort_keys=False, default_flow_style=False, allow_unicode=True)
    _replace(real, new_text, path, user)


def _load(text: str) -> Any:
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _parses_to(text: str) -> Any:
    import yaml

    try:
        return _load(text)
    except yaml.YAMLError:
        return None


def _with_values(document: Any, user: str, values: Mapping[str, str], path: str) -> dict[str, Any]:
    """A copy of the document with the values set (in the last entry of that name, the one the loader uses)."""
    copied: dict[str, Any] = copy.deepcopy(document) if isinstance(document, dict) else {}
    entries = _entries(copied, user)
    if not entries:
        raise _cannot_write(path, user, "the user entry is no longer in the file")
    provider = entries[-1]["user"].setdefault("auth-provider", {})
    if not isinstance(provider.get("config"), dict):
        provider["config"] = {}
    provider["config"].update(values)
    return copied


def _entries(document: Any, user: str) -> list[dict[str, Any]]:
    """The `users` items named `user` whose `user` is a mapping."""
    listed = document.get("users") if isinstance(document, dict) else None
    return [item for item in (listed if isinstance(listed, list) else [])
            if isinstance(item, dict) and str(item.get("name")) == user and isinstance(item.get("user"), dict)]


def _spliced(text: str, user: str, values: Mapping[str, str]) -> str | None:
    """The text with each value's scalar replaced in place, or None when one is missing or not a plain or
    quoted scalar."""
    import json

    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    listed = _node(root, "users")
    users = [item for item in (listed.value if isinstance(listed, yaml.SequenceNode) else [])
             if _scalar(_node(item, "name")) == user]
    config = _node(_node(_node(users[-1], "user"), "auth-provider"), "config") if users else None
    spans = []
    for key, value in values.items():
        node = _node(config, key)
        if not isinstance(node, yaml.ScalarNode) or node.style not in (None, "'", '"'):
            return None
        spans.append((node.start_mark.index, node.end_mark.index, json.dumps(value)))
    for start, end, replacement in sorted(spans, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _node(mapping: Any, key: str) -> Any:
    import yaml

    if not isinstance(mapping, yaml.MappingNode):
        return None
    found = [value for name, value in mapping.value if _scalar(name) == key]
    return found[-1] if found else None


def _scalar(node: Any) -> str | None:
    import yaml

    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


@contextmanager
def locked(path: str, user: str) -> Iterator[None]:
    """Hold kubectl's lock file of the kubeconfig at `path` (waiting up to LOCK_WAIT for another writer)."""
    lock = path + ".lock"
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            break
        except FileExistsError:
            if time.monotonic() >= deadline:
                raise _cannot_write(path, user, f"{lock} exists (kubectl or another program is writing the"
                                                " file; delete the lock file if none is)") from None
            time.sleep(0.05)
        except OSError as error:
            raise _cannot_write(path, user, f"cannot create {lock} ({error.strerror})") from None
    try:
        yield
    finally:
        os.unlink(lock)


def _replace(real: str, text: str, path: str, user: str) -> None:
    import tempfile

    directory = os.path.dirname(real)
    try:
        mode = os.stat(real).st_mode & 0o7777
        fd, temporary = tempfile.mkstemp(prefix=".virt-expose-", dir=directory)
    except OSError as error:
        raise _cannot_write(path, user, error.strerror or type(error).__name__) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, real)
    except OSError as error:
        os.unlink(temporary)
        raise _cannot_write(path, user, error.strerror or type(error).__name__) from None


def _cannot_write(path: str, user: str, reason: str) -> VirtExposeError:
    return VirtExposeError(f'cannot write the refreshed OIDC tokens of user "{user}" to the kubeconfig'
                           f' "{path}": {reason}')
