"""How a run is shared between pytest-xdist's two workers (`-n 2 --dist loadgroup`, pyproject.toml): what must
run in one worker is one group. The unit tests go one by one to whichever worker is free; the packaging tests
are one group (they share the build and the venvs they install); a module of end-to-end tests on the default
sandbox is one group (its module fixtures: the fault campaign, the Route API's objects); so is each other kind
of sandbox (it starts in the one worker that runs its tests), and so are the tests that start sandboxes of
their own. Each worker starts a default sandbox of its own; tests/conftest.py drives the pools.

A worker starts the kinds it runs ahead, one after the other (tests/sandbox/pool.py); the group of a kind is
given to it once that kind's sandbox is ready, unless it has nothing else to run: so that it neither waits for
the start nor keeps a sandbox idle for long (a kind's tests are few). The tests that start sandboxes of their
own go to the first worker done with its kinds, ahead of the queue's last groups, so that the run does not end
on their start alone."""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadGroupScheduling
from xdist.workermanage import WorkerController

from tests.markers import SANDBOXES_ROOT, SUITE_KINDS, kind_of, worker_for
from tests.sandbox.kinds import READY_MARK, SandboxKind

UNIT = "tests/unit/"
PACKAGING = "tests/packaging/"
OWN_SANDBOXES = "own-sandboxes"


def sandboxes_root(config: pytest.Config, worker: str) -> Path:
    """(controller) Where `worker` starts its sandboxes, a folder each kind, in the run's base temporary folder
    (the one xdist gives its workers theirs in, through the same private attribute)."""
    return Path(config._tmp_path_factory.getbasetemp()) / f"sandboxes-{worker}"


@pytest.hookimpl(optionalhook=True)  # an xdist hook
def pytest_configure_node(node: WorkerController) -> None:
    node.workerinput[SANDBOXES_ROOT] = str(sandboxes_root(node.config, node.gateway.id))


def group_of(item: pytest.Item) -> str | None:
    """The xdist group of a test; None: any worker, one test at a time."""
    path = item.nodeid.split("::")[0]
    if path.startswith(UNIT):
        return None
    if path.startswith(PACKAGING):
        return "packaging"
    kind = kind_of(item)
    if kind is None and item.get_closest_marker("sandbox"):
        return OWN_SANDBOXES
    if kind is not None and kind != SandboxKind():
        return kind.name
    return path


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = group_of(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


class PinnedGroupScheduling(LoadGroupScheduling):
    """`--dist loadgroup`, but the group of a kind of sandbox other than the default goes to the worker
    `worker_for` names, once its sandbox is ready there (a worker that has no group left it may run stops, as
    under loadgroup)."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self.config = config
        workers = len(config.getoption("tx"))
        self.pins = {kind.name: worker_for(kind, workers) for kind, _ in SUITE_KINDS if kind != SandboxKind()}

    def assignable(self, node: WorkerController) -> str | None:
        """The group `node` runs next: a kind's whose sandbox is ready there; else, once it has run its kinds,
        the tests that start sandboxes of their own (so that they run before the last groups, and a worker
        never has more than two sandboxes); else the first of the queue that is no kind's; else the first
        kind's (it waits for the start)."""
        worker = node.gateway.id
        root = sandboxes_root(self.config, worker)
        kinds = [scope for scope in self.workqueue if self.pins.get(scope) == worker]
        ready = (scope for scope in kinds if (root / scope / READY_MARK).exists())
        own = [OWN_SANDBOXES] if OWN_SANDBOXES in self.workqueue else []
        free = (scope for scope in self.workqueue if scope not in self.pins and scope != OWN_SANDBOXES)
        return next(chain(ready, [] if kinds else own, free, kinds, own), None)

    def _assign_work_unit(self, node: WorkerController) -> None:
        scope = self.assignable(node)
        if scope is not None:
            self.workqueue.move_to_end(scope, last=False)  # where the base class takes the next group from
            super()._assign_work_unit(node)

    def _reschedule(self, node: WorkerController) -> None:
        if not node.shutting_down and self.assignable(node) is None:
            node.shutdown()
            return
        super()._reschedule(node)


@pytest.hookimpl(optionalhook=True)  # an xdist hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") == "loadgroup":
        return PinnedGroupScheduling(config, log)
    return None
