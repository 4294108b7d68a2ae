"""Verification and the report after the writes: a ready endpoint on the VM's pod (by watching, under one
deadline), a load-balancer address, or, for a stopped VM, that its next pod will carry the selector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oc_virt_expose.access.kubevirt import Cluster
from oc_virt_expose.access.watch import Deadline
from oc_virt_expose.commands.expose.options import ExposeRequest
from oc_virt_expose.commands.expose.plan import Observed, Plan, VMAction, static_selector_problem
from oc_virt_expose.commands.expose.route_step import RouteStep
from oc_virt_expose.commands.expose.way_in import WayIn
from oc_virt_expose.errors import ExitCode, NotServingError
from oc_virt_expose.model.endpoints import EndpointReport, EndpointWait, PodMatcher
from oc_virt_expose.model.kinds import VM, VMIRS
from oc_virt_expose.model.labels import format_labels
from oc_virt_expose.model.objects import Object, uid_of
from oc_virt_expose.model.service import LOAD_BALANCER_PENDING
from oc_virt_expose.model.settings import DryRun
from oc_virt_expose.ui.printer import Printer


class Verification:
    """Verifies what one run made and prints how to reach it."""

    def __init__(self, request: ExposeRequest, dry_run: DryRun, printer: Printer, cluster: Cluster, plan: Plan,
                 observed: Observed, *, summaries: bool = True, route: RouteStep | None = None) -> None:
        self.request = request
        self.summaries = summaries
        self.dry_run = dry_run
        self.printer = printer
        self.cluster = cluster
        self.plan = plan
        self.observed = observed
        self.route = route
        self.way_in = WayIn(cluster.client, printer, observed.target, observed.pods)

    @property
    def what(self) -> str:
        """`VirtualMachine example-vm`, for messages."""
        return f"{self.request.resource.kind} {self.request.name}"

    def verify(self, service: Object) -> ExitCode:
        if self.needs_no_wait(service):
            return ExitCode.OK
        deadline = Deadline(self.request.timeout)
        self.verify_endpoints(service, deadline)
        if is_load_balancer(service):
            service = self.verify_load_balancer(service, deadline)
        self.summary_after_route(service, deadline)
        return ExitCode.OK

    def needs_no_wait(self, service: Object) -> bool:
        """Verify what needs no watch (nothing to verify, a restart not allowed, a stopped VM): True when
        done, False when the endpoints must be waited for. Raises NotServingError when it cannot serve."""
        plan = self.plan
        if self.dry_run is DryRun.SERVER or not self.request.wait:
            self.summary(service)
            if plan.pending is not None and self.dry_run is DryRun.NONE:
                raise NotServingError(plan.pending)
            return True
        if plan.pending is not None:
            self.summary(service)
            raise NotServingError(plan.pending)
        if self.request.resource is VM and not self.observed.running and plan.vm_action is not VMAction.START:
            self.verify_stopped(service)
            return True
        return False

    def summary(self, service: Object) -> None:
        if self.summaries:
            self.printer.summary(service, self.way_in.reach(service, self.route.route if self.route else None))

    def summary_after_route(self, service: Object, deadline: Deadline) -> None:
        """The Route's admission (`--route`), the summary, then NotServingError when no router admitted it."""
        if self.route is not None:
            self.route.verify(deadline)
        self.summary(service)
        if self.route is not None:
            self.route.raise_unless_admitted(self.request.timeout)

    def verify_stopped(self, service: Object) -> ExitCode:
        """A stopped VM: the Service exists and its selector matches what the VM's next pod carries."""
        problem = static_selector_problem(self.plan, self.request, self.observed.target)
        if problem:
            raise NotServingError(f"{problem}: the Service will not select it")
        self.printer.change("service", self.request.service.name,
                            f"verified: its selector {format_labels(self.plan.selector.selector)} matches the "
                            f"VM's template; the VM is stopped and will serve once started "
                            f"(--start, or virtctl start {self.request.name})")
        self.summary_after_route(service, Deadline(self.request.timeout))
        return ExitCode.OK

    def verify_endpoints(self, service: Object, deadline: Deadline) -> None:
        wanted = {self.request.service.name: self.endpoint_wait(service)}
        with self.printer.progress(f"waiting for a ready endpoint of {self.what}"):
            report = self.cluster.wait_for_endpoints(wanted, deadline)[self.request.service.name]
        self.report_endpoints(service, report)

    def endpoint_wait(self, service: Object) -> EndpointWait:
        return EndpointWait(self.pod_matcher(), list((service.get("spec") or {}).get("ipFamilies") or []))

    def report_endpoints(self, service: Object, report: EndpointReport) -> None:
        """Warnings, the `verified` line, or NotServingError, from what the EndpointSlices said."""
        families = self.endpoint_wait(service).families
        if report.other_pods:
            self.printer.warning(self.other_pods_warning(report.other_pods))
        if not report.ready_pods:
            self.summary(service)
            raise NotServingError(self.not_ready_message(report))
        missing = report.missing_families(families)
        if missing:
            self.printer.warning(f"no ready {'/'.join(missing)} endpoint yet; the Service serves on the others")
        count = len(report.ready_pods)
        self.printer.change("service", self.request.service.name,
                            f"verified: {count} ready endpoint{'s' if count > 1 else ''} {', '.join(report.ready)}")

    def other_pods_warning(self, other_pods: set[str]) -> str:
        are = "is" if len(other_pods) == 1 else "are"
        return (f"the selector {format_labels(self.plan.selector.selector)} also matches "
                f"{', '.join(sorted(other_pods))}, which {are} not {self.what}'s: the Service sends them traffic too")

    def pod_matcher(self) -> PodMatcher:
        if self.request.resource is VMIRS:
            return PodMatcher.for_replica_set(self.request.name)
        restarted = self.plan.vm_action is VMAction.RESTART
        replaced = [uid_of(pod) for pod in self.observed.pods] if restarted else []
        return PodMatcher.for_vmi(self.request.name, replaced)

    def not_ready_message(self, report: EndpointReport) -> str:
        seen = (f"pod {', '.join(sorted(report.unready_pods))} is not ready" if report.unready_pods
                else f"no pod of {self.what} has an endpoint yet")
        return (f"timed out after {self.request.timeout:g}s waiting for a ready endpoint of {self.what} in "
                f"service/{self.request.service.name} ({seen}); what was done stays in place: re-running the "
                "same command waits again")

    def verify_load_balancer(self, service: Object, deadline: Deadline) -> Object:
        with self.printer.progress("waiting for a load-balancer address"):
            balanced = self.cluster.wait_for_load_balancers([self.request.service.name], deadline)
        return self.report_load_balancer(service, balanced.get(self.request.service.name))

    def report_load_balancer(self, service: Object, balanced: Object | None) -> Object:
        """The Service with its address, or NotServingError."""
        if balanced is None:
            self.summary(service)
            raise NotServingError(f"service/{self.request.service.name}: {LOAD_BALANCER_PENDING}")
        return balanced


def is_load_balancer(service: Mapping[str, Any]) -> bool:
    return (service.get("spec") or {}).get("type") == "LoadBalancer"

