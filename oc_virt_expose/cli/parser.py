"""The command line, declared: one subparser per verb, built from shared flag packs (connection, output,
dry-run, wait), so every command spells a flag the same way. `build_parser()` has no side effects, so the
completion generator (shtab) calls it too.

`expose` is the default verb: `oc virt-expose vm NAME` is `oc virt-expose expose vm NAME`
(`argv.with_verb` puts the verb in), and its help and usage errors read as they did before there were
other verbs. Fixed value sets are checked case-insensitively by the options, so they are not `choices`.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from oc_virt_expose import __version__
from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.settings import DEFAULT_FIELD_MANAGER, DEFAULT_TIMEOUT

if TYPE_CHECKING:  # annotations only: `--help` imports as little as it can
    from typing import NoReturn

DEFAULT_VERB = "expose"
VERBS = (DEFAULT_VERB,)

DESCRIPTION = """\
Expose a KubeVirt / OpenShift Virtualization virtual machine through a Service, in one command.

TYPE is vm (virtualmachine), vmi (virtualmachineinstance) or vmirs (virtualmachineinstancereplicaset),
case-insensitive, singular or plural; TYPE/NAME works too. It checks that traffic can reach the guest
(pod network, forwarded ports), chooses a selector (--selector; else the launcher pod's
vmi.kubevirt.io/id; else the template label kubevirt.io/domain), adds missing labels without
changing yours (live on a running VM: its VMI and pod, no restart), creates the Service and verifies
that it has a ready endpoint on the VM. Without --port, the ports the VM declares on its pod-network
interface are used."""

EXAMPLES = """\
examples:
  # Expose the VM example-vm on port 80 inside the cluster
  {prog} vm example-vm --port 80

  # The OpenShift Virtualization procedure (label special=key, NodePort 30000 to guest port 9376)
  {prog} vm example-vm -n example-namespace --name example-service --selector special=key \\
      --type NodePort --port 80 --target-port 9376 --node-port 30000

  # SSH on port 2222 and HTTPS, dual-stack
  {prog} vm example-vm --port 2222:22,443 --ip-families IPv4,IPv6

  # DNS over UDP and TCP from a VM instance
  {prog} vmi dns-vm --port 53/UDP,53/TCP

  # Show the Service and the label change without making them
  {prog} vm example-vm --port 80 --dry-run=client -o yaml

exit status:
  0 done and verified, 1 error, 2 usage error, 3 done but not serving yet, 130 interrupted"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows `-l, --labels K=V` rather than argparse's `-l K=V, --labels K=V`."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        metavar = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {metavar}"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are `UsageError`s, reported once by `main`."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


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
    parser = _Parser(prog=prog, add_help=False, allow_abbrev=False)
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_expose_parser(verbs, prog)
    return parser


def verb_parser(parser: argparse.ArgumentParser, verb: str) -> argparse.ArgumentParser:
    """The subparser of `verb` in a parser from `build_parser`."""
    return subparsers(parser).choices[verb]


def subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[_Parser]:
    """The verbs' action of a parser from `build_parser`."""
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))


def add_expose_parser(verbs: argparse._SubParsersAction[_Parser], prog: str) -> argparse.ArgumentParser:
    parser = verbs.add_parser(
        DEFAULT_VERB,
        prog=prog,
        usage=f"{prog} [expose] TYPE NAME [--port PORT[:TARGET][/PROTOCOL]] [flags]",
        description=DESCRIPTION,
        epilog=EXAMPLES.format(prog=prog),
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
        help="expose a VM through a Service (the default command)",
    )
    add_expose_arguments(parser)
    return parser


def add_expose_arguments(parser: argparse.ArgumentParser, *, with_type: bool = True) -> None:
    """`expose`'s positionals and flags (`with_type=False`: NAME only, for completing `vm NAME`)."""
    if with_type:
        parser.add_argument("resource_type", metavar="TYPE", help="vm, vmi or vmirs (or TYPE/NAME)")
    parser.add_argument("resource_name", metavar="NAME", nargs=None if not with_type else "?",
                        help="the object to expose")
    _add_port_flags(parser.add_argument_group("ports"))
    _add_service_flags(parser.add_argument_group("service"))
    _add_flow_flags(parser.add_argument_group("flow"))
    add_wait_flags(parser.add_argument_group("verification"))
    add_output_flags(parser.add_argument_group("output"), "yaml|json|name",
                     "print the Service (and changed objects) in this format")
    add_dry_run_flag(parser.add_argument_group("output"))
    add_connection_flags(parser.add_argument_group("connection (as kubectl)"))


def _add_port_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--port", action="append", metavar="PORT[:TARGET][/PROTOCOL]",
                       help="port(s) of the Service, repeatable or comma-separated (default: the "
                            "ports the VM declares)")
    group.add_argument("--target-port", metavar="NUMBER|NAME",
                       help="port of the VM to send to, for ports without :TARGET (default: the port)")
    group.add_argument("--protocol", metavar="TCP|UDP|SCTP",
                       help="protocol of ports without /PROTOCOL (default: TCP)")
    group.add_argument("--node-port", metavar="PORT",
                       help="node port, for --type NodePort or LoadBalancer (default: chosen by the cluster)")
    group.add_argument("--port-name", metavar="NAME", help="name of the port, when there is one")


def _add_service_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--name", dest="service_name", metavar="NAME",
                       help="name of the Service (default: the object's name)")
    group.add_argument("--type", dest="service_type", metavar="TYPE",
                       help="ClusterIP (default), NodePort or LoadBalancer")
    group.add_argument("--cluster-ip", metavar="IP|None",
                       help="cluster IP to ask for; None makes a headless Service")
    group.add_argument("--external-ip", action="append", metavar="IP",
                       help="external IP the Service accepts too, repeatable")
    group.add_argument("--load-balancer-ip", metavar="IP", help="IP to ask of the load balancer")
    group.add_argument("--session-affinity", metavar="None|ClientIP", help="session affinity")
    group.add_argument("--ip-family-policy", metavar="POLICY",
                       help="SingleStack, PreferDualStack or RequireDualStack (default: PreferDualStack "
                            "with two families, else the cluster's)")
    group.add_argument("--ip-families", "--ip-family", dest="ip_families", action="append",
                       metavar="IPv4,IPv6", help="IP families in order, comma-separated or repeated")
    group.add_argument("-l", "--labels", action="append", metavar="K=V[,K=V]",
                       help="labels of the Service (default: the object's labels)")
    group.add_argument("--selector", action="append", metavar="K=V[,K=V]",
                       help="pod selector; its labels are added to the VM where missing "
                            "(default: chosen, see above)")
    _add_boolean(group, "overwrite", "update a different existing Service of that name in place")
    group.add_argument("--field-manager", default=DEFAULT_FIELD_MANAGER, metavar="NAME",
                       help=f"name of the field manager of the changes (default: {DEFAULT_FIELD_MANAGER})")


def _add_flow_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--restart", default="auto", metavar="auto|always|never",
                       help="how a running VM gets missing labels: auto labels it live (default), "
                            "always restarts it, never changes only its template")
    _add_boolean(group, "start", "start a stopped VM, then verify")
    _add_boolean(group, "force", "create the Service even when the VM does not forward its port")


def add_wait_flags(group: argparse._ArgumentGroup) -> None:
    """`--wait`/`--no-wait` and `--timeout`: the shared flag pack of commands that verify."""
    _add_boolean(group, "wait", "verify that the Service has a ready endpoint on the VM (default)",
                 default=True, negation_help="do not verify")
    group.add_argument("--timeout", default=DEFAULT_TIMEOUT, metavar="DURATION",
                       help=f"how long to verify, e.g. 90s, 5m, 1h; 0 checks once (default: {DEFAULT_TIMEOUT})")


def add_dry_run_flag(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--dry-run", default="none", metavar="none|client|server",
                       help="client: print what would be done, send no write; server: send every "
                            "write as a dry run (a bare --dry-run means client)")


def add_output_flags(group: argparse._ArgumentGroup, formats: str, help_text: str) -> None:
    """`-o`, `-v` and `--version`: the output flag pack of every command."""
    group.add_argument("-o", "--output", metavar=formats, help=help_text)
    group.add_argument("-v", "--v", dest="verbosity", type=int, default=0, metavar="N",
                       help="log level: 6 logs requests, 8 their bodies (credentials redacted)")
    group.add_argument("--version", action="version", version=f"virt-expose {__version__}")


def add_connection_flags(group: argparse._ArgumentGroup) -> None:
    """kubectl's connection flags: the flag pack every command that talks to the cluster shares."""
    group.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default: KUBECONFIG, ~/.kube/config)")
    group.add_argument("--context", metavar="NAME", help="kubeconfig context")
    group.add_argument("--cluster", metavar="NAME", help="kubeconfig cluster")
    group.add_argument("--user", metavar="NAME", help="kubeconfig user")
    group.add_argument("-n", "--namespace", metavar="NAMESPACE", help="namespace of the object")
    group.add_argument("-s", "--server", metavar="URL", help="API server address")
    group.add_argument("--token", metavar="TOKEN", help="bearer token")
    group.add_argument("--certificate-authority", metavar="FILE", help="CA certificate file")
    _add_boolean(group, "insecure-skip-tls-verify", "do not verify the server's certificate (insecure)")
    group.add_argument("--tls-server-name", metavar="NAME", help="server name to verify the certificate against")
    group.add_argument("--request-timeout", metavar="DURATION",
                       help="timeout of one request, e.g. 30s; 0 means none (default: 0)")
    group.add_argument("--as", dest="as_user", metavar="USER", help="user to impersonate")
    group.add_argument("--as-group", dest="as_groups", action="append", metavar="GROUP",
                       help="group to impersonate, repeatable")
    group.add_argument("--as-uid", metavar="UID", help="UID to impersonate")


def _add_boolean(group: argparse._ArgumentGroup, flag: str, help_text: str, *, default: bool = False,
                 negation_help: str | None = None) -> None:
    """`--flag` and `--no-flag` (shown only with `negation_help`); `--flag=false` is normalized."""
    dest = flag.replace("-", "_")
    group.add_argument(f"--{flag}", dest=dest, action="store_true", default=default, help=help_text)
    group.add_argument(f"--no-{flag}", dest=dest, action="store_false",
                       help=negation_help or argparse.SUPPRESS)
