"""Ctrl-C (SIGINT) and SIGTERM while the plugin labels the VM, restarts it, or waits for its endpoint: exit 130
(143 for SIGTERM) after one line that says what was done and that re-running the same command finishes the job;
and it does. The run goes through the fault proxy, which holds the label's apply or the restart (a `delay`
rule) until the test has seen it held and sent the signal; the VM waiting for its endpoint is one whose pod
stays Pending until the test opens its node gate (tests/e2e/held_runs.py). kubectl execs the plugin, so the
signal goes to the process the test started.

A held write still reaches the API server after the plugin stopped (as a request already sent may): the test
waits for it, and for the restart it made, before re-running, so the re-run sees what the cluster has."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.held_runs import NodeGate, RunningPlugin
from tests.e2e.plugin_runs import run_plugin
from tests.e2e.sandbox_infrastructure import FAULTS_CONTEXT, FaultProxy
from tests.e2e.workloads import create_vm, launcher_pod, template_labels, wait_for_new_vmi
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

HOLD = 3.0  # seconds the proxy holds the write the signal comes during
RE_RUN = "re-running the same command finishes the job"
SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
SIGNAL_IDS = ["ctrl-c", "sigterm"]


def interrupted(run: RunningPlugin, signum: signal.Signals, code: int) -> str:
    """Signals the run; its stdout, after checking the exit code and that stderr is the one `interrupted` line."""
    run.signal(signum)
    exit_code, out, err = run.finish()
    assert exit_code == code and err.count("\n") == 1 and err.startswith("interrupted: "), (exit_code, out, err)
    return err.removeprefix("interrupted: ").rstrip("\n") + "\n" + out


@pytest.mark.parametrize("signum, code", SIGNALS, ids=SIGNAL_IDS)
def test_during_the_labelling(sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy,
                              signum: signal.Signals, code: int) -> None:
    create_vm(sandbox, namespace, vm_manifest("held", running=False))
    command = ("vm", "held", "-n", namespace, "--port", "80", "--selector", "held=yes", "--context", FAULTS_CONTEXT)
    since = fault_proxy.last_seq()
    rule = fault_proxy.add_rule("delay", method="PATCH", path="/virtualmachines/held$", seconds=HOLD)
    run = RunningPlugin(sandbox, *command)
    assert fault_proxy.held(wait=60), "the label's apply was not held"
    said = interrupted(run, signum, code)
    assert said == f"done so far: service/held created; {RE_RUN}\nservice/held created\n"
    fault_proxy.answered(rule["id"], since)  # the apply in flight went through after all

    again = run_plugin(sandbox, *command)
    assert again.code == 0, again
    assert again.stdout.splitlines()[0] == "service/held unchanged" and "PATCH virtualmachines" not in again.verbs()
    assert template_labels(sandbox, namespace, "held") == {"held": "yes"}


@pytest.mark.parametrize("signum, code", SIGNALS, ids=SIGNAL_IDS)
def test_during_the_restart(sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy,
                            signum: signal.Signals, code: int) -> None:
    create_vm(sandbox, namespace, vm_manifest("held"))
    old_vmi = sandbox.get("vmi", "held", namespace=namespace)["metadata"]["uid"]
    command = ("vm", "held", "-n", namespace, "--port", "80", "--selector", "held=yes", "--restart=always",
               "--context", FAULTS_CONTEXT)
    since = fault_proxy.last_seq()
    rule = fault_proxy.add_rule("delay", method="PUT", path="/virtualmachines/held/restart$", seconds=HOLD)
    run = RunningPlugin(sandbox, *command)
    assert fault_proxy.held(wait=60), "the restart was not held"
    said = interrupted(run, signum, code)
    assert said == (f"done so far: service/held created; virtualmachine.kubevirt.io/held labeled its template "
                    f"held=yes; {RE_RUN}\nservice/held created\nvirtualmachine.kubevirt.io/held labeled\n")
    fault_proxy.answered(rule["id"], since)  # the restart in flight went through after all
    wait_for_new_vmi(sandbox, namespace, "held", old_vmi)

    again = run_plugin(sandbox, *command)
    assert again.code == 0, again
    assert "PUT restart" not in again.verbs() and "PATCH virtualmachines" not in again.verbs()
    assert "service/held verified: 1 ready endpoint" in again.stdout
    assert launcher_pod(sandbox, namespace, "held")["metadata"]["labels"]["held"] == "yes"


@pytest.mark.parametrize("signum, code", SIGNALS, ids=SIGNAL_IDS)
def test_during_the_verification(sandbox: RunningSandbox, namespace: str, fault_proxy: FaultProxy,
                                 node_gate: NodeGate, signum: signal.Signals, code: int) -> None:
    create_vm(sandbox, namespace, node_gate.gated(vm_manifest("held")), wait=False)
    sandbox.kubectl("wait", "pods", "-l", "vm.kubevirt.io/name=held", "--for=create", "--timeout=60s",
                    namespace=namespace)
    command = ("vm", "held", "-n", namespace, "--port", "80", "--context", FAULTS_CONTEXT)
    since = fault_proxy.last_seq()
    run = RunningPlugin(sandbox, *command)
    fault_proxy.first(since, lambda entry: entry["watch"] and entry["path"].endswith("/endpointslices"))
    said = interrupted(run, signum, code)
    assert said == f"done so far: service/held created; {RE_RUN}\nservice/held created\n"

    node_gate.open()
    again = run_plugin(sandbox, *command)
    assert again.code == 0, again
    assert [request for request in again.verbs() if not request.startswith(("GET", "LIST", "WATCH"))] == []
    assert again.stdout.splitlines()[0] == "service/held unchanged"
    assert "service/held verified: 1 ready endpoint" in again.stdout
