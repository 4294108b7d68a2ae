"""The run: read -> plan (every check, before the first write) -> label -> Service -> restart/start ->
verify -> report (issue 6, "What it does").

Writes, in this order: the VM template's labels; the running VMI's; its launcher pods' (so the Service
selects the VM at once, with no restart); the Service; the restart or start of the VM. Each change is
printed as it is made, so an interrupted or failed run has already shown what it did; an error after a
write adds what was done and that re-running the same command finishes the job (every step skips what is
already in place). `--dry-run=client` reads, plans and prints, and sends no write; `--dry-run=server`
sends every write with dryRun=All and verifies nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oc_virt_expose import verify
from oc_virt_expose.client import Client
from oc_virt_expose.errors import ConflictError, ExitCode, ForbiddenError, NotServingError, VirtExposeError
from oc_virt_expose.kubeconfig import load_connection
from oc_virt_expose.kubevirt import Cluster
from oc_virt_expose.options import VM, VMI, VMIRS, DryRun, ExposeOptions
from oc_virt_expose.output import Printer, resource_name
from oc_virt_expose.plan import (
    Observed,
    Plan,
    ServiceAction,
    VMAction,
    format_labels,
    make_plan,
    static_selector_problem,
)

Object = dict[str, Any]
LOAD_BALANCER_PENDING = ("no load-balancer address yet: on-premises clusters need a load-balancer provider "
                         "such as MetalLB (the Service still serves on its cluster IP and node ports)")


def run(options: ExposeOptions, printer: Printer) -> ExitCode:
    """Expose the object as `options` say; returns the exit code (errors are raised, see errors.py)."""
    connection = load_connection(options.connection)
    with Client(connection, verbosity=options.verbosity) as client:
        cluster = Cluster(client, connection.namespace, dry_run=options.dry_run is DryRun.SERVER,
                          field_manager=options.field_manager)
        return Run(options, printer, cluster).execute()


class Run:
    """One run; `done` lists the changes made so far, for the messages of a failure or Ctrl-C."""

    def __init__(self, options: ExposeOptions, printer: Printer, cluster: Cluster) -> None:
        self.options = options
        self.printer = printer
        self.cluster = cluster
        self.done: list[str] = []

    def execute(self) -> ExitCode:
        try:
            observed = self.read()
            plan = make_plan(self.options, observed)
            for warning in plan.warnings:
                self.printer.warning(warning)
            if self.options.dry_run is DryRun.CLIENT:
                return self.preview(plan, observed)
            service = self.apply(plan, observed)
            return self.verify(plan, observed, service)
        except KeyboardInterrupt:
            return self.interrupted()
        except VirtExposeError as error:
            raise self.after_writes(error) from None

    # -- read ----------------------------------------------------------------------------------------

    def read(self) -> Observed:
        kind, name = self.options.resource, self.options.name
        target = self.cluster.read_target(kind, name)
        vmi = self.cluster.read_running_vmi(target) if kind is VM else target if kind is VMI else None
        pods = self.cluster.list_launcher_pods(vmi) if vmi is not None else []
        return Observed(target, vmi if kind is VM else None, pods,
                        self.cluster.read_service(self.options.service_name),
                        self.cluster.list_network_policies())

    # -- apply ---------------------------------------------------------------------------------------

    def apply(self, plan: Plan, observed: Observed) -> Object:
        """Every write of the plan, in order; returns the Service as the server answered."""
        self.label(plan, observed)
        service = self.write_service(plan)
        if plan.vm_action is not VMAction.NONE:
            self.cluster.vm_action(self.options.name, plan.vm_action.value)
            verb = "started" if plan.vm_action is VMAction.START else "restarted"
            self.record(observed.target, verb, verb)
        self.printer.object(_printable(service))
        return service

    def label(self, plan: Plan, observed: Observed) -> None:
        if plan.template_labels:
            self.cluster.add_template_labels(observed.target, plan.template_labels)
            self.record(observed.target, "labeled", f"labeled its template {format_labels(plan.template_labels)}")
        try:
            self.label_live(plan, observed)
        except ForbiddenError as error:
            if self.options.resource is not VM:
                raise
            raise NotServingError(self.live_labels_refused(error)) from None

    def label_live(self, plan: Plan, observed: Observed) -> None:
        vmi = observed.target if self.options.resource is VMI else observed.vmi
        if plan.vmi_labels and vmi is not None:
            self.cluster.add_labels(VMI, vmi, plan.vmi_labels)
            self.record(vmi, "labeled", f"labeled {format_labels(plan.vmi_labels)}")
        for pod in observed.pods:
            labels = plan.pod_labels.get(_name(pod))
            if labels:
                self.cluster.add_labels(None, pod, labels)
                self.record(pod, "labeled", f"labeled {format_labels(labels)}")

    def live_labels_refused(self, error: ForbiddenError) -> str:
        done = f"{'; '.join(self.done)}; " if self.done else ""
        return (f"{done}the running VM could not be labeled live: {error}; nothing further was changed "
                f"(the Service is not created yet): re-run the same command with --restart=always to create "
                f"it and restart the VM with its template's labels, or get permission to patch "
                f"virtualmachineinstances and pods")

    def write_service(self, plan: Plan) -> Object:
        name = self.options.service_name
        if plan.service_action is ServiceAction.UNCHANGED:
            self.printer.change("service", name, ServiceAction.UNCHANGED.value)
            return plan.service
        try:
            if plan.service_action is ServiceAction.CREATE:
                service = self.cluster.create_service(plan.service)
            else:
                service = self.cluster.replace_service(plan.service)
        except ConflictError as error:
            raise VirtExposeError(f"{error} (service/{name} was changed by someone else meanwhile)") from None
        self.record(service, plan.service_action.value, plan.service_action.value)
        return service

    def record(self, obj: Mapping[str, Any], verb: str, what: str) -> None:
        """Print the change line; remember it (unless a dry run) for the messages of a later failure."""
        resource = resource_name(obj) or "service"
        if self.options.dry_run is DryRun.NONE:  # before printing: a Ctrl-C may come as soon as it shows
            self.done.append(f"{resource}/{_name(obj)} {what}")
        self.printer.change(resource, _name(obj), verb)

    # -- dry run -------------------------------------------------------------------------------------

    def preview(self, plan: Plan, observed: Observed) -> ExitCode:
        """`--dry-run=client`: the change lines and the Service, with no write."""
        vmi = observed.target if self.options.resource is VMI else observed.vmi
        changes = [(observed.target, plan.template_labels, "spec.template.metadata.labels"),
                   (vmi, plan.vmi_labels, "metadata.labels")]
        changes += [(pod, plan.pod_labels.get(_name(pod)), "metadata.labels") for pod in observed.pods]
        for obj, labels, where in changes:
            if obj is not None and labels:
                self.printer.change(resource_name(obj) or "pod", _name(obj), "labeled")
                self.printer.info(f"  {where}: +{format_labels(labels)}")
        self.printer.change("service", self.options.service_name, plan.service_action.value)
        if plan.vm_action is not VMAction.NONE:
            verb = "started" if plan.vm_action is VMAction.START else "restarted"
            self.printer.change(resource_name(observed.target), self.options.name, verb)
        self.printer.object(_printable(plan.service), always=True)
        return ExitCode.OK

    # -- verify and report ---------------------------------------------------------------------------

    def verify(self, plan: Plan, observed: Observed, service: Object) -> ExitCode:
        node_addresses = _host_ips(observed.pods)
        if self.options.dry_run is DryRun.SERVER or not self.options.wait:
            self.printer.summary(service, node_addresses)
            return self.finish(plan)
        if plan.pending is not None:
            self.printer.summary(service, node_addresses)
            raise NotServingError(plan.pending)
        if self.options.resource is VM and not observed.running and plan.vm_action is not VMAction.START:
            return self.verify_stopped(plan, observed, service)
        deadline = verify.Deadline(self.options.timeout)
        self.verify_endpoints(plan, observed, service, deadline)
        if (service.get("spec") or {}).get("type") == "LoadBalancer":
            service = self.verify_load_balancer(service, deadline, node_addresses)
        self.printer.summary(service, node_addresses)
        return ExitCode.OK

    def verify_stopped(self, plan: Plan, observed: Observed, service: Object) -> ExitCode:
        """A stopped VM: the Service exists and its selector matches what the VM's next pod carries."""
        problem = static_selector_problem(plan, self.options, observed.target)
        if problem:
            raise NotServingError(f"{problem}: the Service will not select it")
        self.printer.change("service", self.options.service_name,
                            f"verified: its selector {format_labels(plan.selector.selector)} matches the "
                            f"VM's template; the VM is stopped and will serve once started "
                            f"(--start, or virtctl start {self.options.name})")
        self.printer.summary(service)
        return ExitCode.OK

    def verify_endpoints(self, plan: Plan, observed: Observed, service: Object, deadline: verify.Deadline) -> None:
        matcher = self.pod_matcher(plan, observed)
        families = list((service.get("spec") or {}).get("ipFamilies") or [])
        with self.printer.progress(f"waiting for a ready endpoint of {self.options.resource.kind} "
                                   f"{self.options.name}"):
            report = verify.wait_for_endpoints(self.cluster.client, self.cluster.namespace,
                                               self.options.service_name, matcher, families, deadline)
        if report.other_pods:
            self.printer.warning(self.other_pods_warning(plan, report.other_pods))
        if not report.ready_pods:
            self.printer.summary(service, _host_ips(observed.pods))
            raise NotServingError(self.not_ready_message(report))
        missing = report.missing_families(families)
        if missing:
            self.printer.warning(f"no ready {'/'.join(missing)} endpoint yet; the Service serves on the others")
        count = len(report.ready_pods)
        self.printer.change("service", self.options.service_name,
                            f"verified: {count} ready endpoint{'s' if count > 1 else ''} {', '.join(report.ready)}")

    def other_pods_warning(self, plan: Plan, other_pods: set[str]) -> str:
        are = "is" if len(other_pods) == 1 else "are"
        return (f"the selector {format_labels(plan.selector.selector)} also matches {', '.join(sorted(other_pods))}, "
                f"which {are} not {self.options.resource.kind} {self.options.name}'s: the Service sends them "
                "traffic too")

    def pod_matcher(self, plan: Plan, observed: Observed) -> verify.PodMatcher:
        if self.options.resource is VMIRS:
            return verify.PodMatcher.for_replica_set(self.options.name)
        replaced = [_uid(pod) for pod in observed.pods] if plan.vm_action is VMAction.RESTART else []
        return verify.PodMatcher.for_vmi(self.options.name, replaced)

    def not_ready_message(self, report: verify.EndpointReport) -> str:
        seen = (f"pod {', '.join(sorted(report.unready_pods))} is not ready" if report.unready_pods
                else f"no pod of {self.options.resource.kind} {self.options.name} has an endpoint yet")
        return (f"timed out after {self.options.timeout:g}s waiting for a ready endpoint of "
                f"{self.options.resource.kind} {self.options.name} in service/{self.options.service_name} "
                f"({seen}); what was done stays in place: re-running the same command waits again")

    def verify_load_balancer(self, service: Object, deadline: verify.Deadline,
                             node_addresses: list[str]) -> Object:
        with self.printer.progress("waiting for a load-balancer address"):
            balanced = verify.wait_for_load_balancer(self.cluster.client, self.cluster.namespace,
                                                     self.options.service_name, deadline)
        if balanced is None:
            self.printer.summary(service, node_addresses)
            raise NotServingError(f"service/{self.options.service_name}: {LOAD_BALANCER_PENDING}")
        return balanced

    def finish(self, plan: Plan) -> ExitCode:
        if plan.pending is not None and self.options.dry_run is DryRun.NONE:
            raise NotServingError(plan.pending)
        return ExitCode.OK

    # -- failures ------------------------------------------------------------------------------------

    def after_writes(self, error: VirtExposeError) -> VirtExposeError:
        """An error after a write names what was done and that re-running finishes the job."""
        if not self.done or error.exit_code is not ExitCode.ERROR:
            return error
        wrapped = VirtExposeError(f"{error}; done before the failure: {'; '.join(self.done)}; re-running "
                                  "the same command finishes the job")
        wrapped.exit_code = error.exit_code
        return wrapped

    def interrupted(self) -> ExitCode:
        done = ("done so far: " + "; ".join(self.done) + "; re-running the same command finishes the job"
                if self.done else "nothing was changed")
        self.printer.err.write(f"interrupted: {done}\n")
        self.printer.err.flush()
        return ExitCode.INTERRUPTED


def _host_ips(pods: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(ip for pod in pods if (ip := (pod.get("status") or {}).get("hostIP"))))


def _printable(obj: Mapping[str, Any]) -> Object:
    """The object as kubectl prints it: without `metadata.managedFields`."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))


__all__ = ["Run", "run"]
