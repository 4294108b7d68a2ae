"""One object's run: read -> plan (every check, before the first write) -> Service -> labels ->
restart/start -> verify -> report.

Writes, in this order: the Service (first, so that whatever the API server refuses of it, a node port
taken, a quota, an invalid address, is refused before anything changed); the VM template's labels; the
running VMI's; its launcher pods' (so the Service selects the VM at once, with no restart); the restart or
start of the VM. Each change is
printed as it is made, so an interrupted or failed run has already shown what it did; an error after a
write adds what was done and that re-running the same command finishes the job (every step skips what is
already in place). `--dry-run=client` reads, plans and prints, and sends no write; `--dry-run=server`
sends every write with dryRun=All and verifies nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oc_virt_expose.access.kubevirt import Cluster
from oc_virt_expose.commands.changes import ChangeLog
from oc_virt_expose.commands.expose.options import ExposeRequest
from oc_virt_expose.commands.expose.plan import Observed, Plan, VMAction, make_plan
from oc_virt_expose.commands.expose.route_step import RouteStep
from oc_virt_expose.commands.expose.verification import Verification
from oc_virt_expose.errors import (
    STOPS,
    ConflictError,
    ExitCode,
    ForbiddenError,
    NotServingError,
    VirtExposeError,
    stop_code,
)
from oc_virt_expose.model.kinds import VM, VMI
from oc_virt_expose.model.labels import format_labels
from oc_virt_expose.model.network import unread_policies_warning
from oc_virt_expose.model.objects import Object, name_of, printable, resource_name
from oc_virt_expose.model.service import ServiceAction, service_change
from oc_virt_expose.model.settings import DryRun
from oc_virt_expose.ui.printer import Printer


class Run:
    """One object's run; `changes` are those made so far, for the messages of a failure or Ctrl-C."""

    def __init__(self, request: ExposeRequest, dry_run: DryRun, printer: Printer, cluster: Cluster) -> None:
        self.request = request
        self.dry_run = dry_run
        self.printer = printer
        self.cluster = cluster
        self.changes = ChangeLog()

    def execute(self) -> ExitCode:
        try:
            observed = self.read()
            plan = make_plan(self.request, observed)
            route = RouteStep.prepare(self.request, self.cluster, self.printer, plan.service, observed.target)
            for warning in plan.warnings:
                self.printer.warning(warning)
            if self.dry_run is DryRun.CLIENT:
                code = self.preview(plan, observed)
                route.preview()
                return code
            service = self.apply(plan, observed)
            route.write(self.record)
            return Verification(self.request, self.dry_run, self.printer, self.cluster, plan, observed,
                                route=route).verify(service)
        except STOPS as stop:
            return self.changes.interrupted(self.printer, stop_code(stop))
        except VirtExposeError as error:
            raise self.changes.after_writes(error) from None

    def read(self) -> Observed:
        kind, name = self.request.resource, self.request.name
        target = self.cluster.read_target(kind, name)
        vmi = self.cluster.read_running_vmi(target) if kind is VM else target if kind is VMI else None
        pods = self.cluster.list_launcher_pods(vmi) if vmi is not None else []
        service = self.cluster.read_service(self.request.service.name)
        policies = self.cluster.list_network_policies()
        if policies is None:
            self.printer.warning(unread_policies_warning(self.cluster.namespace))
        return Observed(target, vmi if kind is VM else None, pods, service, policies)

    def apply(self, plan: Plan, observed: Observed) -> Object:
        """Every write of the plan, in order; returns the Service as the server answered. The Service comes
        first: whatever the API server refuses of it (a node port taken, a quota) is refused before anything
        else changed."""
        service = self.write_service(plan)
        self.label(plan, observed)
        if plan.vm_action is not VMAction.NONE:
            self.cluster.vm_action(self.request.name, plan.vm_action.value)
            verb = "started" if plan.vm_action is VMAction.START else "restarted"
            self.record(observed.target, verb, verb)
        self.printer.object(printable(service))
        return service

    def label(self, plan: Plan, observed: Observed) -> None:
        if plan.template_labels:
            self.cluster.apply_labels(VM, observed.target, plan.template_labels, self.request.label_manager)
            self.record(observed.target, "labeled", f"labeled its template {format_labels(plan.template_labels)}")
        try:
            self.label_live(plan, observed)
        except ForbiddenError as error:
            if self.request.resource is not VM:
                raise
            raise NotServingError(self.live_labels_refused(error)) from None

    def label_live(self, plan: Plan, observed: Observed) -> None:
        vmi = observed.target if self.request.resource is VMI else observed.vmi
        if plan.vmi_labels and vmi is not None:
            self.cluster.apply_labels(VMI, vmi, plan.vmi_labels, self.request.label_manager)
            self.record(vmi, "labeled", f"labeled {format_labels(plan.vmi_labels)}")
        for pod in observed.pods:
            labels = plan.pod_labels.get(name_of(pod))
            if labels:
                self.cluster.apply_labels(None, pod, labels, self.request.label_manager)
                self.record(pod, "labeled", f"labeled {format_labels(labels)}")

    def live_labels_refused(self, error: ForbiddenError) -> str:
        done = f"{'; '.join(self.changes.done)}; " if self.changes.done else ""
        return (f"{done}the running VM could not be labeled live: {error}; the Service selects the VM once it "
                f"carries its template's labels: re-run the same command with --restart=always to restart the "
                f"VM with them, or get permission to patch virtualmachineinstances and pods and re-run it")

    def write_service(self, plan: Plan) -> Object:
        action, service = self.send_service(plan.service_action, plan.service)
        if action is ServiceAction.UNCHANGED:
            self.printer.change("service", self.request.service.name, action.value)
        else:
            self.record(service, action.value, action.value)
        return service

    def send_service(self, action: ServiceAction, service: Object) -> tuple[ServiceAction, Object]:
        """Create or update the Service; one made meanwhile by someone else (another run) is compared as
        if it had been read: identical, it is `unchanged`."""
        try:
            if action is ServiceAction.CREATE:
                return action, self.cluster.create_service(service)
            if action is ServiceAction.UPDATE:
                return action, self.cluster.replace_service(service)
            return action, service
        except ConflictError as error:
            existing = self.cluster.read_service(self.request.service.name) if error.reason == "AlreadyExists" \
                else None
            if existing is None or action is not ServiceAction.CREATE:
                raise VirtExposeError(f"{error} (service/{self.request.service.name} was changed by someone "
                                      "else meanwhile)") from None
        return self.send_service(*service_change(existing, service, overwrite=self.request.overwrite))

    def record(self, obj: Mapping[str, Any], verb: str, what: str) -> None:
        """Print the change line; remember it (unless a dry run) for the messages of a later failure."""
        resource = resource_name(obj) or "service"
        if self.dry_run is DryRun.NONE:  # before printing: a Ctrl-C may come as soon as it shows
            self.changes.add(f"{resource}/{name_of(obj)} {what}")
        self.printer.change(resource, name_of(obj), verb)

    def preview(self, plan: Plan, observed: Observed) -> ExitCode:
        """`--dry-run=client`: the change lines and the Service, with no write."""
        vmi = observed.target if self.request.resource is VMI else observed.vmi
        changes: list[tuple[Object | None, Mapping[str, str] | None, str]] = [
            (observed.target, plan.template_labels, "spec.template.metadata.labels"),
            (vmi, plan.vmi_labels, "metadata.labels")]
        changes += [(pod, plan.pod_labels.get(name_of(pod)), "metadata.labels") for pod in observed.pods]
        self.printer.change("service", self.request.service.name, plan.service_action.value)
        for obj, labels, where in changes:
            if obj is not None and labels:
                self.printer.change(resource_name(obj) or "pod", name_of(obj), "labeled")
                self.printer.info(f"  {where}: +{format_labels(labels)}")
        if plan.vm_action is not VMAction.NONE:
            verb = "started" if plan.vm_action is VMAction.START else "restarted"
            self.printer.change(resource_name(observed.target), self.request.name, verb)
        self.printer.object(printable(plan.service), always=True)
        return ExitCode.OK


__all__ = ["Run"]
