"""`delete`'s requests: the namespace's Services and Routes (one LIST each, `listing.py`), and the DELETE of
one object.

- Routes are OpenShift's (`route.openshift.io/v1`): a cluster without that API has none to delete.
- A DELETE goes as kubectl's does (`propagationPolicy=Background`) with the uid that was read as a
  precondition, so an object deleted and re-created under the same name meanwhile is left alone (the
  server answers 409). An object already gone (404) was deleted by someone else: `delete` says so.
- Labels are given back by a server-side apply as the exposure's manager: `Cluster.apply_labels` with the
  labels it keeps, or `release` with none. `release` sends the object's name alone, not an empty labels
  map: applied, `labels: {}` would make the manager own the (empty) map itself, and KubeVirt's webhook
  refuses a VM whose template labels that leaves empty ("must be of type object").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oc_virt_expose.access.client import Client, resource_path
from oc_virt_expose.access.listing import list_if_served, list_objects
from oc_virt_expose.errors import NotFoundError
from oc_virt_expose.model.objects import Object, name_of, uid_of
from oc_virt_expose.model.route import ROUTE_API

BACKGROUND = "Background"  # kubectl delete's default cascade


class Removal:
    """The reads and writes of one `delete` run in one namespace; `dry_run` sends every write with dryRun=All."""

    def __init__(self, client: Client, namespace: str, *, dry_run: bool = False) -> None:
        self.client = client
        self.namespace = namespace
        self.dry_run = dry_run

    def list_services(self) -> list[Object]:
        return list_objects(self.client, "v1", "services", self.namespace)

    def list_routes(self) -> list[Object] | None:
        """The namespace's Routes; None when the cluster has no Route API."""
        return list_if_served(self.client, ROUTE_API, "routes", self.namespace)

    def delete(self, obj: Mapping[str, Any]) -> bool:
        """DELETE the object as read (a Service or a Route); False when it was gone already."""
        try:
            self.client.delete(self._path(obj), dry_run=self.dry_run, propagation_policy=BACKGROUND,
                               uid=uid_of(obj) or None)
        except NotFoundError:
            return False
        return True

    def release(self, obj: Mapping[str, Any], manager: str) -> Object:
        """Server-side apply of the object's name alone as `manager`: it owns nothing afterwards, and the
        server removes the labels only it owned."""
        body = {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj.get("kind", "Pod"),
                "metadata": {"name": name_of(obj), "namespace": self.namespace}}
        return self.client.patch(self._path(obj), body, patch_type="apply", dry_run=self.dry_run,
                                 field_manager=manager)

    def _path(self, obj: Mapping[str, Any]) -> str:
        """The object's API path, from its apiVersion and kind (`services`, `routes`, `virtualmachines`, ...)."""
        plural = f"{str(obj.get('kind', 'Pod')).lower()}s"
        return resource_path(str(obj.get("apiVersion", "v1")), plural, namespace=self.namespace, name=name_of(obj))
