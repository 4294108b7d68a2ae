"""The waits of verification through the fault proxy: a watch the API server ends early, a dropped watch
connection, `410 Gone` as the answer of the re-watch and as an ERROR event inside the stream (as the API server
ends a watch whose resourceVersion expired), and a bookmark are each resumed, listing again only after a 410,
without missing the event that completes verification: the VM's pod becomes Ready only once the resumed watch
is open (tests/e2e/held_runs.py `NodeGate`). Each wait (endpoints, load-balancer address, Route admission) is
one chain of watches from the one list-then-watch helper (access/watch.py `wait_for`): the first watch without
a resourceVersion (the list in the same request), each next one from the last version seen, none in between,
as the proxy's log shows. The plugin runs with `-v 9`, so its log has every event it read."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.held_runs import NodeGate, RunningPlugin
from tests.e2e.plugin_runs import REQUEST_LINE, run_plugin
from tests.e2e.sandbox_infrastructure import FAULTS_CONTEXT, FaultProxy, LoadBalancerSwitch
from tests.e2e.workloads import create_vm
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

SLICES = r"/endpointslices$"
EVENT = re.compile(r'^Response Body: (\{"type":.*)$')
Entry = dict[str, Any]


def gated_vm(sandbox: RunningSandbox, namespace: str, gate: NodeGate) -> None:
    """A running VM `gated` whose launcher pod exists and stays Pending until the gate opens."""
    create_vm(sandbox, namespace, gate.gated(vm_manifest("gated")), wait=False)
    sandbox.kubectl("wait", "pods", "-l", "vm.kubevirt.io/name=gated", "--for=create", "--timeout=60s",
                    namespace=namespace)


def expose(sandbox: RunningSandbox, namespace: str, *flags: str) -> RunningPlugin:
    return RunningPlugin(sandbox, "vm", "gated", "-n", namespace, "--port", "80", "--timeout", "120s",
                         "--context", FAULTS_CONTEXT, "-v", "9", *flags)


def watch_of(path: str) -> Callable[[Entry], bool]:
    return lambda entry: bool(entry["watch"] and re.search(path, entry["path"]))


def version(entry: Entry) -> str | None:
    return urllib.parse.parse_qs(entry["query"]).get("resourceVersion", [None])[0]


def chain(proxy: FaultProxy, since: int, path: str) -> list[Entry]:
    """The requests on `path` from its first watch on: one chain of watches, nothing else in between."""
    entries = [entry for entry in proxy.requests(since) if re.search(path, entry["path"])]
    first = next(n for n, entry in enumerate(entries) if entry["watch"])
    assert all(entry["watch"] for entry in entries[first:]), entries
    return entries[first:]


def streams(stderr: str, resource: str = "endpointslices") -> list[list[dict[str, Any]]]:
    """The events the plugin read from each watch of `resource`, in order (from its `-v 9` log)."""
    found: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] | None = None
    for line in stderr.splitlines():
        request = REQUEST_LINE.match(line)
        if request:
            current = [] if "watch=true" in request.group(2) and f"/{resource}?" in request.group(2) else None
            found += [current] if current is not None else []
        elif current is not None and (event := EVENT.match(line)):
            current.append(json.loads(event.group(1)))
    return found


def last_version(events: list[dict[str, Any]]) -> str | None:
    versions = [event["object"]["metadata"].get("resourceVersion") for event in events if event["type"] != "ERROR"]
    return versions[-1] if versions else None


def resume_then_open(proxy: FaultProxy, since: int, gate: NodeGate, cut: Callable[[], object],
                     path: str = SLICES) -> None:
    """Waits for the first watch of `path`, cuts it, waits for the watch that resumes it, opens the gate."""
    first = proxy.first(since, watch_of(path))
    cut()
    proxy.first(first["seq"], lambda entry: watch_of(path)(entry) and entry["status"] == 200)
    gate.open()


def served(run: RunningPlugin) -> str:
    """The run's stderr, after checking that it verified the Service's endpoint."""
    code, out, err = run.finish()
    assert code == 0 and "service/gated verified: 1 ready endpoint" in out, (code, out, err)
    return err


@pytest.mark.parametrize("graceful", [True, False], ids=["ended-by-the-server", "connection-dropped"])
def test_a_cut_watch_is_resumed_from_the_last_version_seen(sandbox: RunningSandbox, namespace: str,
                                                           fault_proxy: FaultProxy, node_gate: NodeGate,
                                                           graceful: bool) -> None:
    gated_vm(sandbox, namespace, node_gate)
    since = fault_proxy.last_seq()
    run = expose(sandbox, namespace)
    resume_then_open(fault_proxy, since, node_gate, lambda: fault_proxy.cut_watches(SLICES, graceful=graceful))
    events = streams(served(run))
    first, resumed = chain(fault_proxy, since, SLICES)
    assert version(first) is None and version(resumed) == last_version(events[0]) is not None
    assert len(events) == 2 and events[0]  # the pod became Ready on the resumed watch


def test_410_as_the_answer_of_the_re_watch_starts_again_from_the_current_state(
        sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy, node_gate: NodeGate) -> None:
    gated_vm(sandbox, namespace, node_gate)
    fault_proxy.add_rule("status", status=410, method="GET", path=SLICES, watch=True, query=r"resourceVersion=\d")
    since = fault_proxy.last_seq()
    run = expose(sandbox, namespace)
    resume_then_open(fault_proxy, since, node_gate, lambda: fault_proxy.cut_watches(SLICES, graceful=True))
    events = streams(served(run))
    first, expired, fresh = chain(fault_proxy, since, SLICES)
    assert expired["status"] == 410 and version(expired) == last_version(events[0]) is not None
    assert version(first) is None and version(fresh) is None and fresh["status"] == 200


def test_410_inside_the_stream_starts_again_from_the_current_state(
        sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy, node_gate: NodeGate) -> None:
    gated_vm(sandbox, namespace, node_gate)
    since = fault_proxy.last_seq()
    run = expose(sandbox, namespace)
    resume_then_open(fault_proxy, since, node_gate, lambda: fault_proxy.cut_watches(SLICES, error=410))
    events = streams(served(run))
    first, fresh = chain(fault_proxy, since, SLICES)
    error = events[0][-1]
    assert error["type"] == "ERROR" and error["object"]["code"] == 410 and error["object"]["reason"] == "Expired"
    assert version(first) is None and version(fresh) is None


def test_a_bookmark_arrives_and_a_cut_watch_resumes_from_its_version(
        sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy, node_gate: NodeGate) -> None:
    """The real API server sends a BOOKMARK as soon as a watch with `allowWatchBookmarks` has replayed the
    current objects (`k8s.io/initial-events-end`), then about every minute and 2 s before the watch's
    timeout. The Service is made by a first run (`--timeout 0`), so the replay of its EndpointSlice comes
    before that bookmark and nothing comes after it (the pod is Pending): the bookmark is the last event seen
    when the watch is cut, and the resumed watch starts from its version."""
    gated_vm(sandbox, namespace, node_gate)
    made = run_plugin(sandbox, "vm", "gated", "-n", namespace, "--port", "80", "--timeout", "0")
    assert made.code == 3, made
    since = fault_proxy.last_seq()
    run = expose(sandbox, namespace)
    run.wait_for_line(lambda line: line.startswith('Response Body: {"type":"BOOKMARK"'))
    resume_then_open(fault_proxy, since, node_gate, lambda: fault_proxy.cut_watches(SLICES, graceful=True))
    events = streams(served(run))
    first, resumed = chain(fault_proxy, since, SLICES)
    assert [event["type"] for event in events[0]] == ["ADDED", "BOOKMARK"], events[0]
    assert events[0][-1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert version(first) is None and version(resumed) == last_version(events[0])


def test_every_wait_is_one_watch_chain_resumed_after_a_cut(
        sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy, node_gate: NodeGate,
        no_load_balancer: LoadBalancerSwitch) -> None:
    """Endpoints and load-balancer address (each watch cut, the event that completes it after the cut), and
    Route admission (its first watch answered 500; the router admits at once): each wait resumes its own
    watch, and none lists or polls."""
    gated_vm(sandbox, namespace, node_gate)
    services, routes = rf"/namespaces/{namespace}/services$", r"/routes$"
    fault_proxy.add_rule("status", status=500, method="GET", path=routes, watch=True)
    since = fault_proxy.last_seq()
    run = expose(sandbox, namespace, "--type", "LoadBalancer", "--route")
    resume_then_open(fault_proxy, since, node_gate, lambda: fault_proxy.cut_watches(SLICES, graceful=True))
    first = fault_proxy.first(since, watch_of(services))
    fault_proxy.cut_watches(services)
    fault_proxy.first(first["seq"], lambda entry: watch_of(services)(entry) and entry["status"] == 200)
    no_load_balancer.on()
    err = served(run)
    for path, resource in ((SLICES, "endpointslices"), (services, "services"), (routes, "routes")):
        watches, events = chain(fault_proxy, since, path), streams(err, resource)
        assert len(watches) == len(events) >= 2 and version(watches[0]) is None, (resource, watches)
        assert all(version(later) == last_version(seen) for later, seen in zip(watches[1:], events)), resource
