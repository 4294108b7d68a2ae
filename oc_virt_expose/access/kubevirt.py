"""The cluster as one run sees it: reads and writes of the objects virt-expose touches.

Each method is one API request (the not-found explanation costs more, only then):
- reads: the exposed object, the VM's running VMI (skipped when the VM is plainly stopped), its launcher
  pods (`kubevirt.io/created-by=<VMI uid>`), the Service, the namespace's NetworkPolicies;
- label writes are server-side applies, one field manager per exposure (see `model.fields`): concurrent
  writers of other labels merge with no conflict and no retry, a label someone set to another value is
  refused by the server, and the server records which labels each exposure owns;
- restart and start go through KubeVirt's aggregated API (`subresources.kubevirt.io`), which takes its
  dry run in the body, not the query;
- a missing `kubevirt.io/v1` API is told from the 404 of the first request (no discovery call); an unknown
  name costs a list call, on that error path only, to suggest close names (and to tell a missing namespace).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from oc_virt_expose.access.apierrors import is_missing_api
from oc_virt_expose.access.client import Client, resource_path
from oc_virt_expose.access.listing import list_objects
from oc_virt_expose.access.watch import Deadline, wait_for
from oc_virt_expose.errors import (
    ClusterError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RefusedError,
    VirtExposeError,
)
from oc_virt_expose.model.defaults import DEFAULT_FIELD_MANAGER
from oc_virt_expose.model.endpoints import (
    SERVICE_NAME_LABEL,
    EndpointReport,
    EndpointWait,
    evaluate,
    in_family_order,
    ingress,
)
from oc_virt_expose.model.kinds import VM, VMI, ResourceKind
from oc_virt_expose.model.labels import CREATED_BY_LABEL
from oc_virt_expose.model.objects import Object, describe, is_finishing, may_run, name_of, own_labels

SUBRESOURCES_API = "subresources.kubevirt.io/v1"
CONFLICT_RETRIES = 5
NO_KUBEVIRT = "is OpenShift Virtualization / KubeVirt installed?"


class Cluster:
    """Requests of one run in one namespace; `dry_run` sends every write with dryRun=All."""

    def __init__(self, client: Client, namespace: str, *, dry_run: bool = False,
                 field_manager: str = DEFAULT_FIELD_MANAGER) -> None:
        self.client = client
        self.namespace = namespace
        self.dry_run = dry_run
        self.field_manager = field_manager

    # -- reads ---------------------------------------------------------------------------------------

    def read_target(self, kind: ResourceKind, object_name: str) -> Object:
        """The VM, VMI or VMIRS; a 404 says whether the name, the namespace or KubeVirt is missing."""
        try:
            return self.client.get(self._path(kind, object_name))
        except NotFoundError as error:
            raise self._explain_not_found(kind, object_name, error) from None

    def read_running_vmi(self, vm: Mapping[str, Any]) -> Object | None:
        """The VM's VMI unless the VM is plainly stopped (then no request); None when there is none or
        it is finishing (its successor, if any, is made from the template)."""
        if not may_run(vm):
            return None
        try:
            vmi = self.client.get(self._path(VMI, name_of(vm)))
        except NotFoundError:
            return None
        return None if is_finishing(vmi) else vmi

    def list_launcher_pods(self, vmi: Mapping[str, Any]) -> list[Object]:
        """The VMI's pods that are neither finished nor being deleted (migrations have two for a while)."""
        uid = (vmi.get("metadata") or {}).get("uid", "")
        listing = self.client.list(resource_path("v1", "pods", namespace=self.namespace),
                                   label_selector=f"{CREATED_BY_LABEL}={uid}")
        items = [dict(pod, apiVersion="v1", kind="Pod") for pod in listing.get("items") or []]
        return [pod for pod in items if not is_finishing(pod)]

    def list_items(self, api_version: str, plural: str, *, label_selector: str | None = None) -> list[Object]:
        """Every object of a resource in the namespace (see `access.listing`)."""
        return list_objects(self.client, api_version, plural, self.namespace, label_selector)

    def list_targets(self, kind: ResourceKind, label_selector: str | None = None) -> list[Object]:
        """Every VM (VMI, VMIRS) in the namespace with those labels; a missing API says so."""
        try:
            return self.list_items(kind.api_version, kind.plural, label_selector=label_selector)
        except NotFoundError as error:
            if is_missing_api(error):
                raise VirtExposeError(no_kubevirt(kind)) from None
            raise

    def read_service(self, name: str) -> Object | None:
        try:
            return self.client.get(self._service_path(name))
        except NotFoundError:
            return None

    def list_network_policies(self) -> list[Object] | None:
        """The namespace's NetworkPolicies, or None when this user may not read them (warnings only)."""
        try:
            listing = self.client.list(resource_path("networking.k8s.io/v1", "networkpolicies",
                                                     namespace=self.namespace))
        except ForbiddenError:
            return None
        return list(listing.get("items") or [])

    def wait_for_endpoints(self, wanted: Mapping[str, EndpointWait], deadline: Deadline) -> dict[str, EndpointReport]:
        """ONE watch of the EndpointSlices of the Services in `wanted` (name -> whose pods, which families)
        until each Service has a ready endpoint on its VM's pod in every family; the reports then, else
        the last ones seen at the deadline."""
        reports = {name: EndpointReport() for name in wanted}

        def complete(slices: dict[str, Object]) -> dict[str, EndpointReport] | None:
            by_service: dict[str, list[Object]] = {}
            for endpoint_slice in slices.values():
                service_name = own_labels(endpoint_slice).get(SERVICE_NAME_LABEL, "")
                by_service.setdefault(service_name, []).append(endpoint_slice)
            for name, need in wanted.items():
                reports[name] = evaluate(in_family_order(by_service.get(name, []), need.families), need.matcher)
            return reports if all(reports[name].complete(need.families) for name, need in wanted.items()) else None

        names = sorted(wanted)
        selector = (f"{SERVICE_NAME_LABEL}={names[0]}" if len(names) == 1
                    else f"{SERVICE_NAME_LABEL} in ({','.join(names)})")
        path = resource_path("discovery.k8s.io/v1", "endpointslices", namespace=self.namespace)
        wait_for(self.client, path, deadline, complete, label_selector=selector)
        return reports

    def wait_for_load_balancers(self, names: Sequence[str], deadline: Deadline) -> dict[str, Object]:
        """A watch of the Services (one by its name, several: the namespace's) until each has a load-balancer
        ingress address; those that have one by the deadline."""
        def balanced(services: dict[str, Object]) -> dict[str, Object] | None:
            found = {name: services[name] for name in names if name in services and ingress(services[name])}
            return found if len(found) == len(names) else None

        services: dict[str, Object] = {}

        def remember(current: dict[str, Object]) -> dict[str, Object] | None:
            services.update(current)
            return balanced(current)

        selector = f"metadata.name={names[0]}" if len(names) == 1 else None
        wait_for(self.client, self._service_path(), deadline, remember, field_selector=selector)
        return {name: services[name] for name in names if name in services and ingress(services[name])}

    # -- writes --------------------------------------------------------------------------------------

    def apply_labels(self, kind: ResourceKind | None, obj: Mapping[str, Any], labels: Mapping[str, str],
                     manager: str) -> Object:
        """Server-side apply of `labels` as field manager `manager` to the object's own labels, or to a VM's
        template labels (`kind` VM; `kind` None: a pod). The apply states every label that manager wants
        there: a label it owned and `labels` leaves out is removed, unless someone else owns it too. No
        resourceVersion: concurrent appliers of other labels merge; a label someone else set to another
        value is refused by the server (409), and said so."""
        meta = {"name": name_of(obj), "namespace": self.namespace}
        body: Object = {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj.get("kind", "Pod")}
        if kind is VM:
            body.update(metadata=meta, spec={"template": {"metadata": {"labels": dict(labels)}}})
        else:
            body.update(metadata={**meta, "labels": dict(labels)})
        try:
            return self.client.patch(self._object_path(kind, obj), body, patch_type="apply", dry_run=self.dry_run,
                                     field_manager=manager)
        except ConflictError as error:
            raise RefusedError(f"{describe(obj)}: {error}: virt-expose never changes a label someone else "
                               "set") from None

    def create_service(self, service: Mapping[str, Any]) -> Object:
        return self.client.create(self._service_path(), service, dry_run=self.dry_run,
                                  field_manager=self.field_manager)

    def replace_service(self, service: Mapping[str, Any]) -> Object:
        name = str(service["metadata"]["name"])
        return self.client.put(self._service_path(name), service, dry_run=self.dry_run,
                               field_manager=self.field_manager)

    def vm_action(self, name: str, action: str) -> None:
        """`restart` or `start` the VM through virt-api (202 Accepted; the controllers do the rest)."""
        path = resource_path(SUBRESOURCES_API, "virtualmachines", namespace=self.namespace, name=name,
                             subresource=action)
        self.client.put(path, {"dryRun": ["All"]} if self.dry_run else {}, accept="application/json, */*")

    # -- helpers -------------------------------------------------------------------------------------

    def _explain_not_found(self, kind: ResourceKind, name: str, error: NotFoundError) -> VirtExposeError:
        if is_missing_api(error):
            return VirtExposeError(no_kubevirt(kind))
        names = self._names_or_none(kind)
        where = f'in namespace "{self.namespace}"'
        if not names and self._namespace_missing():
            return NotFoundError(f'Error from server (NotFound): namespace "{self.namespace}" not found',
                                 status=404, reason="NotFound")
        close = difflib.get_close_matches(name, names or [], n=3, cutoff=0.6)
        hint = "; did you mean " + " or ".join(f'"{n}"' for n in close) + "?" if close else ""
        if names is not None and not names:
            hint = f"; there is no {kind.kind} {where}"
        return NotFoundError(f"{error} {where}{hint}", status=404, reason="NotFound")

    def _names_or_none(self, kind: ResourceKind) -> list[str] | None:
        try:
            listing = self.client.list(self._path(kind), limit=500)
        except ClusterError:
            return None  # no right to list: no suggestion
        return [name_of(item) for item in listing.get("items") or []]

    def _namespace_missing(self) -> bool:
        try:
            self.client.get(resource_path("v1", "namespaces", name=self.namespace))
        except NotFoundError:
            return True
        except ClusterError:
            return False  # forbidden: cannot tell
        return False

    def _path(self, kind: ResourceKind, name: str | None = None) -> str:
        return resource_path(kind.api_version, kind.plural, namespace=self.namespace, name=name)

    def _object_path(self, kind: ResourceKind | None, obj: Mapping[str, Any]) -> str:
        if kind is None:
            return resource_path("v1", "pods", namespace=self.namespace, name=name_of(obj))
        return self._path(kind, name_of(obj))

    def _service_path(self, name: str | None = None) -> str:
        return resource_path("v1", "services", namespace=self.namespace, name=name)


def no_kubevirt(kind: ResourceKind) -> str:
    return f"the server has no {kind.api_version} API ({kind.plural}.{kind.group} not found): {NO_KUBEVIRT}"
