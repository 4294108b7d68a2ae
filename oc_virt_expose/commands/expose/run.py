"""`expose`'s entry: one object (`single.Run`), or several (`batch.Batch`, imported only when asked for: its
thread pool and shared watches are no part of one VM's start-up, ~10 ms of imports)."""

from __future__ import annotations

from oc_virt_expose.access.client import Client
from oc_virt_expose.access.kubeconfig import load_connection
from oc_virt_expose.access.kubevirt import Cluster
from oc_virt_expose.commands.expose.options import BatchRequest, ExposeRequest
from oc_virt_expose.commands.expose.single import Run
from oc_virt_expose.errors import ExitCode
from oc_virt_expose.model.settings import CommonOptions, DryRun
from oc_virt_expose.ui.printer import Printer


def run(request: ExposeRequest | BatchRequest, common: CommonOptions, printer: Printer) -> ExitCode:
    """Expose the object(s) as `request` says; returns the exit code (errors are raised, see errors.py)."""
    connection = load_connection(common.connection)
    if isinstance(request, BatchRequest):
        from oc_virt_expose.commands.expose.batch import run_batch

        return run_batch(request, connection, common.verbosity, common.dry_run, printer)
    with Client(connection, verbosity=common.verbosity) as client:
        cluster = Cluster(client, connection.namespace, dry_run=common.dry_run is DryRun.SERVER,
                          field_manager=request.field_manager)
        return Run(request, common.dry_run, printer, cluster).execute()
