"""Exit codes and the errors that become one-line messages in `cli.main` (the only place that prints them).

Raise these anywhere; never print an error or call `sys.exit` elsewhere.
- `UsageError` (exit 2): bad flags or arguments; `cli.main` adds "See '<prog> --help' for usage."
- `RefusedError` (exit 1): the flags are well-formed, but what they ask for would not work on this VM
  (no pod network, a port the guest never receives, a label the user already set differently); found
  before the first write, so nothing has changed.
- `ClusterError` and subclasses (exit 1): the cluster refused or failed a request.
- `ConnectionFailure` (exit 1): no answer from the server.
- `NotServingError` (exit 3): the change is made but the Service does not serve yet.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_SERVING = 3  # done, but the Service has no ready endpoint yet (timeout, or a restart not allowed)
    INTERRUPTED = 130  # Ctrl-C (SIGINT), as shells report 128 + 2
    TERMINATED = 143  # SIGTERM, 128 + 15


class VirtExposeError(Exception):
    """An error the user can act on: `str(error)` is the whole one-line message, without "error: "."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(VirtExposeError):
    """Bad flags or arguments, found before anything is read from the cluster."""

    exit_code = ExitCode.USAGE


class RefusedError(VirtExposeError):
    """The plan would not work (or would change what the user owns); refused before any write."""


class ClusterError(VirtExposeError):
    """The cluster refused or failed a request, classified by the server's `Status`: `status` is the HTTP
    code (0 when none came back), `reason` the Status reason (`NotFound`, `AlreadyExists`, ...), `details`
    its `details` (`name`, `group`, `kind`, `causes`); never by matching message text."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "",
                 details: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.details: Mapping[str, object] = details or {}


class NotFoundError(ClusterError):
    pass


class ForbiddenError(ClusterError):
    pass


class ConflictError(ClusterError):
    pass


class ConnectionFailure(VirtExposeError):
    """No answer from the server: refused, unreachable, TLS failure or timeout."""


class NotServingError(VirtExposeError):
    """The change is made but the Service does not serve yet; the message says what is left to do."""

    exit_code = ExitCode.NOT_SERVING


class Terminated(BaseException):
    """SIGTERM, raised by `cli.main`'s handler: a run stops as at Ctrl-C, saying what was done."""


STOPS = (KeyboardInterrupt, Terminated)
"""What stops a run from outside; catch these together, and exit with `stop_code`."""


def stop_code(stop: BaseException) -> ExitCode:
    return ExitCode.TERMINATED if isinstance(stop, Terminated) else ExitCode.INTERRUPTED
