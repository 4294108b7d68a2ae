"""A fault at every request position of the main flows, one test per position x kind (the table below; the
figure is in each test's id and asserted), through the fault proxy in front of the real API server.

Flows: `expose` of a stopped VM (its Service, the template's label by server-side apply, the nodes for the
summary), of a running VM labelled live as on KubeVirt 1.6 (its VMI and launcher pod, then the watch of the
EndpointSlices), with `--restart=always` (KubeVirt's restart), `delete` (with its Route), `list`, and a batch
of three VMs. Kinds: 500 (no Retry-After), 503 and 429 with Retry-After, a dropped connection, no answer
within `--request-timeout`, and the API server gone from that request on.

What is expected, as client-go does it: an answer with Retry-After (429, 5xx) is waited for and sent again
(at most 3 times and 10 s each, never past `--request-timeout`); a GET whose kept-alive connection drops is
sent again once; a watch is resumed. Otherwise the run ends with one line (exit 1, no traceback) that names
what was done before the failure and that re-running the same command finishes the job, or, when nothing
was done, neither; and re-running the same command with no fault writes exactly what was left undone and
leaves what was already right as it was (its resourceVersion). The cases run side by side (see
tests/e2e/fault_campaign.py), each test asserting its own.
"""

from __future__ import annotations

import enum
import itertools
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.fault_campaign import FLOWS, Campaign, Case, CaseRun, Kind, Position, writes_of
from tests.e2e.plugin_runs import run_plugin, short_request
from tests.e2e.sandbox_infrastructure import FAULTS_CONTEXT, FaultProxy
from tests.e2e.workloads import template_labels
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

REQUEST_TIMEOUT = 6  # seconds: the timeout kind's --request-timeout (no other request nears it under load)
RETRY_AFTER = 1
RE_RUN = "; re-running the same command finishes the job"
DONE = "; done before the failure: "

KINDS = (
    Kind("500", {"action": "status", "status": 500}),
    Kind("503-retry-after", {"action": "status", "status": 503, "retryAfter": RETRY_AFTER}),
    Kind("429-retry-after", {"action": "status", "status": 429, "retryAfter": RETRY_AFTER}),
    Kind("dropped", {"action": "drop"}),
    Kind("timeout", {"action": "delay", "seconds": REQUEST_TIMEOUT + 2}, ("--request-timeout", f"{REQUEST_TIMEOUT}s")),
    Kind("server-gone", {"action": "drop", "sticky": True}),
)
POSITIONS = (
    Position("stopped", "GET virtualmachines", "GET", r"/virtualmachines/{vm}$", first=True),
    Position("stopped", "GET services", "GET", r"/services/{svc}$"),
    Position("stopped", "LIST networkpolicies", "GET", r"/networkpolicies$"),
    Position("stopped", "POST services", "POST", r"/services$"),
    Position("stopped", "PATCH virtualmachines", "PATCH", r"/virtualmachines/{vm}$"),
    Position("stopped", "LIST nodes", "GET", r"^/api/v1/nodes$"),
    Position("live", "GET virtualmachineinstances", "GET", r"/virtualmachineinstances/{vm}$"),
    Position("live", "LIST pods", "GET", r"/pods$"),
    Position("live", "PATCH virtualmachineinstances", "PATCH", r"/virtualmachineinstances/{vm}$"),
    Position("live", "PATCH pods", "PATCH", r"/pods/virt-launcher-{vm}-"),
    Position("live", "WATCH endpointslices", "GET", r"/endpointslices$", watch=True),
    Position("restart", "PUT restart", "PUT", r"/virtualmachines/{vm}/restart$"),
    Position("delete", "GET virtualmachines", "GET", r"/virtualmachines/{vm}$", first=True),
    Position("delete", "LIST services", "GET", r"/services$"),
    Position("delete", "LIST routes", "GET", r"/routes$"),
    Position("delete", "DELETE routes", "DELETE", r"/routes/{svc}$"),
    Position("delete", "DELETE services", "DELETE", r"/services/{svc}$"),
    Position("delete", "PATCH virtualmachines", "PATCH", r"/virtualmachines/{vm}$"),
    Position("list", "LIST virtualmachines", "GET", r"/virtualmachines$", first=True),
    Position("list", "LIST pods", "GET", r"/pods$"),
    Position("list", "LIST services", "GET", r"/services$"),
    Position("list", "LIST endpointslices", "GET", r"/endpointslices$"),
    Position("list", "LIST routes", "GET", r"/routes$"),
    Position("many", "LIST virtualmachines", "GET", r"/virtualmachines$", first=True),
    Position("many", "LIST services", "GET", r"/services$"),
    Position("many", "POST services", "POST", r"/services$", skip=1),  # the second VM's
)
CASES = [Case(number, position, kind)
         for number, (position, kind) in enumerate(itertools.product(POSITIONS, KINDS), start=1)]
FIGURE = f"{len(POSITIONS)} positions x {len(KINDS)} kinds = {len(CASES)} cases"


class Outcome(str, enum.Enum):
    RETRIED = "retried"  # sent again after the fault; the run goes on (exit 0)
    RESUMED = "resumed"  # a watch, watched again; the run goes on
    WAITED = "waited"  # a watch is bounded by --timeout, not --request-timeout: it waits the delay out
    FAILED = "failed"  # one line, exit 1; a re-run finishes the job


def expected(position: Position, kind: Kind) -> Outcome:
    if "retryAfter" in kind.rule:
        return Outcome.RETRIED
    if kind.name == "server-gone":
        return Outcome.FAILED
    if position.watch:
        return Outcome.WAITED if kind.name == "timeout" else Outcome.RESUMED
    if kind.name == "dropped" and position.method == "GET" and not position.first:
        return Outcome.RETRIED
    return Outcome.FAILED


def case_id(case: Case) -> str:
    return (f"{case.number:03d}of{len(CASES)}-{case.position.flow}-{case.position.request.replace(' ', '-')}-"
            f"{case.kind.name}")


@pytest.fixture(scope="module")
def campaigns() -> Iterator[dict[Path, Campaign]]:
    """The module's campaign (one per sandbox), closed after its last test."""
    made: dict[Path, Campaign] = {}
    yield made
    for campaign in made.values():
        campaign.close()


@pytest.fixture
def campaign(request: pytest.FixtureRequest, sandbox: RunningSandbox, campaigns: dict[Path, Campaign]) -> Campaign:
    """The cases of the tests selected (`-k`), all started at the first test (not the `fault_proxy` fixture:
    clearing the rules between tests would take those of the cases still running)."""
    if sandbox.kubeconfig not in campaigns:
        campaigns[sandbox.kubeconfig] = Campaign(sandbox, FaultProxy(sandbox), selected_cases(request.session))
    return campaigns[sandbox.kubeconfig]


def selected_cases(session: pytest.Session) -> list[Case]:
    tests = [item for item in session.items if item.module is not None and item.module.__name__ == __name__]
    cases = {item.callspec.params["case"].number for item in tests
             if hasattr(item, "callspec") and "case" in item.callspec.params}
    if any(item.name == test_the_table_has_every_request_of_each_flow_and_states_the_figure.__name__
           for item in tests):
        cases |= {case.number for case in CASES if case.kind.name == "429-retry-after"}
    return [case for case in CASES if case.number in cases]


def short(entry: Mapping[str, Any]) -> str:
    return short_request(f"{entry['method']} {entry['path']}?{entry['query']}")


def error_line(stderr: str) -> str:
    """The one `error:` line, last, after nothing but warnings."""
    *before, last = stderr.splitlines() or [""]
    assert last.startswith("error: ") and all(line.startswith("Warning: ") for line in before), stderr
    return last


def done_items(line: str) -> list[str]:
    if DONE not in line:
        return []
    assert line.endswith(RE_RUN), line
    return line.split(DONE, 1)[1][:-len(RE_RUN)].split("; ")


def test_the_table_has_every_request_of_each_flow_and_states_the_figure(campaign: Campaign) -> None:
    """Each flow's requests, as a run that was only retried made them, are positions of the table."""
    positions = {position.request for position in POSITIONS}
    for flow in FLOWS:
        case = next(c for c in CASES if c.position.flow == flow and c.kind.name == "429-retry-after")
        run = campaign.outcome(case)
        assert run.first.code == 0, run.first
        made = {short(entry) for entry in run.first_log}
        assert made <= positions, (flow, made - positions)
    assert FIGURE == "26 positions x 6 kinds = 156 cases"
    print(FIGURE)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fault(campaign: Campaign, case: Case) -> None:
    run = campaign.outcome(case)
    faulted = [entry for entry in run.first_log if entry["rule"] == run.rule_id]
    assert faulted and short(faulted[0]) == case.position.request, (run.first, run.first_log)  # as meant
    for result in (run.first, run.rerun):
        assert result is None or "Traceback" not in result.stderr, result
    outcome = expected(case.position, case.kind)
    if outcome is Outcome.FAILED:
        check_failure(run, faulted[0])
    else:
        check_ridden_out(run, outcome, faulted[0])
    check_done(campaign, run)


def check_ridden_out(run: CaseRun, outcome: Outcome, fault: Mapping[str, Any]) -> None:
    """The fault cost the run nothing but time: the request (or watch) went again, and the run finished."""
    assert run.first.code == 0 and run.rerun is None, run.first
    if outcome is Outcome.WAITED:
        assert fault["status"] == 200, fault
        return
    again = [entry for entry in run.first_log if entry["seq"] > fault["seq"] and short(entry) == short(fault)]
    assert again and again[0]["rule"] is None and again[0]["status"] is not None, run.first_log  # answered
    if "retryAfter" in run.case.kind.rule:  # Retry-After honoured
        assert again[0]["time"] - fault["time"] >= RETRY_AFTER - 0.05, (fault, again[0])


def check_failure(run: CaseRun, fault: Mapping[str, Any]) -> None:
    """One line per failure naming what was done (or nothing, then no promise), exit 1; the re-run writes
    what was left undone, and nothing that was right already."""
    first, flow = run.first, run.case.position.flow
    assert first.code == 1, first
    if run.case.kind.rule.get("sticky"):  # gone: every later request of the run was dropped too
        assert all(e["rule"] == run.rule_id and e["status"] is None for e in run.first_log if e["seq"] >= fault["seq"])
    done = writes_of([entry for entry in run.first_log if entry["seq"] < fault["seq"]])
    if flow == "many" and run.case.position.method == "POST":
        failed = [f"{run.case.name}-2", f"{run.case.name}-3"][:2 if run.case.kind.name == "server-gone" else 1]
        errors = [line for line in first.stderr.splitlines() if line.startswith("error: ")]
        assert [line.split(": ")[1] for line in errors] == [f"virtualmachine.kubevirt.io/{name}" for name in failed]
        assert first.stdout.splitlines()[-1] == f"{3 - len(failed)} of 3 VirtualMachines exposed; failed: " \
                                                f"{', '.join(failed)}", first
    else:
        line = error_line(first.stderr)
        assert len(done_items(line)) == len(done), (line, done)
        assert done or RE_RUN not in line, line
    assert run.rerun is not None and run.rerun.code == 0, run.rerun
    left = Counter(FLOWS[flow].writes) - Counter(writes_of(run.first_log))
    assert Counter(writes_of(run.rerun_log)) == left, (run.rerun_log, left)
    for name, version in run.versions_between.items():  # the Services made stay as they were (delete's go)
        assert version is None or run.versions_after[name] in (version, None if flow == "delete" else version), \
            (name, run.versions_between, run.versions_after)


def check_done(campaign: Campaign, run: CaseRun) -> None:
    """The job is done: what the flow makes is there (what `delete` takes down is gone), `list` as listed."""
    flow, name = run.case.position.flow, run.case.name
    finished = run.rerun or run.first
    if flow == "list":
        assert finished.stdout == campaign.listed, finished
    elif flow == "delete":
        assert run.versions_after == {name: None} and name not in run.template_labels
        assert name not in run.routes_left
    else:
        assert None not in run.versions_after.values(), run.versions_after
    if flow in ("stopped", "live", "restart"):
        assert run.template_labels.get(name) == "yes", run.template_labels


def test_delete_by_name_re_run_gives_back_the_labels_a_failed_run_left(sandbox: RunningSandbox,
                                                                       campaign: Campaign) -> None:
    """`delete --name` that failed after it deleted the Service: the re-run finds no Service of that name but
    that exposure's labels on the template, and gives them back (it used to answer NotFound)."""
    namespace, token = campaign.namespace, campaign.token()
    sandbox.apply(vm_manifest("named", running=False), namespace)
    exposed = run_plugin(sandbox, "vm", "named", "-n", namespace, "--name", "named-web", "--selector", "web=named",
                         "--port", "80")
    assert exposed.code == 0, exposed
    campaign.proxy.add_rule("status", status=500, method="PATCH", path="/virtualmachines/named$", caller=token[-12:])
    command = ("delete", "vm", "named", "--name", "named-web", "-n", namespace, "--context", FAULTS_CONTEXT,
               "--token", token)
    failed = run_plugin(sandbox, *command)
    assert failed.code == 1 and done_items(error_line(failed.stderr)) == ['service "named-web" deleted'], failed
    again = run_plugin(sandbox, *command)
    assert again.code == 0 and again.stdout.splitlines()[0] == "virtualmachine.kubevirt.io/named unlabeled", again
    assert "web" not in template_labels(sandbox, namespace, "named")


@pytest.mark.parametrize("retry_after, flags, attempts", [(1, (), 4), (10, ("--request-timeout", "4s"), 1)],
                         ids=["three-retries-then-the-error", "not-past-the-request-timeout"])
def test_retries_are_bounded(campaign: Campaign, retry_after: int, flags: tuple[str, ...], attempts: int) -> None:
    """An API server that keeps answering 429 with Retry-After: the plugin waits as told, 3 times at most (10 s
    each at most), never past --request-timeout, then says so in one line."""
    token = campaign.token()
    since = campaign.proxy.last_seq()
    rule = campaign.proxy.add_rule("status", status=429, retryAfter=retry_after, count=None, caller=token[-12:],
                                   method="GET", path="/virtualmachines/stopped$")
    failed = run_plugin(campaign.sandbox, "vm", "stopped", "-n", campaign.namespace, "--port", "80", "--context",
                        FAULTS_CONTEXT, "--token", token, *flags)
    campaign.proxy.remove_rule(rule["id"])
    assert error_line(failed.stderr).startswith("error: Error from server (TooManyRequests): "), failed
    times = [entry["time"] for entry in campaign.log(token[-12:], since)]
    assert len(times) == attempts, times
    assert all(later - earlier >= retry_after - 0.05 for earlier, later in zip(times, times[1:])), times
