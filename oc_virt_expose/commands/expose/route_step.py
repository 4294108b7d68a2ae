"""`expose --route`: the Route of one exposure, read and planned before any write, written after the Service,
verified after its endpoints under the same deadline.

- Before any write: one GET of the Route by name. It tells a server without the Route API (refused, nothing
  changed) from a missing Route, and an identical Route (`unchanged`) from a different one (refused unless
  `--overwrite`).
- Written after the Service: `route.route.openshift.io/NAME created`; with `-o`, printed with its TLS material
  replaced by `<redacted>` (the certificates and key never show, in documents or the `-v` request log).
- Verified by one watch of the Route until a router answers about its host: admitted (the summary shows its
  URL), or refused with the router's reason (e.g. HostAlreadyClaimed). Not admitted, or no router answered
  by the deadline: exit 3 (NotServingError), as for a load balancer with no address: the Service and the
  Route are in place, the message says what stands in the way.

Without `--route` a `RouteStep` does nothing, so the run calls it unconditionally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from oc_virt_expose.access.kubevirt import Cluster
from oc_virt_expose.access.routes import Routes
from oc_virt_expose.access.watch import Deadline
from oc_virt_expose.commands.expose.options import ExposeRequest
from oc_virt_expose.errors import ConflictError, NotServingError, VirtExposeError
from oc_virt_expose.model.objects import Object, printable, resource_name
from oc_virt_expose.model.route import (
    RouteAction,
    admission,
    admitting_router,
    build_route,
    redacted,
    route_change,
    route_url,
)
from oc_virt_expose.ui.printer import Printer

RESOURCE = "route.route.openshift.io"
HOST_CLAIMED = "HostAlreadyClaimed"  # the router's reason when an older Route has the host
Record = Callable[[Mapping[str, Any], str, str], None]
"""The run's `record(object, verb, what)`: prints the change line and remembers it."""


class RouteStep:
    """The Route of one run; `route` is the Route as last sent or seen (for the summary), None without one."""

    def __init__(self, printer: Printer, routes: Routes | None = None, action: RouteAction = RouteAction.UNCHANGED,
                 body: Object | None = None) -> None:
        self.printer = printer
        self.routes = routes
        self.action = action
        self.body = body
        self.route: Object | None = None

    @classmethod
    def prepare(cls, request: ExposeRequest, cluster: Cluster, printer: Printer, service: Mapping[str, Any],
                target: Mapping[str, Any]) -> RouteStep:
        """Read the Route and plan it against `service` (as planned); RefusedError before any write when the
        server has no Route API, or a different Route is there and no `--overwrite`."""
        if request.route is None:
            return cls(printer)
        routes = Routes(cluster.client, cluster.namespace, dry_run=cluster.dry_run,
                        field_manager=cluster.field_manager)
        existing = routes.read(request.service.name)
        action, body = route_change(existing, build_route(request.route, service, target), overwrite=request.overwrite)
        return cls(printer, routes, action, body)

    @property
    def name(self) -> str:
        return str(((self.body or {}).get("metadata") or {}).get("name", ""))

    def preview(self) -> None:
        """`--dry-run=client`: the change line and the Route, with no write."""
        if self.body is None:
            return
        self.printer.change(RESOURCE, self.name, self.action.value)
        self.printer.object(redacted(printable(self.body)), always=True)

    def write(self, record: Record) -> None:
        """Create or update the Route, or say it is unchanged."""
        if self.body is None or self.routes is None:
            return
        if self.action is RouteAction.UNCHANGED:
            self.route = self.body
            self.printer.change(RESOURCE, self.name, self.action.value)
        else:
            try:
                write = self.routes.create if self.action is RouteAction.CREATE else self.routes.replace
                self.route = write(self.body)
            except ConflictError as error:
                raise VirtExposeError(f"{error} ({RESOURCE}/{self.name} was changed by someone else meanwhile)") \
                    from None
            record(self.route, self.action.value, self.action.value)
        self.printer.object(redacted(printable(self.route)))

    def verify(self, deadline: Deadline) -> None:
        """Wait (one watch) until a router answers about the Route's host; the `verified` line when admitted."""
        if self.route is None or self.routes is None:
            return
        with self.printer.progress(f"waiting for a router to admit {RESOURCE}/{self.name}"):
            seen = self.routes.wait_for_admission(self.name, deadline)
        self.route = seen or self.route
        if admission(self.route, current=True)[0]:
            router = admitting_router(self.route)
            self.printer.change(RESOURCE, self.name, f"verified: admitted by router {router}" if router
                                else "verified: admitted")

    def raise_unless_admitted(self, timeout: float) -> None:
        """NotServingError when no router admitted the Route (after `verify`)."""
        if self.route is None:
            return
        admitted, reason = admission(self.route, current=True)
        if admitted:
            return
        url = route_url(self.route) or "its host"
        what = f"{resource_name(self.route) or RESOURCE}/{self.name}"
        if admitted is None:
            raise NotServingError(f"timed out after {timeout:g}s waiting for a router to admit {what} ({url}): is "
                                  "an OpenShift router (ingress controller) running? The Route stays in place: "
                                  "re-running the same command waits again")
        router = admitting_router(self.route)
        remedy = (f"choose another --hostname (with --overwrite), or remove the older Route that claims {url}"
                  if reason.startswith(HOST_CLAIMED) else "fix what the router says, then re-run with --overwrite")
        raise NotServingError(f"{what} is not admitted{f' by router {router}' if router else ''}: {reason}; the "
                              f"Service serves without it: {remedy}")
