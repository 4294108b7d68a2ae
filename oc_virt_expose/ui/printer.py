"""What the user sees: change lines, `-o` documents, warnings, progress and the "how to reach it" summary.

The run never formats text itself: it calls a `Printer`, whose streams are injected (tests pass
`io.StringIO`). Rules:
- Without `-o`: change lines (`service/example-service created`) and the summary go to stdout.
- With `-o yaml|json|name`: stdout carries only the documents (YAML separated by `---`; JSON objects one
  after another, as `jq` reads them; names as `service/example-service`); change lines go to stderr and
  the summary is left out (the document has the addresses).
- Warnings: `Warning: ...` on stderr. Progress: on stderr, only when stderr is a terminal and no `-o`.
- The summary's lines: `ui.summary`.
PyYAML is imported only when YAML is printed.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from oc_virt_expose.model.objects import resource_name
from oc_virt_expose.model.reach import Reach
from oc_virt_expose.model.settings import DryRun, OutputFormat
from oc_virt_expose.ui.summary import reach_lines as reach_lines  # where callers found it before ui.summary
from oc_virt_expose.ui.summary import summary_lines

SPINNER = "-\\|/"
DRY_RUN_SUFFIX = {DryRun.NONE: "", DryRun.CLIENT: " (dry run)", DryRun.SERVER: " (server dry run)"}


def format_change(resource: str, name: str, verb: str, dry_run: DryRun = DryRun.NONE) -> str:
    """`virtualmachine.kubevirt.io/example-vm labeled (dry run)`."""
    return f"{resource}/{name} {verb}{DRY_RUN_SUFFIX[dry_run]}"


def format_object(obj: Mapping[str, Any], output: OutputFormat) -> str:
    """One object as `-o` prints it, ending with a newline."""
    if output is OutputFormat.NAME:
        return f"{resource_name(obj)}/{(obj.get('metadata') or {}).get('name', '')}\n"
    if output is OutputFormat.JSON:
        return json.dumps(obj, indent=4) + "\n"
    import yaml  # ~10 ms; only when YAML is printed

    return yaml.safe_dump(dict(obj), sort_keys=False, default_flow_style=False)


def format_progress(message: str, elapsed: float, frame: int) -> str:
    """`| waiting for a ready endpoint (12s)`: one progress frame, without line control."""
    return f"{SPINNER[frame % len(SPINNER)]} {message} ({elapsed:.0f}s)"


class Printer:
    """Prints for the run; `progress=None` shows progress when `err` is a terminal and no `-o`."""

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        *,
        output: OutputFormat | None = None,
        dry_run: DryRun = DryRun.NONE,
        progress: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.err = err
        self.output = output
        self.dry_run = dry_run
        self.show_progress = (output is None and _is_tty(err)) if progress is None else progress
        self.clock = clock
        self._documents = 0
        # The spinner thread and the run share stderr; a batch's threads print their documents to stdout.
        self._lock = threading.RLock()
        self._spinning = False

    @property
    def _human(self) -> TextIO:
        return self.out if self.output is None else self.err

    def change(self, resource: str, name: str, verb: str) -> None:
        """One line per change: `service/example-service created` (with the dry-run suffix)."""
        self._write(self._human, format_change(resource, name, verb, self.dry_run) + "\n")

    def info(self, message: str) -> None:
        """A line for the user that is neither a change nor a warning (stdout, stderr with `-o`)."""
        self._write(self._human, message + "\n")

    def warning(self, message: str) -> None:
        self._write(self.err, f"Warning: {message}\n")

    def failure(self, resource: str, name: str, message: str) -> None:
        """What went wrong with one object of several (the run goes on with the others)."""
        self._write(self.err, f"error: {resource}/{name}: {message}\n")

    def object(self, obj: Mapping[str, Any], *, always: bool = False) -> None:
        """Print `obj` in the `-o` format; without `-o`, only when `always` (as YAML)."""
        output = self.output or (OutputFormat.YAML if always else None)
        if output is None:
            return
        text = format_object(obj, output)
        with self._lock:  # one separator between two documents, whichever thread prints them
            if output is OutputFormat.YAML and self._documents:
                text = "---\n" + text
            self._documents += 1
            self._write(self.out, text)

    def summary(self, service: Mapping[str, Any], reach: Reach | None = None) -> None:
        """How to reach the Service and the way in (see `ui.summary`); left out with `-o`."""
        if self.output is None:
            for line in summary_lines(service, reach or Reach()):
                self._write(self.out, line + "\n")

    @contextmanager
    def progress(self, message: str) -> Iterator[Callable[[str], None]]:
        """`with printer.progress("waiting") as update:` a spinner line on stderr, cleared at the end."""
        if not self.show_progress:
            yield lambda _message: None
            return
        state = {"message": message}
        stop = threading.Event()
        started = self.clock()
        frames = itertools.count()

        def draw() -> None:
            line = format_progress(state["message"], self.clock() - started, next(frames))
            self._write(self.err, f"\r\x1b[K{line}")

        def spin() -> None:
            while not stop.wait(0.1):
                draw()

        draw()
        self._spinning = True
        spinner = threading.Thread(target=spin, name="virt-expose-progress", daemon=True)
        spinner.start()
        try:
            yield lambda new_message: state.__setitem__("message", new_message)
        finally:
            stop.set()
            spinner.join()
            self._spinning = False
            self._write(self.err, "\r\x1b[K")

    def _write(self, stream: TextIO, text: str) -> None:
        with self._lock:
            if self._spinning and stream is self.err and not text.startswith("\r"):
                text = "\r\x1b[K" + text  # a line printed during progress replaces the spinner
            stream.write(text)
            stream.flush()


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
