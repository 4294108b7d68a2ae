"""`cli.argv`: kubectl's command-line forms applied before argparse sees argv."""

from __future__ import annotations

import pytest

from oc_virt_expose.cli.argv import boolean_flags, normalize_argv, value_flags, with_verb
from oc_virt_expose.cli.parser import DEFAULT_VERB, build_parser, verb_parser
from oc_virt_expose.errors import UsageError

EXPOSE = verb_parser(build_parser(), DEFAULT_VERB)
VERBS = ("expose", "list")
VALUE_FLAGS = value_flags(EXPOSE)


def test_normalize_argv() -> None:
    assert normalize_argv(["--force=true", "--overwrite=False", "--wait=0"], EXPOSE) == [
        "--force", "--no-overwrite", "--no-wait"]
    assert normalize_argv(["--dry-run", "vm"], EXPOSE) == ["--dry-run=client", "vm"]
    assert normalize_argv(["vm", "--dry-run"], EXPOSE) == ["vm", "--dry-run=client"]
    assert normalize_argv(["--dry-run", "server"], EXPOSE) == ["--dry-run", "server"]
    assert normalize_argv(["--timeout", "-5s", "-n", "x"], EXPOSE) == ["--timeout=-5s", "-n", "x"]
    assert normalize_argv(["--", "--force=true"], EXPOSE) == ["--", "--force=true"]


def test_a_boolean_flag_takes_only_true_or_false() -> None:
    with pytest.raises(UsageError, match='invalid --force "maybe": must be true or false'):
        normalize_argv(["--force=maybe"], EXPOSE)


def test_flag_kinds_come_from_the_parser() -> None:
    assert {"--port", "--timeout", "-n", "--namespace", "-o", "--as-group"} <= VALUE_FLAGS
    assert VALUE_FLAGS.isdisjoint({"--force", "--no-force", "--help", "-h", "--version", "--dry-run=client"})
    assert {"--force", "--overwrite", "--wait", "--start", "--insecure-skip-tls-verify"} <= boolean_flags(EXPOSE)
    assert boolean_flags(EXPOSE).isdisjoint({"--no-force", "--port", "--timeout"})


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["vm", "x"], ["expose", "vm", "x"]),
        (["expose", "vm", "x"], ["expose", "vm", "x"]),
        (["-n", "ns", "vm", "x"], ["expose", "-n", "ns", "vm", "x"]),
        (["--port", "80", "vm", "x"], ["expose", "--port", "80", "vm", "x"]),
        (["-n", "ns", "list"], ["list", "-n", "ns"]),
        (["--namespace=ns", "--force", "list", "vm"], ["list", "--namespace=ns", "--force", "vm"]),
        (["-n", "list", "vm", "x"], ["expose", "-n", "list", "vm", "x"]),  # a namespace named "list"
        (["--timeout", "5m", "-o", "yaml", "list"], ["list", "--timeout", "5m", "-o", "yaml"]),
        (["--", "list"], ["expose", "--", "list"]),  # after `--` nothing is a verb
        (["vm", "list"], ["expose", "vm", "list"]),  # a VM named "list"
        ([], ["expose"]),
        (["--help"], ["expose", "--help"]),
    ],
)
def test_with_verb_puts_the_verb_first(argv: list[str], expected: list[str]) -> None:
    assert with_verb(argv, VERBS, DEFAULT_VERB, VALUE_FLAGS) == expected
