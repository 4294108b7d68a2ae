"""Several objects in one `expose` (`vm a b c`, `--vm-selector`, `--all`): each gets its own Service.

- Reads: one LIST per kind for the whole namespace (the objects, and only when one may run their VMIs and
  launcher pods; Services; NetworkPolicies), never a request chain per object.
- Each object is planned as a single `expose` plans it; a refusal ends that object only.
- Writes: each object's, in order, as a single run writes them (`Run.apply`), at most `--parallel` objects
  at once, each worker on its own connection.
- Verification: ONE watch of the EndpointSlices of all the Services, then (for LoadBalancers) one of the
  Services; stopped VMs are verified statically.
- One line per failure naming the object, a count at the end; the exit code is the worst of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from typing import NamedTuple

from oc_virt_expose.access.client import Client
from oc_virt_expose.access.kubeconfig import Connection
from oc_virt_expose.access.kubevirt import Cluster
from oc_virt_expose.access.watch import Deadline
from oc_virt_expose.commands.changes import ChangeLog
from oc_virt_expose.commands.expose.options import BatchRequest, ExposeRequest
from oc_virt_expose.commands.expose.plan import Observed, Plan, make_plan
from oc_virt_expose.commands.expose.single import Run
from oc_virt_expose.commands.expose.verification import Verification, is_load_balancer
from oc_virt_expose.errors import STOPS, ExitCode, NotFoundError, NotServingError, VirtExposeError, stop_code
from oc_virt_expose.model.kinds import VM, VMI
from oc_virt_expose.model.labels import CREATED_BY_LABEL, LAUNCHER_SELECTOR
from oc_virt_expose.model.network import unread_policies_warning
from oc_virt_expose.model.objects import Object, is_finishing, may_run, name_of, own_labels, uid_of
from oc_virt_expose.model.settings import DryRun
from oc_virt_expose.ui.printer import Printer

SEVERITY = (ExitCode.OK, ExitCode.NOT_SERVING, ExitCode.ERROR)
"""Exit codes from the best to the worst: the batch exits with the worst of its objects'."""


class Outcome:
    """One object of the batch, as far as it got (each step fills in its part)."""

    def __init__(self, name: str, request: ExposeRequest) -> None:
        self.name = name
        self.request = request
        self.observed: Observed | None = None
        self.plan: Plan | None = None
        self.run: Run | None = None
        self.service: Object | None = None
        self.error: VirtExposeError | None = None

    @property
    def going(self) -> bool:
        return self.error is None


class Check(NamedTuple):
    """The verification of one object's Service."""

    outcome: Outcome
    verification: Verification
    service: Object

    @property
    def service_name(self) -> str:
        return self.outcome.request.service.name

    def attempt(self, step: Callable[[], object]) -> bool:
        """Run one verification step; a NotServingError becomes the object's outcome (and ends its waiting)."""
        try:
            return bool(step())
        except NotServingError as error:
            self.outcome.error = error
            return True


class Batch:
    """One `expose` of several objects; `cluster` is the main connection's, workers open their own."""

    def __init__(self, batch: BatchRequest, dry_run: DryRun, printer: Printer, cluster: Cluster,
                 open_cluster: Callable[[], Cluster]) -> None:
        self.batch = batch
        self.dry_run = dry_run
        self.printer = printer
        self.cluster = cluster
        self.open_cluster = open_cluster
        self.kind = batch.targets.kind

    def execute(self) -> ExitCode:
        outcomes = self.read()
        try:
            for outcome in outcomes:
                self.plan(outcome)
            if self.dry_run is DryRun.CLIENT:
                for outcome in self.going(outcomes):
                    assert outcome.plan is not None and outcome.observed is not None
                    Run(outcome.request, self.dry_run, self.printer, self.cluster).preview(outcome.plan,
                                                                                        outcome.observed)
            else:
                self.apply(outcomes)
                self.verify(outcomes)
        except STOPS as stop:
            return self.interrupted(outcomes, stop_code(stop))
        return self.report(outcomes)

    # -- reads and plans -------------------------------------------------------------------------------

    def read(self) -> list[Outcome]:
        targets = self.batch.targets
        objects = self.cluster.list_targets(self.kind, targets.label_selector)
        by_name = {name_of(obj): obj for obj in objects}
        names = list(targets.names) or sorted(by_name)
        if not names:
            raise VirtExposeError(f"there is no {targets.describe()} in namespace \"{self.cluster.namespace}\"")
        outcomes = [Outcome(name, self.batch.request_for(name)) for name in names]
        chosen = [by_name[name] for name in names if name in by_name]
        vmis, pods = self.read_running(chosen)
        services = {name_of(svc): svc for svc in self.cluster.list_items("v1", "services")}
        policies = self.cluster.list_network_policies()
        if policies is None:
            self.printer.warning(unread_policies_warning(self.cluster.namespace))
        for outcome in outcomes:
            target = by_name.get(outcome.name)
            if target is None:
                outcome.error = NotFoundError(f'{self.kind.plural}.{self.kind.group} "{outcome.name}" not found',
                                              status=404, reason="NotFound")
                continue
            vmi = vmis.get(outcome.name) if self.kind is VM else target if self.kind is VMI else None
            launchers = pods.get(uid_of(vmi), []) if vmi is not None else []
            outcome.observed = Observed(target, vmi if self.kind is VM else None, launchers,
                                        services.get(outcome.request.service.name), policies)
        return outcomes

    def read_running(self, chosen: Sequence[Object]) -> tuple[dict[str, Object], dict[str, list[Object]]]:
        """VM name -> its running VMI, VMI uid -> its launcher pods; no request when none may run."""
        if self.kind is VM and not any(may_run(vm) for vm in chosen):
            return {}, {}
        vmis: dict[str, Object] = {}
        if self.kind is VM:
            listed = self.cluster.list_items(VMI.api_version, VMI.plural)
            vmis = {name_of(vmi): vmi for vmi in listed if not is_finishing(vmi)}
        pods: dict[str, list[Object]] = {}
        for pod in self.cluster.list_items("v1", "pods", label_selector=LAUNCHER_SELECTOR):
            if not is_finishing(pod):
                pods.setdefault(own_labels(pod).get(CREATED_BY_LABEL, ""), []).append(pod)
        return vmis, pods

    def plan(self, outcome: Outcome) -> None:
        if outcome.observed is None:
            return
        try:
            outcome.plan = make_plan(outcome.request, outcome.observed)
        except VirtExposeError as error:
            outcome.error = error
            return
        for warning in outcome.plan.warnings:
            self.printer.warning(f"{self.kind.kind} {outcome.name}: {warning}")

    # -- writes ---------------------------------------------------------------------------------------

    def apply(self, outcomes: Sequence[Outcome]) -> None:
        going = list(self.going(outcomes))
        if self.batch.parallel <= 1 or len(going) <= 1:
            for outcome in going:
                self.apply_one(outcome, self.cluster)
            return
        local = threading.local()
        with ExitStack() as clusters, ThreadPoolExecutor(max_workers=self.batch.parallel) as pool:
            def worker_cluster() -> Cluster:
                if not hasattr(local, "cluster"):
                    local.cluster = clusters.enter_context(_closing(self.open_cluster()))
                return local.cluster  # type: ignore[no-any-return]

            try:
                for future in [pool.submit(self.apply_in_worker, outcome, worker_cluster) for outcome in going]:
                    future.result()
            except STOPS:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    def apply_in_worker(self, outcome: Outcome, worker_cluster: Callable[[], Cluster]) -> None:
        self.apply_one(outcome, worker_cluster())

    def apply_one(self, outcome: Outcome, cluster: Cluster) -> None:
        assert outcome.plan is not None and outcome.observed is not None
        outcome.run = Run(outcome.request, self.dry_run, self.printer, cluster)
        try:
            outcome.service = outcome.run.apply(outcome.plan, outcome.observed)
        except VirtExposeError as error:
            outcome.error = outcome.run.changes.after_writes(error)

    # -- verification ---------------------------------------------------------------------------------

    def verify(self, outcomes: Sequence[Outcome]) -> None:
        checks = [Check(o, Verification(o.request, self.dry_run, self.printer, self.cluster, o.plan, o.observed,
                                        summaries=False), o.service)
                  for o in self.going(outcomes) if o.plan is not None and o.observed is not None and o.service]
        waiting = [check for check in checks
                   if not check.attempt(partial(check.verification.needs_no_wait, check.service))]
        if not waiting:
            return
        deadline = Deadline(self.batch.template.timeout)
        wanted = {check.service_name: check.verification.endpoint_wait(check.service) for check in waiting}
        with self.printer.progress(f"waiting for ready endpoints of {len(waiting)} {self.kind.kind}s"):
            reports = self.cluster.wait_for_endpoints(wanted, deadline)
        for check in waiting:
            check.attempt(partial(check.verification.report_endpoints, check.service, reports[check.service_name]))
        balancing = [check for check in waiting if check.outcome.going and is_load_balancer(check.service)]
        if balancing:
            with self.printer.progress("waiting for load-balancer addresses"):
                balanced = self.cluster.wait_for_load_balancers([check.service_name for check in balancing],
                                                                deadline)
            for check in balancing:
                check.attempt(partial(check.verification.report_load_balancer, check.service,
                                      balanced.get(check.service_name)))

    # -- the report -----------------------------------------------------------------------------------

    def report(self, outcomes: Sequence[Outcome]) -> ExitCode:
        resource = self.kind.qualified
        for outcome in outcomes:
            if outcome.error is not None:
                self.printer.failure(resource, outcome.name, " ".join(str(outcome.error).split()))
        failed = [o.name for o in outcomes if o.error is not None and o.error.exit_code is not ExitCode.NOT_SERVING]
        pending = [o.name for o in outcomes if o.error is not None and o.error.exit_code is ExitCode.NOT_SERVING]
        verb = "exposed" + ("" if self.dry_run is DryRun.NONE else " (dry run)" if self.dry_run is DryRun.CLIENT
                            else " (server dry run)")
        line = f"{len(outcomes) - len(failed) - len(pending)} of {len(outcomes)} {self.kind.kind}s {verb}"
        line += f"; not serving yet: {', '.join(pending)}" if pending else ""
        line += f"; failed: {', '.join(failed)}" if failed else ""
        self.printer.info(line)
        return worst(o.error.exit_code if o.error is not None else ExitCode.OK for o in outcomes)

    def interrupted(self, outcomes: Sequence[Outcome], code: ExitCode) -> ExitCode:
        done = [change for o in outcomes if o.run is not None for change in o.run.changes.done]
        return ChangeLog(done).interrupted(self.printer, code)

    @staticmethod
    def going(outcomes: Sequence[Outcome]) -> Iterator[Outcome]:
        return (outcome for outcome in outcomes if outcome.going)


def worst(codes: Iterator[ExitCode]) -> ExitCode:
    return max(codes, key=lambda code: SEVERITY.index(code) if code in SEVERITY else len(SEVERITY),
               default=ExitCode.OK)


def run_batch(batch: BatchRequest, connection: Connection, verbosity: int, dry_run: DryRun,
              printer: Printer) -> ExitCode:
    def open_cluster() -> Cluster:
        return Cluster(Client(connection, verbosity=verbosity), connection.namespace,
                       dry_run=dry_run is DryRun.SERVER, field_manager=batch.template.field_manager)

    with _closing(open_cluster()) as cluster:
        return Batch(batch, dry_run, printer, cluster, open_cluster).execute()


class _closing:
    """A Cluster as a context manager that closes its client."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def __enter__(self) -> Cluster:
        return self.cluster

    def __exit__(self, *exc: object) -> None:
        self.cluster.client.close()


__all__ = ["Batch", "run_batch"]
