"""The sandboxes of a test run and the fixtures on them.

A test that takes the `sandbox` fixture runs against a sandbox of the kind its `sandbox` marker asks for
(`@pytest.mark.sandbox(stack="dual")`, `(kubevirt="1.6")`, `(load_balancer=False)`, `(route_api=False)`,
`(kubevirt=None)`: see SandboxKind in tests/sandbox/running.py; no arguments: the default kind). The tests
are ordered by kind, so that each kind starts once per run (the next one while the tests of the one before
run) and stops after its last test; each test gets its own namespace. At the end, the run fails if a
sandbox's nodes did not stay healthy, or it did not stop cleanly and leave nothing behind (tests/sandbox/
pool.py), and the summary gives the time per area and lists the sandboxes the run started.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("tests.e2e", "tests.sandbox.footprint", "tests.sandbox.pool")

from tests.sandbox.audit import RequestCounter  # noqa: E402
from tests.sandbox.pool import SandboxPool  # noqa: E402
from tests.sandbox.running import RunningSandbox, SandboxKind  # noqa: E402

PLAN = pytest.StashKey[list[SandboxKind]]()
LAST_TEST = pytest.StashKey[dict[SandboxKind, str]]()
POOL = pytest.StashKey[SandboxPool]()


def kind_of(item: pytest.Item) -> SandboxKind | None:
    """The kind of sandbox the test runs against; None if it takes no `sandbox` fixture."""
    if "sandbox" not in getattr(item, "fixturenames", ()):
        return None
    marker = item.get_closest_marker("sandbox")
    return SandboxKind(**marker.kwargs) if marker else SandboxKind()


@pytest.hookimpl(trylast=True)  # after deselection (-k, -m) and the reordering of other plugins (--ff)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests with no sandbox first, then the default kind's, then each other kind's in the order of their
    first test, then those that start sandboxes of their own (marked `sandbox`, without the fixture), so that
    their starts do not compete with the pool's. A stable sort: within a group, the order of collection."""
    kinds = [kind_of(item) for item in items]
    plan = sorted({kind for kind in kinds if kind is not None},
                  key=lambda kind: (kind != SandboxKind(), kinds.index(kind)))
    position = {kind: number for number, kind in enumerate(plan, start=1)}
    own = len(plan) + 1
    order = {item.nodeid: position[kind] if kind else own if item.get_closest_marker("sandbox") else 0
             for item, kind in zip(items, kinds)}
    items.sort(key=lambda item: order[item.nodeid])
    config.stash[PLAN] = plan
    config.stash[LAST_TEST] = {kind: item.nodeid for item in items if (kind := kind_of(item)) is not None}


@pytest.fixture(scope="session", autouse=True)
def sandboxes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxPool]:
    """The run's sandboxes; the first kind starts while the tests that need no sandbox run."""
    pool = SandboxPool(tmp_path_factory.mktemp("sandboxes"), request.config.stash.get(PLAN, []))
    request.config.stash[POOL] = pool
    pool.prepare_next()
    yield pool
    pool.stop_all()


@pytest.hookimpl(trylast=True)  # after the test's own fixtures (its namespace) are torn down
def pytest_runtest_teardown(item: pytest.Item) -> None:
    kind = kind_of(item)
    pool = item.config.stash.get(POOL, None)
    if kind is not None and pool is not None and item.config.stash[LAST_TEST].get(kind) == item.nodeid:
        pool.stop(kind)


def pytest_sessionfinish(session: pytest.Session) -> None:
    pool = session.config.stash.get(POOL, None)
    if pool is not None and pool.problems and session.exitstatus == pytest.ExitCode.OK:
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
    if pool is None or not pool.started:
        return
    terminalreporter.section("sandboxes")
    for started in pool.started:
        terminalreporter.line(f"{started.kind.name}: ready in {started.start_seconds:.1f}s, waited for "
                              f"{started.waited_seconds:.1f}s, {started.tests} tests")
    for problem in pool.problems:
        terminalreporter.line(f"FAILED {problem}", red=True)


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, sandboxes: SandboxPool) -> RunningSandbox:
    """The sandbox of the kind the test's `sandbox` marker asks for (default: single-stack IPv4, KubeVirt
    1.7, load balancer and Route API, seeded with the demo objects)."""
    kind = kind_of(request.node)
    assert kind is not None
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
