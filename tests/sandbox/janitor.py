"""Cleans up after a sandbox that was killed: waits for the end of its standard input, which comes when the
sandbox exits however it exits (even by SIGKILL), then kills and waits for the sandbox's children and removes
its work folder and kubeconfig.

The children also die by themselves (PR_SET_PDEATHSIG, see process.py); the janitor makes sure they are
gone before their files are removed, so that nothing is left behind.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
from pathlib import Path


def _wait_for_exit(pid: int, timeout: float) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def clean(workdir: Path, kubeconfig: Path | None) -> None:
    pids_file = workdir / "pids"
    pids = [int(line) for line in pids_file.read_text().split()] if pids_file.exists() else []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    for pid in pids:
        _wait_for_exit(pid, timeout=10)
    shutil.rmtree(workdir, ignore_errors=True)
    if kubeconfig is not None:
        kubeconfig.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the sandbox, which then closes our stdin
    workdir = Path(argv[0])
    kubeconfig = Path(argv[1]) if len(argv) > 1 else None
    while sys.stdin.buffer.read(4096):
        pass
    if workdir.exists():
        clean(workdir, kubeconfig)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
