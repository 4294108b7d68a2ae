"""What a run changed so far, for the message of a later failure or interruption: every step of a run
skips what is already in place, so re-running the same command finishes the job."""

from __future__ import annotations

from oc_virt_expose.errors import ExitCode, VirtExposeError
from oc_virt_expose.ui.printer import Printer

RERUN = "re-running the same command finishes the job"


class ChangeLog:
    """The changes made so far (`add` each before printing it: a Ctrl-C may come as soon as it shows)."""

    def __init__(self, done: list[str] | None = None) -> None:
        self.done: list[str] = done if done is not None else []

    def add(self, change: str) -> None:
        self.done.append(change)

    def after_writes(self, error: VirtExposeError) -> VirtExposeError:
        """An error after a write names what was done and that re-running finishes the job."""
        if not self.done or error.exit_code is not ExitCode.ERROR:
            return error
        wrapped = VirtExposeError(f"{error}; done before the failure: {'; '.join(self.done)}; {RERUN}")
        wrapped.exit_code = error.exit_code
        return wrapped

    def interrupted(self, printer: Printer, code: ExitCode) -> ExitCode:
        """Say what was done (Ctrl-C, SIGTERM); returns `code`."""
        done = f"done so far: {'; '.join(self.done)}; {RERUN}" if self.done else "nothing was changed"
        printer.err.write(f"interrupted: {done}\n")
        printer.err.flush()
        return code
