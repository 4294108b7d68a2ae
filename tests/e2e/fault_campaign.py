"""The runs behind tests/e2e/plugin/test_faults.py: each case (one request position of a flow x one fault kind)
is run side by side with the others against one sandbox, as its own caller, so that a fault reaches only the
case it is meant for.

A case: its own bearer token (a TokenRequest for one ServiceAccount bound to cluster-admin, made per case;
the fault proxy tells callers apart by the last 12 characters of the token, and each rule names its caller);
the fault as a rule on the case's request position; the plugin run through the proxy (context `faults`); a
delayed request waited for until the proxy forwarded it and the API server answered (so nothing of the case
lands later); the rule removed; then, if the run failed, the same command run again with no fault. What the
proxy saw of each run (its log, with the fault's answers and the timing of retries) and the case's Services
(resourceVersions between and after the runs) are kept for the test's assertions.

Objects are shared where cases cannot disturb each other: one stopped VM for every `expose` of a stopped VM,
one running VM for every live labelling (each case its own Service and selector label: each exposure applies
its labels as its own field manager, so concurrent cases merge). A restart (it replaces the pod the others
wait on), a `delete` (it gives back the labels of every exposure whose Service is gone, another case's
too) and a batch (it names its VMs by a label) get VMs of their own.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from tests.e2e.plugin_runs import Result, run_plugin, short_request
from tests.e2e.sandbox_infrastructure import FAULTS_CONTEXT, FaultProxy
from tests.e2e.workloads import as_if_before_kubevirt_1_7, wait_for_new_vmi
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

WORKERS = 6
WRITES = ("POST", "PUT", "PATCH", "DELETE")
ACCOUNT = "fault-cases"


@dataclass(frozen=True)
class Position:
    """Where a fault strikes: the request of a flow, matched by method and a path regex (`{vm}` and `{svc}`
    are the case's)."""

    flow: str
    request: str  # as tests/e2e/plugin_runs.py `short_request` names it: `PATCH virtualmachineinstances`
    method: str
    path: str
    watch: bool = False
    first: bool = False  # the run's first request: on a new connection, so a dropped GET is not sent again
    skip: int = 0  # matching requests let through before the one faulted (a batch's second Service)


@dataclass(frozen=True)
class Kind:
    name: str
    rule: Mapping[str, Any]  # the proxy rule's action and fields
    flags: tuple[str, ...] = ()  # plugin flags the kind needs (a request timeout)


@dataclass(frozen=True)
class Case:
    number: int
    position: Position
    kind: Kind

    @property
    def name(self) -> str:
        """The case's Service, selector label key, and VM (restart) or label value (batch)."""
        return f"c{self.number:03d}"


@dataclass(frozen=True)
class Flow:
    """A command and the objects it works on; `writes`: what a run with no fault writes."""

    writes: tuple[str, ...]
    command: Callable[[str], tuple[str, ...]]  # the case's name -> the arguments
    vm: Callable[[str], str]
    services: Callable[[str], tuple[str, ...]] = lambda name: (name,)


FLOWS = {
    "stopped": Flow(("POST services", "PATCH virtualmachines"), lambda n: (
        "vm", "stopped", "--name", n, "--selector", f"{n}=yes", "--type", "NodePort", "--port", "80"),
        lambda n: "stopped"),
    "live": Flow(("POST services", "PATCH virtualmachines", "PATCH virtualmachineinstances", "PATCH pods"),
                 lambda n: ("vm", "live", "--name", n, "--selector", f"{n}=yes", "--port", "80"), lambda n: "live"),
    "restart": Flow(("POST services", "PATCH virtualmachines", "PUT restart"), lambda n: (
        "vm", f"r-{n}", "--name", n, "--selector", f"{n}=yes", "--port", "80", "--restart=always"),
        lambda n: f"r-{n}"),
    "delete": Flow(("DELETE routes", "DELETE services", "PATCH virtualmachines"),
                   lambda n: ("delete", "vm", f"d-{n}"), lambda n: f"d-{n}"),
    "list": Flow((), lambda n: ("list",), lambda n: "listed", lambda n: ()),
    "many": Flow(("POST services", "PATCH virtualmachines") * 3,
                 lambda n: ("vm", "--vm-selector", f"batch={n}", "--port", "80", "--parallel", "1"),
                 lambda n: f"{n}-1", lambda n: (f"{n}-1", f"{n}-2", f"{n}-3")),
}
EXPOSE_FOR_DELETE = ("--port", "80", "--route")


@dataclass
class CaseRun:
    """What one case did: its runs, what the proxy saw of each, and its Services' resourceVersions after the
    first run and after the last."""

    case: Case
    rule_id: str  # the fault's rule, as the proxy's log names it
    first: Result
    first_log: list[dict[str, Any]]
    rerun: Result | None = None
    rerun_log: list[dict[str, Any]] = field(default_factory=list)
    versions_between: dict[str, str | None] = field(default_factory=dict)
    versions_after: dict[str, str | None] = field(default_factory=dict)
    template_labels: dict[str, str] = field(default_factory=dict)
    routes_left: list[str] = field(default_factory=list)


def writes_of(log: Sequence[Mapping[str, Any]]) -> list[str]:
    """The writes the API server carried out (2xx), in short form."""
    return [short_request(f"{e['method']} {e['path']}?{e['query']}") for e in log
            if e["method"] in WRITES and e["status"] is not None and 200 <= e["status"] < 300]


class Campaign:
    """The objects every case works on, made once; `outcome(case)` waits for that case's runs."""

    def __init__(self, sandbox: RunningSandbox, proxy: FaultProxy, cases: Sequence[Case]) -> None:
        self.sandbox, self.proxy = sandbox, proxy
        self.namespace, self.list_namespace = f"faults-{secrets.token_hex(3)}", f"faults-list-{secrets.token_hex(3)}"
        self.core = client.CoreV1Api(sandbox.api_client)
        self.custom = client.CustomObjectsApi(sandbox.api_client)
        self.listed = ""  # what `list` prints of the list namespace when done (prepare_list)
        running = self.prepare(cases)
        self.waits = ThreadPoolExecutor(max_workers=len(running) + 1)  # the running VMs come up meanwhile
        self.ready = {vm: self.waits.submit(self.wait_running, vm) for vm in running}
        self.ready["listed"] = self.waits.submit(self.prepare_list)
        self.pool = ThreadPoolExecutor(max_workers=WORKERS)
        first = sorted(cases, key=lambda case: FLOWS[case.position.flow].vm(case.name) in self.ready)
        self.futures: dict[int, Future[CaseRun]] = {case.number: self.pool.submit(self.run_case, case)
                                                    for case in first}

    def outcome(self, case: Case) -> CaseRun:
        return self.futures[case.number].result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.waits.shutdown(wait=True, cancel_futures=True)
        for namespace in (self.namespace, self.list_namespace):
            self.sandbox.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        self.sandbox.kubectl("delete", "clusterrolebinding", self.namespace, check=False)

    # -- the objects -------------------------------------------------------------------------------------

    def prepare(self, cases: Sequence[Case]) -> list[str]:
        """Makes the namespaces, every VM and the cases' ServiceAccount; the running VMs' names."""
        for namespace in (self.namespace, self.list_namespace):
            self.sandbox.kubectl("create", "namespace", namespace)
        vms = [vm_manifest("stopped", running=False), vm_manifest("live")]
        for case in cases:
            name, flow = case.name, case.position.flow
            if flow in ("restart", "delete"):
                vms.append(vm_manifest(FLOWS[flow].vm(name), running=flow == "restart"))
            if flow == "many":
                for vm in FLOWS["many"].services(name):
                    vms.append(dict(vm_manifest(vm, running=False), metadata={"name": vm, "labels": {"batch": name}}))
        self.sandbox.apply({"apiVersion": "v1", "kind": "List", "items": vms}, self.namespace)
        self.sandbox.apply(vm_manifest("listed"), self.list_namespace)
        self.sandbox.kubectl("create", "serviceaccount", ACCOUNT, namespace=self.namespace)
        self.sandbox.kubectl("create", "clusterrolebinding", self.namespace, "--clusterrole=cluster-admin",
                             f"--serviceaccount={self.namespace}:{ACCOUNT}")
        return [vm["metadata"]["name"] for vm in vms if vm["spec"]["runStrategy"] == "Always"]

    def wait_running(self, vm: str) -> None:
        self.sandbox.kubectl("wait", f"vm/{vm}", "--for=condition=Ready", "--timeout=120s", namespace=self.namespace)
        if vm == "live":
            as_if_before_kubevirt_1_7(self.sandbox, self.namespace, "live")  # so it is labelled live, as on 1.6

    def prepare_list(self) -> None:
        """`listed` exposed, and what `list` prints of its namespace then (every `list` case's output)."""
        self.sandbox.kubectl("wait", "vm/listed", "--for=condition=Ready", "--timeout=120s",
                             namespace=self.list_namespace)
        exposed = run_plugin(self.sandbox, "vm", "listed", "-n", self.list_namespace, "--port", "80")
        assert exposed.code == 0, exposed
        listed = run_plugin(self.sandbox, "list", "-n", self.list_namespace)
        assert listed.code == 0, listed
        self.listed = listed.stdout

    def token(self) -> str:
        request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                                     expiration_seconds=3600))
        return str(self.core.create_namespaced_service_account_token(ACCOUNT, self.namespace, request).status.token)

    # -- one case ------------------------------------------------------------------------------------------

    def arguments(self, case: Case, token: str) -> tuple[str, ...]:
        namespace = self.list_namespace if case.position.flow == "list" else self.namespace
        return (*FLOWS[case.position.flow].command(case.name), "-n", namespace, "--context", FAULTS_CONTEXT,
                "--token", token, *case.kind.flags)

    def run_case(self, case: Case) -> CaseRun:
        position, name = case.position, case.name
        flow = FLOWS[position.flow]
        if flow.vm(name) in self.ready:
            self.ready[flow.vm(name)].result()
        if position.flow == "delete":
            exposed = run_plugin(self.sandbox, "vm", flow.vm(name), "-n", self.namespace, "--name", name, "--selector",
                                 f"{name}=yes", *EXPOSE_FOR_DELETE)
            assert exposed.code == 0, exposed
        token = self.token()
        caller = token[-12:]
        args = self.arguments(case, token)
        match = {"method": position.method, "path": position.path.format(vm=flow.vm(name), svc=name),
                 "watch": position.watch if position.method == "GET" else None, "caller": caller}
        old_vmi = self.vmi_uid(f"r-{name}") if position.flow == "restart" else None
        since = self.proxy.last_seq()
        rules = [self.proxy.add_rule("delay", seconds=0, count=position.skip, **match)] if position.skip else []
        rules.append(self.proxy.add_rule(**{**case.kind.rule, **match}))
        first = run_plugin(self.sandbox, *args)
        if case.kind.rule["action"] == "delay" and self.proxy.rule(rules[-1]["id"])["hits"]:
            self.proxy.answered(rules[-1]["id"], since)  # held after the plugin gave up, it goes on: let it end
        for rule in rules:
            self.proxy.remove_rule(rule["id"])
        run = CaseRun(case, rules[-1]["id"], first, self.log(caller, since))
        if old_vmi is not None and run.first.code != 0 and "PUT restart" in writes_of(run.first_log):
            # a restart made after the plugin gave up: let it be done before the re-run reads the VM
            wait_for_new_vmi(self.sandbox, self.namespace, f"r-{name}", old_vmi)
        run.versions_between = self.versions(flow.services(name))
        if first.code != 0:
            since = self.proxy.last_seq()
            run.rerun = run_plugin(self.sandbox, *args)
            run.rerun_log = self.log(caller, since)
        run.versions_after = self.versions(flow.services(name))
        if position.flow != "list":
            vm = self.custom.get_namespaced_custom_object("kubevirt.io", "v1", self.namespace, "virtualmachines",
                                                         flow.vm(name))
            run.template_labels = dict(vm["spec"]["template"]["metadata"].get("labels") or {})
        if position.flow == "delete":
            routes = self.custom.list_namespaced_custom_object("route.openshift.io", "v1", self.namespace, "routes")
            run.routes_left = [route["metadata"]["name"] for route in routes["items"]]
        return run

    def vmi_uid(self, name: str) -> str:
        return str(self.custom.get_namespaced_custom_object("kubevirt.io", "v1", self.namespace,
                                                            "virtualmachineinstances", name)["metadata"]["uid"])

    def log(self, caller: str, since: int) -> list[dict[str, Any]]:
        """What the proxy saw of one caller's requests after `since`."""
        return [entry for entry in self.proxy.requests(since) if entry["caller"] == caller]

    def versions(self, services: Sequence[str]) -> dict[str, str | None]:
        """Service name -> its resourceVersion, None when there is none (read one by one, as JSON: the namespace
        holds every case's Services, which a list would carry, and the client turn into its models, each time)."""
        return {name: self.version(name) for name in services}

    def version(self, service: str) -> str | None:
        try:
            found = self.core.read_namespaced_service(service, self.namespace, _preload_content=False)
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return str(json.loads(found.data)["metadata"]["resourceVersion"])
