"""Flags every command shares -> `CommonOptions`, and the small parsers of flag values all commands use.

Pure, like every `options` module: nothing here reads the cluster.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Callable, Sequence
from typing import TypeVar, overload

from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.labels import is_dns1123_label
from oc_virt_expose.model.settings import (
    CommonOptions,
    ConnectionFlags,
    DryRun,
    OutputFormat,
    is_whole_number,
    parse_request_timeout,
)

T = TypeVar("T")
OBJECT_OUTPUTS = (OutputFormat.YAML, OutputFormat.JSON, OutputFormat.NAME)


def common_options(args: argparse.Namespace, outputs: Sequence[OutputFormat] = OBJECT_OUTPUTS) -> CommonOptions:
    """The shared flags of `args` (connection, `-v`, `-o` among `outputs`, `--dry-run` when the command
    has it), validated."""
    output_names = [item.value for item in outputs]
    output = optional(OutputFormat, choice(getattr(args, "output", None), output_names, "--output"))
    dry_run = DryRun(choice(getattr(args, "dry_run", "none"), values(DryRun), "--dry-run"))
    options = CommonOptions(connection=connection_flags(args), verbosity=args.verbosity, output=output,
                            dry_run=dry_run)
    if options.verbosity < 0:
        raise UsageError("-v cannot be negative")
    validate_connection(options.connection)
    return options


def connection_flags(args: argparse.Namespace) -> ConnectionFlags:
    return ConnectionFlags(
        kubeconfig=args.kubeconfig,
        context=args.context,
        cluster=args.cluster,
        user=args.user,
        namespace=args.namespace,
        server=args.server,
        token=args.token,
        certificate_authority=args.certificate_authority,
        insecure_skip_tls_verify=args.insecure_skip_tls_verify,
        tls_server_name=args.tls_server_name,
        request_timeout=args.request_timeout,
        as_user=args.as_user,
        as_groups=tuple(args.as_groups or ()),
        as_uid=args.as_uid,
    )


def validate_connection(connection: ConnectionFlags) -> None:
    namespace = connection.namespace
    if namespace is not None and not is_dns1123_label(namespace):
        raise UsageError(
            f'invalid --namespace "{namespace}": a namespace is at most 63 lowercase letters, '
            "digits and '-', starting and ending with a letter or digit"
        )
    if connection.insecure_skip_tls_verify and connection.certificate_authority:
        raise UsageError("--insecure-skip-tls-verify cannot be combined with --certificate-authority")
    parse_request_timeout(connection.request_timeout)


@overload
def choice(text: str, choices: Sequence[str], flag: str) -> str: ...


@overload
def choice(text: None, choices: Sequence[str], flag: str) -> None: ...


def choice(text: str | None, choices: Sequence[str], flag: str) -> str | None:
    """The canonical spelling of `text` among `choices`, compared case-insensitively (None stays)."""
    if text is None:
        return None
    for item in choices:
        if text.strip().lower() == item.lower():
            return item
    raise UsageError(f'invalid {flag} "{text}": must be one of {", ".join(choices)}')


def values(choices: type[enum.Enum]) -> list[str]:
    return [member.value for member in choices]


def split_commas(items: Sequence[str] | None) -> list[str]:
    return [item.strip() for value in items or [] for item in value.split(",") if item.strip()]


def optional(parse: Callable[[str], T], value: str | None) -> T | None:
    return None if value is None else parse(value)


def parse_count(text: str, flag: str, maximum: int) -> int:
    """A whole number from 1 to `maximum`."""
    value = text.strip()
    if not is_whole_number(value) or not 1 <= int(value) <= maximum:
        raise UsageError(f'invalid {flag} "{text}": a whole number from 1 to {maximum}')
    return int(value)


def parse_ip(text: str, flag: str) -> str:
    import ipaddress  # ~3 ms: only when an address is given

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise UsageError(f'invalid {flag} "{text}": not an IPv4 or IPv6 address') from None
