"""The command line, declared: one subparser per verb (`cli.expose_parser`, ...), each built from the shared
flag packs of `cli.flags`. `build_parser()` has no side effects, so the completion generator (shtab) calls
it too.

`expose` is the default verb: `oc virt-expose vm NAME` is `oc virt-expose expose vm NAME`
(`argv.with_verb` puts the verb in), and its help and usage errors read as they did before there were
other verbs. Fixed value sets are checked case-insensitively by the options, so they are not `choices`.
"""

from __future__ import annotations

import argparse
import os

from oc_virt_expose.cli import expose_parser
from oc_virt_expose.cli.flags import Parser

DEFAULT_VERB = expose_parser.VERB
VERBS = (DEFAULT_VERB,)


def program_name(argv0: str) -> str:
    """The command as the user typed it: `kubectl virt-expose`, `oc virt-expose`, or the file name."""
    base = os.path.basename(argv0 or "")
    stem = base[:-4] if base.lower().endswith(".exe") else base
    for host in ("kubectl", "oc"):
        if stem.startswith(host + "-"):
            return f"{host} {stem[len(host) + 1:].replace('_', '-')}"
    if stem in ("__main__.py", "", "-c"):
        return "python -m oc_virt_expose"
    return stem


def build_parser(prog: str = "oc virt-expose") -> argparse.ArgumentParser:
    """The whole command line: a subparser per verb (`dest="command"`); no side effects."""
    parser = Parser(prog=prog, add_help=False, allow_abbrev=False)
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    expose_parser.add_expose_parser(verbs, prog)
    return parser


def verb_parser(parser: argparse.ArgumentParser, verb: str) -> argparse.ArgumentParser:
    """The subparser of `verb` in a parser from `build_parser`."""
    return subparsers(parser).choices[verb]


def subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Parser]:
    """The verbs' action of a parser from `build_parser`."""
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
