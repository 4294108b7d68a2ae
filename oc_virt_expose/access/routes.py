"""OpenShift Routes of one namespace, as `expose --route` reads, writes and waits for them.

The Route API is told apart from a missing Route by the 404 of the one GET by name (no discovery call): a
404 whose Status names the object is a missing Route; one that names none (or is no Status) is a server
without `route.openshift.io/v1`, refused before any write. Waiting for a router's answer is one watch of
the Route (`metadata.name` field selector) under the run's deadline.
"""

from __future__ import annotations

from oc_virt_expose.access.apierrors import is_missing_api
from oc_virt_expose.access.client import Client, resource_path
from oc_virt_expose.access.watch import Deadline, wait_for
from oc_virt_expose.errors import NotFoundError, RefusedError
from oc_virt_expose.model.defaults import DEFAULT_FIELD_MANAGER
from oc_virt_expose.model.objects import Object
from oc_virt_expose.model.route import ROUTE_API, admission

NO_ROUTE_API = (f"the server has no {ROUTE_API} API: Routes are OpenShift's; leave out --route and the Route "
                "flags on this cluster (the Service is reached as its summary says, or through an Ingress)")


class Routes:
    """Routes in `namespace`; `dry_run` sends every write with dryRun=All."""

    def __init__(self, client: Client, namespace: str, *, dry_run: bool = False,
                 field_manager: str = DEFAULT_FIELD_MANAGER) -> None:
        self.client = client
        self.namespace = namespace
        self.dry_run = dry_run
        self.field_manager = field_manager

    def read(self, name: str) -> Object | None:
        """The Route `name`, or None; RefusedError when the server has no Route API."""
        try:
            return self.client.get(self._path(name))
        except NotFoundError as error:
            if is_missing_api(error):
                raise RefusedError(NO_ROUTE_API) from None
            return None

    def create(self, route: Object) -> Object:
        return self.client.create(self._path(), route, dry_run=self.dry_run, field_manager=self.field_manager)

    def replace(self, route: Object) -> Object:
        """Update in place; the route's resourceVersion makes a concurrent change a conflict."""
        name = str(route["metadata"]["name"])
        return self.client.put(self._path(name), route, dry_run=self.dry_run, field_manager=self.field_manager)

    def wait_for_admission(self, name: str, deadline: Deadline) -> Object | None:
        """A watch of the Route until a router admitted or refused its present host; the Route then, else
        as last seen at the deadline (None if it was never seen)."""
        last: Object | None = None

        def answered(routes: dict[str, Object]) -> Object | None:
            nonlocal last
            last = routes.get(name, last)
            return last if last is not None and admission(last, current=True)[0] is not None else None

        wait_for(self.client, self._path(), deadline, answered, field_selector=f"metadata.name={name}")
        return last

    def _path(self, name: str | None = None) -> str:
        return resource_path(ROUTE_API, "routes", namespace=self.namespace, name=name)


__all__ = ["NO_ROUTE_API", "Routes"]
