"""Flag packs every verb shares (connection, output, dry-run, wait), the parser class whose errors are
`UsageError`s, and the help layout: so every command spells a flag the same way."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from oc_virt_expose import __version__
from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.defaults import DEFAULT_TIMEOUT

if TYPE_CHECKING:  # annotations only: `--help` imports as little as it can
    from typing import NoReturn


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows `-l, --labels K=V` rather than argparse's `-l K=V, --labels K=V`."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        metavar = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {metavar}"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are `UsageError`s, reported once by `main`."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        """A flag's value `--` (`--context=--`) is that text: argparse before 3.12 drops it, leaving a list."""
        if arg_strings == ["--"] and action.option_strings and action.nargs is None:
            return self._get_value(action, "--")
        return super()._get_values(action, arg_strings)


def add_wait_flags(group: argparse._ArgumentGroup) -> None:
    """`--wait`/`--no-wait` and `--timeout`: the shared flag pack of commands that verify."""
    add_boolean(group, "wait", "verify that the Service has a ready endpoint on the VM (default)",
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
    add_boolean(group, "insecure-skip-tls-verify", "do not verify the server's certificate (insecure)")
    group.add_argument("--tls-server-name", metavar="NAME", help="server name to verify the certificate against")
    group.add_argument("--request-timeout", metavar="DURATION",
                       help="timeout of one request, e.g. 30s; 0 means none (default: 0)")
    group.add_argument("--as", dest="as_user", metavar="USER", help="user to impersonate")
    group.add_argument("--as-group", dest="as_groups", action="append", metavar="GROUP",
                       help="group to impersonate, repeatable")
    group.add_argument("--as-uid", metavar="UID", help="UID to impersonate")


def add_boolean(group: argparse._ArgumentGroup, flag: str, help_text: str, *, default: bool = False,
                 negation_help: str | None = None, short: str | None = None) -> None:
    """`--flag` and `--no-flag` (shown only with `negation_help`); `--flag=false` is normalized."""
    dest = flag.replace("-", "_")
    options = [short, f"--{flag}"] if short else [f"--{flag}"]
    group.add_argument(*options, dest=dest, action="store_true", default=default, help=help_text)
    group.add_argument(f"--no-{flag}", dest=dest, action="store_false",
                       help=negation_help or argparse.SUPPRESS)
