"""A sandbox killed (SIGKILL, so it cannot clean up itself) leaves nothing behind: its janitor ends every process
it started and removes its folder and kubeconfig. (Stopped with SIGTERM, every sandbox of the run is checked
the same way by the pool: tests/sandbox/pool.py.)"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.sandbox.footprint import Footprint
from tests.sandbox.kinds import SandboxKind
from tests.sandbox.running import start_sandbox

pytestmark = pytest.mark.sandbox  # with a sandbox of its own: it runs after the pool's


def test_nothing_left_behind(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path, SandboxKind(seed="empty"))
    footprint = Footprint.of(sandbox)
    footprint.assert_held()

    assert sandbox.stop(signal.SIGKILL) == -signal.SIGKILL
    footprint.assert_released()
