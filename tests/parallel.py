"""How a run is shared between pytest-xdist's two workers (`-n 2 --dist loadgroup`, pyproject.toml): what must
run in one worker is one group. The unit tests go one by one to whichever worker is free; the packaging tests
are one group (they share the build and the venvs they install); a module of end-to-end tests on the default
sandbox is one group (its module fixtures: the fault campaign, the Route API's objects); so is each other kind
of sandbox (it starts in the one worker that runs its tests), and so are the tests that start sandboxes of
their own. Each worker starts a default sandbox of its own; tests/conftest.py drives the pools."""

from __future__ import annotations

import pytest

from tests.markers import kind_of
from tests.sandbox.kinds import SandboxKind

UNIT = "tests/unit/"
PACKAGING = "tests/packaging/"
OWN_SANDBOXES = "own-sandboxes"


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
