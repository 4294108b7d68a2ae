"""What a real cluster gets from its infrastructure, simulated: the load balancer, the router, a faulty network.

(Being written for the sandbox's part 2; until then it starts nothing.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.sandbox.controlplane import ControlPlane
from tests.sandbox.process import Supervisor

if TYPE_CHECKING:
    from tests.sandbox.cluster import SandboxOptions


@dataclass
class Infrastructure:
    pass


def start_infrastructure(options: SandboxOptions, supervisor: Supervisor, workdir: Path,
                         control_plane: ControlPlane) -> Infrastructure:
    return Infrastructure()
