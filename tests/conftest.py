"""The sandboxes of a test run and the fixtures on them.

A test that takes the `sandbox` fixture runs against a sandbox with the traits its `sandbox` marker asks for
(`@pytest.mark.sandbox(stack="dual")`, `(kubevirt="1.6")`, `(load_balancer=False)`, `(route_api=False)`,
`(kubevirt=None)`: see SandboxKind in tests/sandbox/kinds.py; no arguments: the default kind): the first
of the run's kinds that has them (SUITE_KINDS in tests/markers.py, which says why each is needed). The tests
are ordered by kind, so that each kind starts once per run (the next one while the tests of the one before
run) and stops after its last test; each test gets its own namespace. At the end, the run fails if a
sandbox's nodes did not stay healthy, or it did not stop cleanly and leave nothing behind (tests/sandbox/
pool.py), and the summary gives the time per area and lists the sandboxes the run started.
"""

from __future__ import annotations

import signal
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.markers import SANDBOXES_ROOT, kind_of, suite_order, worker_for, worker_of
from tests.sandbox.kinds import SandboxKind

pytest.register_assert_rewrite("tests.e2e", "tests.sandbox.footprint", "tests.sandbox.pool")

if TYPE_CHECKING:  # imported by the fixtures that need them: a run of unit tests alone imports no cluster client
    from tests.sandbox.audit import RequestCounter
    from tests.sandbox.pool import SandboxPool
    from tests.sandbox.running import RunningSandbox

pytest_plugins = ["tests.parallel"]

PLAN = pytest.StashKey[list[SandboxKind]]()
POOL = pytest.StashKey["SandboxPool"]()
REPORTED = pytest.StashKey[dict[str, list[str]]]()  # the workers' sandbox lines and problems (controller)


def pytest_configure(config: pytest.Config) -> None:
    """Tests send SIGINT to the plugin as a terminal sends Ctrl-C to its foreground job. A run started where
    SIGINT is ignored (a background job of a shell without job control) would pass that on to every process
    it starts, the plugin's too: it gets Python's handler back here, which a child's exec resets to the default."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(trylast=True)  # after deselection (-k, -m) and the reordering of other plugins (--ff)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests with no sandbox first, then the default kind's, then each other kind's in the order of
    SUITE_KINDS, then those that start sandboxes of their own (marked `sandbox`, without the fixture), so that
    their starts do not compete with the pool's. A test with no sandbox in a module of sandbox tests goes with
    the module's first kind, so that the module's fixtures (a pip install) are made once. A stable sort:
    within a group, the order of collection (pytest's, which keeps a module fixture's parameters together)."""
    kinds = [kind_of(item) for item in items]
    plan = sorted({kind for kind in kinds if kind is not None}, key=suite_order)
    position = {kind: number for number, kind in enumerate(plan, start=1)}
    own = len(plan) + 1
    order = [position[kind] if kind else own if item.get_closest_marker("sandbox") else 0
             for item, kind in zip(items, kinds)]
    first_kind_of_module: dict[str, int] = {}
    for item, number in zip(items, order):
        if 0 < number < own:
            module = item.nodeid.split("::")[0]
            first_kind_of_module[module] = min(number, first_kind_of_module.get(module, number))
    placed = {item.nodeid: number or first_kind_of_module.get(item.nodeid.split("::")[0], 0)
              for item, number in zip(items, order)}
    items.sort(key=lambda item: placed[item.nodeid])
    config.stash[PLAN] = plan


@pytest.fixture(scope="session", autouse=True)
def sandboxes(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxPool | None]:
    """The run's sandboxes (None: no test of the run needs one); the first kind starts while the tests that need
    no sandbox run, the next while the tests of the one before run. An xdist worker starts its default kind and
    the kinds `worker_for` gives it, two sandboxes at most at a time (~1.3 GB each)."""
    plan = request.config.stash.get(PLAN, [])
    if not plan:
        yield None
        return
    from tests.sandbox.pool import MAX_ALIVE, SandboxPool

    worker = worker_of(request.config)
    if worker:
        workers = int(request.config.workerinput["workercount"])
        plan = [kind for kind in plan if worker_for(kind, workers) in (None, worker)]
        root = Path(request.config.workerinput[SANDBOXES_ROOT])  # where the scheduler sees them ready
    else:
        root = tmp_path_factory.mktemp("sandboxes")
    pool = SandboxPool(root, plan, max_alive=2 if worker else MAX_ALIVE)
    request.config.stash[POOL] = pool
    pool.prepare_next()
    yield pool
    pool.stop_all()
    if worker:  # for the controller's summary (pytest_testnodedown)
        request.config.workeroutput.update(sandboxes=[f"{worker} {line}" for line in pool.report()],
                                           sandbox_problems=list(pool.problems))


@pytest.hookimpl(trylast=True)  # after the test's own fixtures (its namespace) are torn down
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stops a sandbox after its kind's last test: the tests of a kind run one after the other (ordered above, and
    in an xdist worker a kind other than the default is one group: tests/parallel.py), except the default kind's
    in a worker, spread over its run, which stop when the worker ends."""
    kind = kind_of(item)
    pool = item.config.stash.get(POOL, None)
    if kind is None or pool is None:
        return
    spread = worker_of(item.config) is not None and kind == SandboxKind()
    if nextitem is None or (kind_of(nextitem) != kind and not spread):
        pool.stop(kind)


@pytest.hookimpl(optionalhook=True)  # an xdist hook
def pytest_testnodedown(node: Any) -> None:
    """(xdist controller) A worker ended: keep its sandboxes' lines and problems."""
    reported = node.config.stash.setdefault(REPORTED, {"sandboxes": [], "sandbox_problems": []})
    for key, lines in reported.items():
        lines.extend(getattr(node, "workeroutput", {}).get(key, []))


def sandbox_problems(config: pytest.Config) -> list[str]:
    pool = config.stash.get(POOL, None)
    return (pool.problems if pool else []) + config.stash.get(REPORTED, {}).get("sandbox_problems", [])


def pytest_sessionfinish(session: pytest.Session) -> None:
    if sandbox_problems(session.config) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Time per area (tests/unit, tests/packaging, tests/e2e/plugin, tests/e2e/sandbox: setup, call and teardown
    of its tests; a wait for a sandbox counts in the area of the test that waited), then the run's sandboxes."""
    seconds: dict[str, float] = defaultdict(float)
    tests: dict[str, set[str]] = defaultdict(set)
    for reports in terminalreporter.stats.values():
        for report in reports:
            if isinstance(report, pytest.TestReport):
                folders = report.nodeid.split("::")[0].split("/")[:-1]
                area = "/".join(folders[:3] if folders[1:2] == ["e2e"] else folders[:2])
                seconds[area] += report.duration
                tests[area].add(report.nodeid)
    if len(seconds) > 1:
        terminalreporter.section("time per area")
        for area in sorted(seconds, key=seconds.__getitem__, reverse=True):
            terminalreporter.line(f"{area}: {seconds[area]:.1f}s, {len(tests[area])} tests")
    pool = config.stash.get(POOL, None)
    lines = (pool.report() if pool else []) + config.stash.get(REPORTED, {}).get("sandboxes", [])
    if not lines:
        return
    terminalreporter.section("sandboxes")
    for line in lines:
        terminalreporter.line(line)
    for problem in sandbox_problems(config):
        terminalreporter.line(f"FAILED {problem}", red=True)


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, sandboxes: SandboxPool | None) -> RunningSandbox:
    """The sandbox of the kind the test's `sandbox` marker asks for (default: single-stack IPv4, KubeVirt
    1.7, load balancer and Route API, seeded with the demo objects)."""
    kind = kind_of(request.node)
    assert kind is not None and sandboxes is not None
    sandboxes.prepare_next()
    return sandboxes.get(kind)


@pytest.fixture
def namespace(sandbox: RunningSandbox) -> str:
    """A fresh namespace for one test, left to go with its sandbox (see RunningSandbox.create_namespace)."""
    return sandbox.create_namespace()


@pytest.fixture
def requests_made(sandbox: RunningSandbox) -> RequestCounter:
    """The requests the sandbox serves from the start of the test (or the last `start()`):
    `requests_made.requests(user_agent="kubectl/")` -> [Request(verb, path, query, user, user_agent, code)]."""
    return sandbox.request_counter()
