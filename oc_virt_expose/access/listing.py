"""Batched reads: one LIST per resource kind, in one namespace or in all, whatever the number of objects.

For commands that look at many VMs at once (`list`, exposing several VMs): their cost is one request per
kind, not one per VM. A list is read in chunks of `CHUNK` objects as kubectl reads it (`limit` and
`continue`), so a kind costs one request up to `CHUNK` objects. Items come back with their `apiVersion`
and `kind` set (the server leaves them out of a list's items), so they print as `service/NAME`.
"""

from __future__ import annotations

from oc_virt_expose.access.apierrors import is_missing_api
from oc_virt_expose.access.client import Client, resource_path
from oc_virt_expose.errors import NotFoundError
from oc_virt_expose.model.objects import Object

CHUNK = 500  # kubectl's --chunk-size default


def list_objects(client: Client, api_version: str, plural: str, namespace: str | None,
                 label_selector: str | None = None) -> list[Object]:
    """Every object of `plural` in `namespace` (None: in all namespaces) that `label_selector` selects."""
    path = resource_path(api_version, plural, namespace=namespace)
    items: list[Object] = []
    token: str | None = None
    while True:
        listing = client.list(path, label_selector=label_selector, limit=CHUNK, params={"continue": token})
        kind = str(listing.get("kind", "")).removesuffix("List")
        items += [{"apiVersion": api_version, "kind": kind, **item} for item in listing.get("items") or []]
        token = (listing.get("metadata") or {}).get("continue") or None
        if token is None:
            return items


def list_if_served(client: Client, api_version: str, plural: str, namespace: str | None,
                   label_selector: str | None = None) -> list[Object] | None:
    """As `list_objects`; None when the server does not serve that API (e.g. OpenShift's Routes on plain
    Kubernetes). Other errors, 403 included, are raised."""
    try:
        return list_objects(client, api_version, plural, namespace, label_selector)
    except NotFoundError as error:
        if is_missing_api(error):
            return None
        raise
