"""What the summary needs besides the Service (see `model.reach`): the addresses node ports are reached on, and
the guest's user for SSH.

Node addresses come from one LIST of nodes, made only when the summary is printed (no `-o`) and the Service
has node ports (NodePort, LoadBalancer): a stopped VM's summary has addresses too. A user who may not list
nodes (403) gets the addresses of the nodes the VM's pods run on, as the pods say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oc_virt_expose.access.client import Client
from oc_virt_expose.access.nodes import list_nodes
from oc_virt_expose.model.objects import Object
from oc_virt_expose.model.reach import Reach, guest_user, node_addresses
from oc_virt_expose.ui.printer import Printer

NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


class WayIn:
    """The summary's `Reach` for one exposed object (`target`, with its running launcher `pods`)."""

    def __init__(self, client: Client, printer: Printer, target: Mapping[str, Any],
                 pods: Sequence[Mapping[str, Any]]) -> None:
        self.client = client
        self.printer = printer
        self.target = target
        self.pods = pods
        self._nodes: list[Object] | None = None
        self._listed = False

    def reach(self, service: Mapping[str, Any], route: Mapping[str, Any] | None = None) -> Reach:
        spec = service.get("spec") or {}
        addresses: list[str] = []
        if self.printer.output is None and spec.get("type") in NODE_PORT_TYPES:
            addresses = node_addresses(self.nodes(), self.pods, local=spec.get("externalTrafficPolicy") == "Local")
        return Reach(addresses, guest_user(self.target), route)

    def nodes(self) -> list[Object] | None:
        """The cluster's nodes, listed once; None when this user may not list them."""
        if not self._listed:
            self._nodes = list_nodes(self.client)
            self._listed = True
        return self._nodes
