"""Fuzzed kubeconfig files (issue 12.5): a valid kubeconfig, damaged the ways files get damaged (a field
of the wrong type, a field missing, an entry twice, a current-context naming nothing, the file cut short,
binary junk), through `access.kubeconfig.load_connection` as a run reads it. Either it resolves, or it
raises one `VirtExposeError` (or `UsageError`) whose one-line message names the file; never another
exception. Nothing is run or sent: exec plugins and OIDC refreshes wait for a first request.

Reproducible: `strategies.FUZZ` is derandomized.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from oc_virt_expose.access.kubeconfig import load_config, load_connection
from oc_virt_expose.errors import VirtExposeError
from oc_virt_expose.model.settings import ConnectionFlags
from tests.unit.fuzz.strategies import FUZZ, JUNK, pick, up_to

PEM = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nTUlJQmZha2U=\n-----END CERTIFICATE-----\n").decode()
USERS = (
    {"token": "not-a-secret"},
    {"client-certificate-data": PEM, "client-key-data": PEM},
    {"username": "admin", "password": "not-a-secret"},
    {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "get-token", "args": ["--x"],
              "env": [{"name": "A", "value": "b"}], "interactiveMode": "Never", "provideClusterInfo": True}},
    {"auth-provider": {"name": "oidc", "config": {"idp-issuer-url": "https://issuer.invalid", "client-id": "k",
                                                  "id-token": "a.b.c", "refresh-token": "r"}}},
    {"token": "t", "as": "alice", "as-groups": ["dev", "ops"], "as-uid": "1", "as-user-extra": {"team": ["a"]}},
)
"""A user of each kind of credential the loader reads."""
CLUSTERS = (
    {"server": "https://127.0.0.1:6443", "certificate-authority-data": PEM, "tls-server-name": "api"},
    {"server": "https://[::1]:6443", "insecure-skip-tls-verify": True, "proxy-url": "socks5://127.0.0.1:1080"},
    {"server": "127.0.0.1:6443", "extensions": [{"name": "client.authentication.k8s.io/exec",
                                                 "extension": {"audience": "x"}}]},
)
WRONG = ([], {}, [1, "a"], {"a": [1]}, 0, -1, 1.5, True, False, None, "", "x", "\x7f\n", "é" * 3, b"\xff\x00",
         [[[]]], {"name": None})
"""Values of the wrong type or form: lists where maps go, numbers and booleans for strings, nothing, bytes."""
WRONG_VALUES = st.sampled_from(WRONG)


def kubeconfig(cluster: int, user: int) -> dict[str, Any]:
    """A valid kubeconfig with the cluster and the user of those numbers, of its own (to be damaged)."""
    return copy.deepcopy({
        "apiVersion": "v1", "kind": "Config", "current-context": "c", "preferences": {},
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "ns"}},
                     {"name": "other", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": CLUSTERS[cluster]}],
        "users": [{"name": "u", "user": USERS[user]}],
    })


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key and index path of a document, the root's children first."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def parent(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        document = document[key]
    return document


class Damaged(NamedTuple):
    content: bytes
    how: str
    """What was done to the file, for the failure report."""


@st.composite
def damaged_kubeconfigs(draw: st.DrawFn) -> Damaged:
    """A kubeconfig with 1 to 3 changes to its document, then maybe cut short or spliced with junk bytes."""
    document: Any = kubeconfig(draw(up_to(len(CLUSTERS) - 1)), draw(up_to(len(USERS) - 1)))
    done = []
    for _ in range(draw(st.integers(1, 3))):
        every = list(paths(document))
        change = draw(pick(("wrong type", "missing", "twice", "no such context", "whole document")))
        if change == "whole document":
            document = copy.deepcopy(draw(WRONG_VALUES))
        elif change == "no such context":
            document = {**document, "current-context": "nothing"} if isinstance(document, dict) else document
        elif every:
            path = every[draw(up_to(len(every) - 1))]
            holder = parent(document, path)
            if change == "wrong type":
                holder[path[-1]] = copy.deepcopy(draw(WRONG_VALUES))
            elif change == "missing":
                del holder[path[-1]]
            elif isinstance(holder, list):
                holder.append(copy.deepcopy(holder[path[-1]]))
        done.append(change)
    content = yaml.safe_dump(document, allow_unicode=draw(st.booleans())).encode()
    cut = draw(pick(("whole", "cut short", "junk bytes", "not UTF-8")))
    if cut == "cut short":
        content = content[:draw(up_to(len(content)))]
    elif cut == "junk bytes":
        at = draw(up_to(len(content)))
        content = content[:at] + draw(st.binary(max_size=16)) + content[at:]
    elif cut == "not UTF-8":
        content = content.replace(b"k", b"\xe9", 1)
    return Damaged(content, f"{', '.join(done)}; {cut}")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubeconfigs")


def assert_named_error(error: VirtExposeError, path: str) -> None:
    """One line (a line break inside comes only from the file's own text, which main prints as a space),
    naming the file."""
    message = str(error)
    assert message and path in message, message


@settings(FUZZ, max_examples=400)
@given(damaged=damaged_kubeconfigs())
def test_a_damaged_kubeconfig_resolves_or_is_one_error_naming_the_file(damaged: Damaged, folder: Path) -> None:
    path = folder / "config"
    path.write_bytes(damaged.content)
    try:
        load_connection(ConnectionFlags(kubeconfig=str(path)), {}, service_account_dir=str(folder / "no-pod"))
    except VirtExposeError as error:
        assert_named_error(error, str(path))


@settings(FUZZ, max_examples=150)
@given(content=st.one_of(st.binary(max_size=200), JUNK.map(lambda text: text.encode("utf-8", "surrogatepass"))))
def test_junk_bytes_are_one_error_naming_the_file(content: bytes, folder: Path) -> None:
    path = folder / "junk"
    path.write_bytes(content)
    try:
        load_config([str(path)], explicit=True)
    except VirtExposeError as error:
        assert_named_error(error, str(path))


def dotted(path: tuple[Any, ...]) -> str:
    """`users[0].user.as-groups`, as the loader names a field."""
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path).lstrip(".")


@pytest.mark.parametrize("user", range(len(USERS)))
def test_every_field_of_the_wrong_kind_is_one_error_naming_the_file_and_the_field(user: int, folder: Path) -> None:
    """Each field of a kubeconfig in turn a list, a map, a number or empty, the rest intact: resolved,
    or one error that names the file, and names the field when its kind is what is wrong."""
    path = folder / f"sweep-{user}"
    unnamed = []
    for field in paths(kubeconfig(user % len(CLUSTERS), user)):
        for wrong in ([], {"a": 1}, 7, None):
            document = kubeconfig(user % len(CLUSTERS), user)
            parent(document, field)[field[-1]] = copy.deepcopy(wrong)
            path.write_text(json.dumps(document))  # JSON is YAML, and quicker to write
            try:
                load_connection(ConnectionFlags(kubeconfig=str(path)), {}, service_account_dir=str(folder / "no-pod"))
            except VirtExposeError as error:
                message = str(error)
                about_kind = message.startswith("error loading kubeconfig file") and " must be " in message
                if str(path) not in message or (about_kind and dotted(field) not in message):
                    unnamed.append((dotted(field), wrong, message))
    assert unnamed == []
