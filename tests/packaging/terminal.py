"""A real interactive shell on a pseudo-terminal, typed into as a person types, read as a person reads."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]|\x1b\][^\x07]*\x07|[\x07\r]")


def _controlling_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is the pty (job control, tcsh's editor)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`bash -i` or `zsh -i` on a pty of 200x50; `type` sends keys, `expect` reads until words show."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
        primary, secondary = os.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.process = subprocess.Popen(list(argv), stdin=secondary, stdout=secondary, stderr=secondary,
                                        env=dict(env), cwd=cwd, preexec_fn=_controlling_terminal)
        os.close(secondary)
        self.fd = primary
        self.seen = b""  # everything read so far, escape sequences removed

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def expect(self, *words: str, timeout: float = 15.0, since: int = 0) -> str:
        """Read until every word has shown on the screen after offset `since` (see `mark`); that text."""
        deadline = time.monotonic() + timeout
        while not all(word.encode() in self.seen[since:] for word in words):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"{words} not shown within {timeout}s; the screen said:\n"
                                     f"{self.seen[since:].decode(errors='replace')}")
        return self.seen[since:].decode(errors="replace")

    def clear_line(self) -> int:
        """Ctrl-U (bash and zsh discard the line typed so far); the offset of what comes next."""
        self.type("\x15")
        return self.mark()

    def mark(self) -> int:
        return len(self.seen)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # the shell exited
            return False
        self.seen += _ESCAPES.sub(b"", chunk)
        return bool(chunk)

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        os.close(self.fd)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
