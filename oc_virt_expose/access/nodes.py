"""The cluster's nodes, for the addresses node ports are reached on: one LIST, when this user may make it."""

from __future__ import annotations

from oc_virt_expose.access.client import Client, resource_path
from oc_virt_expose.errors import ForbiddenError
from oc_virt_expose.model.objects import Object

NODES_PAGE = 500  # examples need a few nodes: one page, whatever the cluster's size


def list_nodes(client: Client) -> list[Object] | None:
    """Up to NODES_PAGE nodes in one request; None when this user may not list nodes (a namespace user
    seldom may)."""
    try:
        listing = client.list(resource_path("v1", "nodes"), limit=NODES_PAGE)
    except ForbiddenError:
        return None
    return list(listing.get("items") or [])
