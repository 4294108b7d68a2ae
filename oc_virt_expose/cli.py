"""The command line: `build_parser()` declares it, `main()` is the one error boundary.

`--help` and `--version` import nothing but argparse and this package's `errors`; a usage error adds only
the light option modules (no dataclasses, no kubeconfig, no client: a unit test holds this). The run and
its HTTP client are imported only once the options validate. `build_parser()` has no side effects, so a
completion generator (shtab) can call it; `find_action(parser, dest)` finds the actions to give a
`.complete` (dests `resource_type`, `resource_name`, `context`, `namespace`, ...).

kubectl's flag forms are accepted: `--flag=value` and `--flag value`; booleans as `--force`,
`--force=true` or `--force=false`; a bare `--dry-run` means `--dry-run=client`, as in kubectl.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from oc_virt_expose import __version__
from oc_virt_expose.errors import ExitCode, UsageError, VirtExposeError

if TYPE_CHECKING:  # annotations only: `--help` imports as little as it can
    from collections.abc import Collection, Sequence
    from typing import NoReturn

BOOLEAN_FLAGS = ("overwrite", "start", "wait", "force", "insecure-skip-tls-verify")
DRY_RUN_MODES = ("none", "client", "server")
DEFAULT_TIMEOUT = "5m"
COMPLETION_WORDS = ("__complete", "__complete_tcsh")  # the hidden first words `completion.dispatch` answers
_TRUE = ("1", "t", "true")
_FALSE = ("0", "f", "false")

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
    """The argument parser, with every flag; no side effects."""
    parser = _Parser(
        prog=prog,
        usage=f"{prog} TYPE NAME [--port PORT[:TARGET][/PROTOCOL]] [flags]",
        description=DESCRIPTION,
        epilog=EXAMPLES.format(prog=prog),
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("resource_type", metavar="TYPE", help="vm, vmi or vmirs (or TYPE/NAME)")
    parser.add_argument("resource_name", metavar="NAME", nargs="?", help="the object to expose")
    _add_port_flags(parser.add_argument_group("ports"))
    _add_service_flags(parser.add_argument_group("service"))
    _add_flow_flags(parser.add_argument_group("flow"))
    _add_output_flags(parser.add_argument_group("output"))
    _add_connection_flags(parser.add_argument_group("connection (as kubectl)"))
    return parser


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
    group.add_argument("--field-manager", default="virt-expose", metavar="NAME",
                       help="name of the field manager of the changes (default: virt-expose)")


def _add_flow_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--restart", default="auto", metavar="auto|always|never",
                       help="how a running VM gets missing labels: auto labels it live (default), "
                            "always restarts it, never changes only its template")
    _add_boolean(group, "start", "start a stopped VM, then verify")
    _add_boolean(group, "wait", "verify that the Service has a ready endpoint on the VM (default)",
                 default=True, negation_help="do not verify")
    group.add_argument("--timeout", default=DEFAULT_TIMEOUT, metavar="DURATION",
                       help=f"how long to verify, e.g. 90s, 5m, 1h; 0 checks once (default: {DEFAULT_TIMEOUT})")
    _add_boolean(group, "force", "create the Service even when the VM does not forward its port")


def _add_output_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--dry-run", default="none", metavar="none|client|server",
                       help="client: print what would be done, send no write; server: send every "
                            "write as a dry run (a bare --dry-run means client)")
    group.add_argument("-o", "--output", metavar="yaml|json|name",
                       help="print the Service (and changed objects) in this format")
    group.add_argument("-v", "--v", dest="verbosity", type=int, default=0, metavar="N",
                       help="log level: 6 logs requests, 8 their bodies (credentials redacted)")
    group.add_argument("--version", action="version", version=f"virt-expose {__version__}")


def _add_connection_flags(group: argparse._ArgumentGroup) -> None:
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


def normalize_argv(argv: Sequence[str], value_flags: Collection[str] = ()) -> list[str]:
    """kubectl's forms that argparse lacks: `--force=false`, a bare `--dry-run` (= client), and a
    value that starts with '-' after a flag of `value_flags` (`--timeout -5s` -> `--timeout=-5s`)."""
    result: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else None
        flag, equals, value = arg.partition("=")
        index += 1
        if arg == "--":
            return result + list(argv[index - 1:])
        if equals and flag.startswith("--") and flag[2:] in BOOLEAN_FLAGS:
            result.append(_boolean_flag(flag, value))
        elif arg == "--dry-run" and following not in DRY_RUN_MODES:
            result.append("--dry-run=client")
        elif arg in value_flags and following is not None and following.startswith("-"):
            result.append(f"{arg}={following}")
            index += 1
        else:
            result.append(arg)
    return result


def value_flags(parser: argparse.ArgumentParser) -> set[str]:
    """The option strings that take one value (flags, help and version take none: nargs 0)."""
    return {option for action in parser._actions if action.nargs is None for option in action.option_strings}


def _boolean_flag(flag: str, value: str) -> str:
    if value.lower() in _TRUE:
        return flag
    if value.lower() in _FALSE:
        return "--no-" + flag[2:]
    raise UsageError(f'invalid {flag} "{value}": must be true or false')


def find_action(parser: argparse.ArgumentParser, dest: str) -> argparse.Action:
    """The action of `dest`, e.g. to set its `.complete` for shtab."""
    for action in parser._actions:
        if action.dest == dest:
            return action
    raise KeyError(dest)


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code. The only place errors become messages."""
    argv0 = sys.argv[0] if sys.argv else ""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] and args[0] in COMPLETION_WORDS:  # the shell asks for candidates; nothing else is printed
        from oc_virt_expose import completion

        return int(completion.dispatch(argv0, args) or 0)
    prog = program_name(argv0)
    try:
        return _run(prog, args)
    except UsageError as error:
        return _report(f"{_one_line(error)}. See '{prog} --help' for usage.", error.exit_code)
    except VirtExposeError as error:
        return _report(_one_line(error), error.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        _silence_stdout()
        return int(ExitCode.ERROR)


def _run(prog: str, argv: list[str]) -> int:
    parser = build_parser(prog)
    try:
        args = parser.parse_args(normalize_argv(argv, value_flags(parser)))
    except SystemExit as done:  # --help and --version print and "exit"
        return int(done.code or 0)
    from oc_virt_expose.options import ExposeOptions

    options = ExposeOptions.from_args(args)
    options.validate()
    from oc_virt_expose import expose
    from oc_virt_expose.output import Printer

    printer = Printer(sys.stdout, sys.stderr, output=options.output, dry_run=options.dry_run)

    return int(expose.run(options, printer))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split("\n")).strip().rstrip(".")


def _report(message: str, code: int) -> int:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    return int(code)


def _silence_stdout() -> None:
    """After a closed pipe, keep Python's exit-time flush of stdout from failing loudly."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (tests), or already closed
        return
