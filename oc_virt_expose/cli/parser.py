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
from collections.abc import Sequence

from oc_virt_expose.cli import expose_parser
from oc_virt_expose.cli.flags import (
    HelpFormatter,
    Parser,
    add_boolean,
    add_connection_flags,
    add_dry_run_flag,
    add_output_flags,
)

DEFAULT_VERB = expose_parser.VERB
VERBS = (DEFAULT_VERB, "list", "delete")

LIST_DESCRIPTION = """\
List what exposes each VM (or VMI, VMIRS): every Service whose selector selects its pods (its template's
labels, or its running launcher pods' labels), whoever made it, with its type, ports, cluster IPs,
load-balancer address, ready endpoints and Route URL. TYPE defaults to vm."""

LIST_EXAMPLES = """\
examples:
  # What is exposed in the current namespace
  {prog} list

  # Two VMs, with selectors and addresses
  {prog} list vm web-vm db-vm -o wide

  # Every namespace, as YAML
  {prog} list -A -o yaml"""

DELETE_DESCRIPTION = """\
Delete the Services (and their Routes) that virt-expose made for a VM, and the selector labels it added
to the VM (its template, running VMI and pods) that no remaining Service selects on. Services that
select the VM but that virt-expose did not make are left in place and named; --name deletes one
Service by name, whoever made it. Labels you set are never removed."""

DELETE_EXAMPLES = """\
examples:
  # Take down what virt-expose made for example-vm
  {prog} delete vm example-vm

  # Only its SSH Service, keeping the label for the others
  {prog} delete vm example-vm --name example-vm-ssh --keep-label

  # What would be deleted
  {prog} delete vm example-vm --dry-run=client"""


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


def build_parser(prog: str = "oc virt-expose", verbs: Sequence[str] = VERBS) -> argparse.ArgumentParser:
    """The command line of `verbs` (all by default): a subparser per verb (`dest="command"`); no side effects."""
    parser = Parser(prog=prog, add_help=False, allow_abbrev=False)
    verb_parsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    builders = {DEFAULT_VERB: expose_parser.add_expose_parser, "list": add_list_parser, "delete": add_delete_parser}
    for verb in verbs:
        builders[verb](verb_parsers, prog)
    return parser


def add_list_parser(verbs: argparse._SubParsersAction[Parser], prog: str) -> argparse.ArgumentParser:
    parser = verbs.add_parser("list", prog=f"{prog} list", usage=f"{prog} list [TYPE [NAME...]] [flags]",
                              description=LIST_DESCRIPTION, epilog=LIST_EXAMPLES.format(prog=prog),
                              formatter_class=HelpFormatter, allow_abbrev=False,
                              help="list the Services and Routes that reach each VM")
    parser.add_argument("resource_type", metavar="TYPE", nargs="?", default="vm",
                        help="vm (default), vmi or vmirs (or TYPE/NAME)")
    parser.add_argument("resource_names", metavar="NAME", nargs="*", help="only these objects")
    group = parser.add_argument_group("what")
    add_boolean(group, "all-namespaces", "list in every namespace", short="-A")
    group.add_argument("-l", "--selector", action="append", metavar="K=V[,K=V]",
                       help="only objects with these labels")
    add_output_flags(parser.add_argument_group("output"), "wide|yaml|json|name",
                     "wide: add selectors and addresses; yaml, json: a List; name: service/NAME of each Service")
    add_connection_flags(parser.add_argument_group("connection (as kubectl)"))
    return parser


def add_delete_parser(verbs: argparse._SubParsersAction[Parser], prog: str) -> argparse.ArgumentParser:
    parser = verbs.add_parser("delete", prog=f"{prog} delete", usage=f"{prog} delete TYPE NAME [flags]",
                              description=DELETE_DESCRIPTION, epilog=DELETE_EXAMPLES.format(prog=prog),
                              formatter_class=HelpFormatter, allow_abbrev=False,
                              help="delete what virt-expose made for a VM")
    parser.add_argument("resource_type", metavar="TYPE", help="vm, vmi or vmirs (or TYPE/NAME)")
    parser.add_argument("resource_name", metavar="NAME", nargs="?", help="the object")
    group = parser.add_argument_group("what")
    group.add_argument("--name", dest="service_name", metavar="NAME",
                       help="delete only this Service (and its Route), whoever made it")
    add_boolean(group, "keep-label", "leave the selector labels on the VM")
    add_output_flags(parser.add_argument_group("output"), "name", "name: TYPE/NAME of each deleted object")
    add_dry_run_flag(parser.add_argument_group("output"))
    add_connection_flags(parser.add_argument_group("connection (as kubectl)"))
    return parser


def verb_parser(parser: argparse.ArgumentParser, verb: str) -> argparse.ArgumentParser:
    """The subparser of `verb` in a parser from `build_parser`."""
    return subparsers(parser).choices[verb]


def subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Parser]:
    """The verbs' action of a parser from `build_parser`."""
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
