"""`model.labels`: label syntax as the API server checks it, `k=v` parsing, KubeVirt's id label, selector
matching; pure."""

from __future__ import annotations

import pytest

from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.labels import (
    format_labels,
    is_dns1123_label,
    label_key_problem,
    label_selector_matches,
    label_value_problem,
    parse_label_pairs,
    refuse_unstable_keys,
    vmi_id,
)

LONG_NAME = "my-very-long-virtual-machine-name-that-goes-on-and-on-past-the-label-limit"


def test_vmi_id_as_kubevirt_computes_it() -> None:
    # Values checked with `printf NAME | sha1sum`: KubeVirt keeps 54 characters, '-', 8 hex of sha1.
    assert vmi_id("example-vm") == "example-vm"
    assert vmi_id("a" * 63) == "a" * 63
    assert vmi_id("a" * 64) == "a" * 54 + "-0098ba82"
    assert vmi_id(LONG_NAME) == LONG_NAME[:54] + "-c2cfed40"
    assert len(vmi_id(LONG_NAME)) == 63


@pytest.mark.parametrize("key", ["special", "app.kubernetes.io/name", "a_b.c-d", "example.com/x", "A"])
def test_valid_label_keys(key: str) -> None:
    assert label_key_problem(key) is None


@pytest.mark.parametrize("key", ["", "-a", "a-", "Example.com/x", "/x", "a/", "x" * 64, "a/b/c", "a b"])
def test_invalid_label_keys(key: str) -> None:
    assert label_key_problem(key)


def test_label_values() -> None:
    assert label_value_problem("") is None
    assert label_value_problem("key") is None
    assert label_value_problem("v" * 63) is None
    assert label_value_problem("v" * 64)
    assert label_value_problem("a b")
    assert label_value_problem("-a")


def test_parse_label_pairs() -> None:
    assert parse_label_pairs(["special=key"], "--selector") == {"special": "key"}
    assert parse_label_pairs(["a=1,b=2", "c="], "--labels") == {"a": "1", "b": "2", "c": ""}
    assert parse_label_pairs(["a=1", "a=1"], "--labels") == {"a": "1"}
    for bad, message in [
        ("a", "expected key=value"),
        ("a==b", "equality-based"),
        ("a!=b", "equality-based"),
        ("a=b=c", "expected key=value"),
        ("=b", "its name must be"),
        ("a=b c", "a value must be"),
    ]:
        with pytest.raises(UsageError, match=message):
            parse_label_pairs([bad], "--selector")
    with pytest.raises(UsageError, match="given twice"):
        parse_label_pairs(["a=1,a=2"], "--labels")


def test_label_selector_matches() -> None:
    labels = {"app": "web", "tier": "front"}
    assert label_selector_matches({}, labels)
    assert label_selector_matches({"matchLabels": {"app": "web"}}, labels)
    assert not label_selector_matches({"matchLabels": {"app": "db"}}, labels)
    cases = [
        ({"key": "tier", "operator": "In", "values": ["front", "x"]}, True),
        ({"key": "tier", "operator": "NotIn", "values": ["front"]}, False),
        ({"key": "missing", "operator": "NotIn", "values": ["a"]}, True),
        ({"key": "app", "operator": "Exists"}, True),
        ({"key": "app", "operator": "DoesNotExist"}, False),
        ({"key": "app", "operator": "Bogus"}, False),
    ]
    for expression, expected in cases:
        assert label_selector_matches({"matchExpressions": [expression]}, labels) is expected


def test_namespace_syntax_and_label_lists() -> None:
    assert is_dns1123_label("example-namespace") and is_dns1123_label("a" * 63)
    assert not any(is_dns1123_label(text) for text in ("", "Bad_NS", "-a", "a-", "a" * 64, "a.b"))
    assert format_labels({"special": "key", "kubevirt.io/domain": "vm"}) == "special=key,kubevirt.io/domain=vm"
    refuse_unstable_keys({"special": "key"})
    with pytest.raises(UsageError, match=r'cannot select on "kubevirt\.io/nodeName": it changes when the VM moves'):
        refuse_unstable_keys({"special": "key", "kubevirt.io/nodeName": "n1"})
