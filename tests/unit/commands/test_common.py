"""`commands.common`: the flags every command shares -> `CommonOptions`, and the small value parsers."""

from __future__ import annotations

import argparse
import enum
from typing import Any

import pytest

from oc_virt_expose.commands.common import choice, common_options, optional, parse_ip, split_commas, values
from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.settings import CommonOptions, ConnectionFlags, DryRun, OutputFormat
from tests.unit.builders import common_for


def shared_flags(**given: Any) -> argparse.Namespace:
    """The shared flags as a verb without `--dry-run` parses them (none given unless in `given`)."""
    flags: dict[str, Any] = {**{name: None for name in ConnectionFlags._fields},
                             "insecure_skip_tls_verify": False, "as_groups": None, "verbosity": 0, "output": None}
    return argparse.Namespace(**{**flags, **given})


def test_connection_flags() -> None:
    common = common_for(
        "vm", "x", "--kubeconfig", "/k", "--context", "c", "--cluster", "cl", "--user", "u", "-n", "ns",
        "-s", "https://h:6443", "--token", "t", "--certificate-authority", "/ca", "--tls-server-name", "h",
        "--request-timeout", "30s", "--as", "me", "--as-group", "g1", "--as-group", "g2", "--as-uid", "42")
    connection = common.connection
    assert (connection.kubeconfig, connection.context, connection.cluster, connection.user) == ("/k", "c", "cl", "u")
    assert (connection.namespace, connection.server, connection.token) == ("ns", "https://h:6443", "t")
    assert (connection.certificate_authority, connection.tls_server_name) == ("/ca", "h")
    assert connection.request_timeout == "30s"
    assert (connection.as_user, connection.as_groups, connection.as_uid) == ("me", ("g1", "g2"), "42")
    assert common_for("vm", "x", "--insecure-skip-tls-verify").connection.insecure_skip_tls_verify


def test_a_verb_without_dry_run_gets_none_and_its_own_outputs() -> None:
    assert common_options(shared_flags()) == CommonOptions()
    wide = common_options(shared_flags(output="WIDE", verbosity=6), outputs=(OutputFormat.WIDE, OutputFormat.NAME))
    assert (wide.output, wide.verbosity, wide.dry_run) == (OutputFormat.WIDE, 6, DryRun.NONE)
    with pytest.raises(UsageError, match='invalid --output "yaml": must be one of wide, name'):
        common_options(shared_flags(output="yaml"), outputs=(OutputFormat.WIDE, OutputFormat.NAME))


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"namespace": "Bad_NS"}, 'invalid --namespace "Bad_NS"'),
        ({"insecure_skip_tls_verify": True, "certificate_authority": "/ca"}, "cannot be combined"),
        ({"request_timeout": "soon"}, "--request-timeout"),
        ({"verbosity": -1}, "-v cannot be negative"),
        ({"dry_run": "both"}, 'invalid --dry-run "both": must be one of none, client, server'),
    ],
)
def test_shared_flags_are_validated(given: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        common_options(shared_flags(**given))


class Color(str, enum.Enum):
    RED = "Red"
    DARK_BLUE = "DarkBlue"


def test_choice_is_case_insensitive_and_canonical() -> None:
    assert choice(" darkblue ", values(Color), "--color") == "DarkBlue"
    assert choice(None, values(Color), "--color") is None
    with pytest.raises(UsageError, match='invalid --color "green": must be one of Red, DarkBlue'):
        choice("green", values(Color), "--color")


def test_small_parsers() -> None:
    assert split_commas(["a, b", "", " c ,"]) == ["a", "b", "c"]
    assert split_commas(None) == []
    assert optional(int, None) is None and optional(int, "7") == 7
    assert parse_ip(" FD00::0001 ", "--external-ip") == "fd00::1"
    assert parse_ip("10.0.0.1", "--external-ip") == "10.0.0.1"
    with pytest.raises(UsageError, match=r'invalid --external-ip "10\.0\.0\.300": not an IPv4 or IPv6 address'):
        parse_ip("10.0.0.300", "--external-ip")


def test_impersonated_groups_without_as_are_left_to_the_kubeconfig() -> None:
    """kubectl takes the user to impersonate from the kubeconfig's `as` when only --as-group is given."""
    assert common_options(shared_flags(as_groups=("ops",))).connection.as_groups == ("ops",)
