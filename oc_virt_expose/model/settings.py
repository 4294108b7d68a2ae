"""What every command takes besides its own request: kubectl's connection flags as given, `-v`, `-o`,
`--dry-run`; and Go durations (`--timeout`, `--request-timeout`). Values only.

Apart from the access layer so that building the options, and so a usage error, imports neither the
kubeconfig loader nor the credentials (`access.kubeconfig.load_connection` resolves these flags at the run).
"""

from __future__ import annotations

import enum
import re
from typing import NamedTuple

from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.records import repr_hiding

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                   "h": 3600.0}
# patterns, compiled (and cached) by `re` at first use: a usage error compiles only those it needs
_DURATION_PART = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)"


class ConnectionFlags(NamedTuple):
    """The connection flags as given on the command line (None: not given); repr() hides the token."""

    kubeconfig: str | None = None
    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    namespace: str | None = None
    server: str | None = None
    token: str | None = None
    certificate_authority: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    request_timeout: str | None = None
    as_user: str | None = None
    as_groups: tuple[str, ...] = ()
    as_uid: str | None = None

    def __repr__(self) -> str:
        return repr_hiding(self, ("token",))


class DryRun(str, enum.Enum):
    NONE = "none"
    CLIENT = "client"  # build and print, send no write
    SERVER = "server"  # send every write with dryRun=All


class OutputFormat(str, enum.Enum):
    YAML = "yaml"
    JSON = "json"
    NAME = "name"
    WIDE = "wide"  # tables only (`list`)




class CommonOptions(NamedTuple):
    """The flags every command shares, parsed (`commands.common.common_options`)."""

    connection: ConnectionFlags = ConnectionFlags()
    verbosity: int = 0
    output: OutputFormat | None = None
    dry_run: DryRun = DryRun.NONE


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds in a Go duration (`90s`, `1m30s`, `500ms`) or a bare integer of seconds, as kubectl."""
    value = text.strip()
    if is_whole_number(value):
        return float(value)
    sign = -1.0 if value.startswith("-") else 1.0
    body = value.lstrip("+-")
    parts = re.findall(_DURATION_PART, body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        raise UsageError(f"invalid {what} {text!r}: use an integer of seconds or a number with a unit"
                         " (e.g. 30s, 2m, 1h30m)")
    return sign * sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def is_whole_number(text: str) -> bool:
    """ASCII digits only, as Go reads numbers: `str.isdigit` also takes '²', which `int` refuses, and '٣',
    which it reads as 3."""
    return text.isascii() and text.isdigit()


def parse_request_timeout(text: str | None) -> float | None:
    """kubectl's --request-timeout: None or 0 for no timeout."""
    if text is None or text == "":
        return None
    seconds = parse_duration(text, what="--request-timeout")
    return seconds if seconds > 0 else None
