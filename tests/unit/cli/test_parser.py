"""`cli.parser`: the program's name as invoked, and the verbs' subparsers."""

from __future__ import annotations

import pytest

from oc_virt_expose.cli.parser import DEFAULT_VERB, VERBS, build_parser, program_name, subparsers, verb_parser


@pytest.mark.parametrize(
    ("argv0", "name"),
    [
        ("/usr/local/bin/kubectl-virt_expose", "kubectl virt-expose"),
        ("oc-virt_expose", "oc virt-expose"),
        ("C:\\bin\\kubectl-virt_expose.exe".replace("\\", "/"), "kubectl virt-expose"),
        ("/x/oc_virt_expose/__main__.py", "python -m oc_virt_expose"),
        ("virt-expose", "virt-expose"),
    ],
)
def test_program_name_as_invoked(argv0: str, name: str) -> None:
    assert program_name(argv0) == name


def test_one_subparser_per_verb_expose_first() -> None:
    parser = build_parser("kubectl virt-expose")
    assert list(subparsers(parser).choices) == list(VERBS)
    assert VERBS[0] == DEFAULT_VERB
    expose = verb_parser(parser, DEFAULT_VERB)
    assert expose.prog == "kubectl virt-expose"  # the default verb's help reads as the plugin's own
    assert expose.parse_args(["vm", "x"]).resource_type == "vm"
