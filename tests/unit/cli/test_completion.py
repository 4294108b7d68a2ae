"""`cli.completion.decorate`: what the generated shell scripts complete, on every subcommand they know."""

from __future__ import annotations

import argparse

import shtab

from oc_virt_expose.cli.completion import HIDDEN_TCSH, completion_parser, decorate, value_sets
from oc_virt_expose.cli.parser import VERBS, subparsers
from oc_virt_expose.model.kinds import RESOURCE_KINDS

PROG = "kubectl virt-expose"
KUBECONFIG_NAMES = ("context", "cluster", "user", "namespace")
FILES = ("kubeconfig", "certificate_authority")
TYPE_WORDS = tuple(kind.short for kind in RESOURCE_KINDS)


def completed_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand of the script's grammar (each verb and each TYPE word), decorated."""
    return dict(subparsers(decorate(completion_parser(PROG), PROG)).choices)


def test_every_verb_and_type_word_is_a_subcommand_of_the_scripts() -> None:
    assert set(completed_parsers()) == {*VERBS, *TYPE_WORDS}


def test_names_and_kubeconfig_values_are_completed_from_the_program() -> None:
    for word, parser in completed_parsers().items():
        by_dest = {action.dest: action for action in parser._actions}
        names = [action for action in parser._actions if action.metavar == "NAME" and not action.option_strings]
        assert names, f"{word}: no NAME positional"
        for action in [*names, *(by_dest[dest] for dest in KUBECONFIG_NAMES)]:
            dynamic = getattr(action, "complete", None)
            assert isinstance(dynamic, dict), f"{word} {action.dest}: {dynamic!r}"
            for shell in ("bash", "zsh"):  # the function the script calls is defined in its preamble
                assert f"{dynamic[shell]}()" in dynamic["preamble"][shell], (word, action.dest, shell)
            assert dynamic["tcsh"] == f"`{PROG} {HIDDEN_TCSH}`"


def test_files_are_completed_by_the_shell() -> None:
    for word, parser in completed_parsers().items():
        by_dest = {action.dest: action for action in parser._actions}
        for dest in FILES:
            assert getattr(by_dest[dest], "complete", None) == shtab.FILE, (word, dest)


def test_fixed_values_become_choices() -> None:
    fixed = value_sets()
    for word, parser in completed_parsers().items():
        offered = {action.dest: action.choices for action in parser._actions if action.dest in fixed}
        assert "output" in offered, word
        assert offered == {dest: fixed[dest] for dest in offered}, word
        types = [action for action in parser._actions if action.dest == "resource_type"]
        assert all(tuple(action.choices or ()) == TYPE_WORDS for action in types), word
    assert [action.dest for action in completed_parsers()["expose"]._actions if action.dest == "resource_type"]
