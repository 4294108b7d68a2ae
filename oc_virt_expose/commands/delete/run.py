"""The run: read -> choose (plan.py) -> delete Routes, then Services -> give labels back -> report.

Reads, batched: the object; the namespace's Services (one LIST); its Routes (one LIST, only when there is
a Service to delete; a cluster without the Route API has none); the running VMI and its launcher pods
only when labels may have to be given back (`--keep-label` not given, a VM that may run, and labels on
the template to give back, or a Service virt-expose made to delete that selects on a label KubeVirt does
not put on every launcher pod and no remaining Service selects on: `plan.labels_may_go`). Labels that
only the VMI or pods carry, for an exposure whose Service is gone already, are given back when the
Services of the VM are deleted, not by a re-run that finds none. A re-run that finds nothing costs two
requests.

Writes, in this order: each Route to a deleted Service (so none is left pointing at nothing), each
Service (with its uid as a precondition), then one server-side apply per exposure per labelled object
(pods, VMI, template: `plan.unlabelings`). Each change is printed as it is made; an error after a write
says what was done and that re-running the same command finishes the job (it finds the remaining
Services, and the labels of the exposures whose Service is gone). `--dry-run=client` reads and prints,
and sends no write; `--dry-run=server` sends every write with dryRun=All.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oc_virt_expose.access.client import Client
from oc_virt_expose.access.kubeconfig import load_connection
from oc_virt_expose.access.kubevirt import Cluster
from oc_virt_expose.access.removal import Removal
from oc_virt_expose.commands.changes import ChangeLog
from oc_virt_expose.commands.delete.options import DeleteRequest
from oc_virt_expose.commands.delete.plan import (
    Choice,
    Unlabeling,
    choose_services,
    labels_may_go,
    left_note,
    no_service_note,
    routes_to,
    unlabelings,
)
from oc_virt_expose.errors import STOPS, ConflictError, ExitCode, VirtExposeError, stop_code
from oc_virt_expose.model.kinds import VM, VMI
from oc_virt_expose.model.labels import format_labels
from oc_virt_expose.model.objects import Object, name_of, resource_name
from oc_virt_expose.model.settings import CommonOptions, DryRun
from oc_virt_expose.ui.printer import DRY_RUN_SUFFIX, Printer


def run(request: DeleteRequest, common: CommonOptions, printer: Printer) -> ExitCode:
    """Delete what `request` names; returns the exit code (errors are raised, see errors.py)."""
    connection = load_connection(common.connection)
    server_dry_run = common.dry_run is DryRun.SERVER
    with Client(connection, verbosity=common.verbosity) as client:
        cluster = Cluster(client, connection.namespace, dry_run=server_dry_run)
        removal = Removal(client, connection.namespace, dry_run=server_dry_run)
        return Deletion(request, common.dry_run, printer, cluster, removal).execute()


class Deletion:
    """One run; `changes` are those made so far, for the messages of a failure or Ctrl-C."""

    def __init__(self, request: DeleteRequest, dry_run: DryRun, printer: Printer, cluster: Cluster,
                 removal: Removal) -> None:
        self.request = request
        self.dry_run = dry_run
        self.printer = printer
        self.cluster = cluster
        self.removal = removal
        self.changes = ChangeLog()

    def execute(self) -> ExitCode:
        try:
            target, choice, remaining = self.choose()
            routes = routes_to(self.removal.list_routes() or [], choice.delete) if choice.delete else []
            changes = [] if self.request.keep_label else self.label_changes(target, choice, remaining)
            for service in choice.left:
                self.printer.warning(left_note(service, self.request))
            if not (choice.delete or changes):
                self.printer.info(no_service_note(self.request))
                return ExitCode.OK
            for obj in [*routes, *choice.delete]:
                self.delete(obj)
            for change in changes:
                self.unlabel(change)
            return ExitCode.OK
        except STOPS as stop:
            return self.changes.interrupted(self.printer, stop_code(stop))
        except VirtExposeError as error:
            raise self.after_writes(error) from None

    def choose(self) -> tuple[Object, Choice, list[Object]]:
        """The object, the Services to delete and to leave, and the Services that remain afterwards."""
        target = self.cluster.read_target(self.request.resource, self.request.name)
        services = self.removal.list_services()
        choice = choose_services(self.request, target, services)
        remaining = [service for service in services if service not in choice.delete]
        return target, choice, remaining

    def label_changes(self, target: Object, choice: Choice, remaining: Sequence[Object]) -> list[Unlabeling]:
        """The labels to give back; the running VMI and its pods are read only when that may be needed."""
        kind = self.request.resource
        made = [*choice.delete, *remaining]
        changes = unlabelings(kind, target, remaining, made)
        if kind not in (VM, VMI) or not (changes or labels_may_go(self.request, choice.delete, remaining)):
            return changes
        vmi = self.cluster.read_running_vmi(target) if kind is VM else target
        pods = self.cluster.list_launcher_pods(vmi) if vmi is not None else []
        return unlabelings(kind, target, remaining, made, vmi, pods)

    def delete(self, obj: Mapping[str, Any]) -> None:
        resource, name = resource_name(obj), name_of(obj)
        gone = self.dry_run is not DryRun.CLIENT and not self.removal.delete(obj)
        if self.dry_run is DryRun.NONE:
            self.changes.add(f'{resource} "{name}" deleted')
        verb = "was already deleted" if gone else "deleted"
        self.printer.info(f'{resource} "{name}" {verb}{DRY_RUN_SUFFIX[self.dry_run]}')
        self.printer.object(obj)

    def unlabel(self, change: Unlabeling) -> None:
        if self.dry_run is not DryRun.CLIENT:
            for manager, labels in change.applies.items():
                if labels:
                    self.cluster.apply_labels(change.kind, change.obj, labels, manager)
                else:
                    self.removal.release(change.obj, manager)
        resource = resource_name(change.obj) or "pod"
        if change.removed and self.dry_run is DryRun.NONE:
            self.changes.add(f"{resource}/{name_of(change.obj)} unlabeled {format_labels(change.removed)}")
        self.printer.change(resource, name_of(change.obj), "unlabeled" if change.removed else "unchanged")
        if change.removed:
            self.printer.info(f"  {change.where}: -{format_labels(change.removed)}")
        for label, why in change.kept.items():
            self.printer.info(f"  {change.where}: kept {label} ({why})")

    def after_writes(self, error: VirtExposeError) -> VirtExposeError:
        """An error after a write names what was done and that re-running finishes the job."""
        if isinstance(error, ConflictError):
            error = VirtExposeError(f"{error} (changed or re-created by someone else meanwhile: left as it is)")
        return self.changes.after_writes(error)


__all__ = ["Deletion", "run"]
