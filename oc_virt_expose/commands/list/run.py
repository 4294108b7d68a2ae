"""The run of `list`: one LIST per kind (the objects, their VMIs for replica sets, launcher pods,
Services, EndpointSlices, Routes) in the namespace or in all, whatever the number of objects; then the
pure matching of `model.exposure`, printed as a table, a `List` or `service/NAME` lines.

Routes are optional: a cluster that does not serve `route.openshift.io/v1` answers 404 (no Route column
values, no message); a user who may not list them gets a warning and the rest. Unknown NAMEs are an error
after the others are printed, as `kubectl get` does.
"""

from __future__ import annotations

from oc_virt_expose.access.apierrors import is_missing_api
from oc_virt_expose.access.client import Client
from oc_virt_expose.access.kubeconfig import load_connection
from oc_virt_expose.access.kubevirt import no_kubevirt
from oc_virt_expose.access.listing import list_if_served, list_objects
from oc_virt_expose.commands.list.options import ListRequest
from oc_virt_expose.errors import ExitCode, ForbiddenError, NotFoundError, VirtExposeError
from oc_virt_expose.model.endpoints import SERVICE_NAME_LABEL
from oc_virt_expose.model.exposure import Exposure, Inventory, exposure_list, find_exposures, named
from oc_virt_expose.model.kinds import VMI, VMIRS, ResourceKind
from oc_virt_expose.model.labels import LAUNCHER_SELECTOR
from oc_virt_expose.model.objects import Object, name_of
from oc_virt_expose.model.route import ROUTE_API
from oc_virt_expose.model.settings import CommonOptions, OutputFormat
from oc_virt_expose.ui.printer import Printer
from oc_virt_expose.ui.table import exposure_table

"""The label KubeVirt puts on every launcher pod."""


def run(request: ListRequest, common: CommonOptions, printer: Printer) -> ExitCode:
    connection = load_connection(common.connection)
    namespace = None if request.all_namespaces else connection.namespace
    with Client(connection, verbosity=common.verbosity) as client:
        targets, missing = named(_list_targets(client, request.kind, namespace, request.label_selector),
                                 request.names)
        exposures = find_exposures(request.kind, read_inventory(client, request.kind, namespace, targets, printer))
    print_exposures(request, exposures, namespace, printer)
    if missing:
        raise NotFoundError("; ".join(f'Error from server (NotFound): {request.kind.plural}.{request.kind.group} '
                                      f'"{name}" not found' for name in missing), status=404, reason="NotFound")
    return ExitCode.OK


def read_inventory(client: Client, kind: ResourceKind, namespace: str | None, targets: list[Object],
                   printer: Printer) -> Inventory:
    """The other LISTs, one per kind; none when there is no object to report on."""
    if not targets:
        return Inventory(targets, (), (), ())
    vmis = list_objects(client, VMI.api_version, VMI.plural, namespace) if kind is VMIRS else []
    pods = list_objects(client, "v1", "pods", namespace, LAUNCHER_SELECTOR)
    services = list_objects(client, "v1", "services", namespace)
    slices = list_objects(client, "discovery.k8s.io/v1", "endpointslices", namespace, SERVICE_NAME_LABEL)
    try:
        routes = list_if_served(client, ROUTE_API, "routes", namespace)
    except ForbiddenError as error:
        printer.warning(f"Routes are not shown: {error}")
        routes = None
    return Inventory(targets, pods, services, slices, routes, vmis)


def print_exposures(request: ListRequest, exposures: list[Exposure], namespace: str | None,
                    printer: Printer) -> None:
    output = printer.output
    if output in (OutputFormat.YAML, OutputFormat.JSON):
        printer.object(exposure_list(request.kind, exposures))
    elif output is OutputFormat.NAME:
        seen = set()
        for exposure in exposures:
            for reach in exposure.services:
                key = (reach.service["metadata"].get("namespace"), name_of(reach.service))
                if key not in seen:
                    seen.add(key)
                    printer.object(reach.service)
    elif exposures:
        printer.out.write(exposure_table(exposures, wide=output is OutputFormat.WIDE,
                                         namespaces=request.all_namespaces))
    elif not request.names:
        where = f"in {namespace} namespace" if namespace else "in any namespace"
        printer.err.write(f"No {request.kind.plural} found {where}.\n")


def _list_targets(client: Client, kind: ResourceKind, namespace: str | None,
                  label_selector: str | None) -> list[Object]:
    try:
        return list_objects(client, kind.api_version, kind.plural, namespace, label_selector)
    except NotFoundError as error:
        if is_missing_api(error):
            raise VirtExposeError(no_kubevirt(kind)) from None
        raise
