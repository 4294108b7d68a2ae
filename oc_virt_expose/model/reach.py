"""The way in: what a person types to reach a Service port (`ssh -p 30022 fedora@192.0.2.10`, an RDP client's
`xfreerdp /v:ADDRESS:PORT`, a URL), from outside the cluster and from inside it; the addresses node ports are
reached on; the guest's user from the VM's cloud-init. Pure.

A port is SSH when it is named `ssh` or its guest (target) port or Service port is 22; RDP when named `rdp`
or `ms-wbt-server` (IANA's name for 3389) or on 3389; HTTPS when named `https` or on 443 or 8443; HTTP when
named `http*` or on 80 or 8080. Only TCP ports. From outside, a port is reached through the load balancer's
address when it has one, else through a node port on a node's address, else through an external IP.
A headless Service's name resolves to the VM's pod, so inside the cluster its target port is the one to use.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from oc_virt_expose.model.endpoints import ingress
from oc_virt_expose.model.objects import host_port

USER_PLACEHOLDER = "<user>"
NODE_PLACEHOLDER = "<node address>"
CLOUD_INIT_SOURCES = ("cloudInitNoCloud", "cloudInitConfigDrive")


class Access(str, enum.Enum):
    SSH = "SSH"
    RDP = "RDP"
    HTTP = "HTTP"
    HTTPS = "HTTPS"


_BY_NAME = {"ssh": Access.SSH, "rdp": Access.RDP, "ms-wbt-server": Access.RDP, "https": Access.HTTPS}
_BY_NUMBER = {22: Access.SSH, 3389: Access.RDP, 443: Access.HTTPS, 8443: Access.HTTPS, 80: Access.HTTP,
              8080: Access.HTTP}
_DEFAULT_PORTS = {Access.HTTP: 80, Access.HTTPS: 443}


class Reach(NamedTuple):
    """What the summary knows besides the Service itself."""

    node_addresses: Sequence[str] = ()
    """Addresses node ports are reached on, the VM's nodes first."""
    user: str | None = None
    """The guest's user (cloud-init), for SSH; None: unknown."""
    route: Mapping[str, Any] | None = None
    """The Route to the Service, as last read (`--route`)."""


class WayIn(NamedTuple):
    access: Access
    command: str
    inside: bool
    """Typed from inside the cluster (a pod), through the Service's DNS name."""


def access_of(port: Mapping[str, Any]) -> Access | None:
    """What a Service port carries, from its name, its target port or its port; None for anything else."""
    if port.get("protocol", "TCP") != "TCP":
        return None
    name = str(port.get("name") or "").lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith("http"):
        return Access.HTTP
    target = port.get("targetPort")
    for number in (target if isinstance(target, int) else None, port.get("port")):
        if number in _BY_NUMBER:
            return _BY_NUMBER[number]
    return None


def command(access: Access, host: str, port: int | str, user: str | None = None) -> str:
    """What to type: `ssh -p PORT USER@HOST`, `xfreerdp /v:HOST:PORT`, `http://HOST:PORT/`."""
    if access is Access.SSH:
        return f"ssh -p {port} {user or USER_PLACEHOLDER}@{host}"
    if access is Access.RDP:
        return f"xfreerdp /v:{host_port(host, port)}"
    scheme = access.value.lower()
    where = host_port(host, port) if port != _DEFAULT_PORTS[access] else (f"[{host}]" if ":" in host else host)
    return f"{scheme}://{where}/"


def ways_in(service: Mapping[str, Any], reach: Reach) -> list[WayIn]:
    """For each SSH, RDP or HTTP(S) port of the Service: the way in from outside (when there is one), then from
    inside the cluster."""
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    dns = f"{meta.get('name', '')}.{meta.get('namespace', 'default')}.svc"
    headless = spec.get("clusterIP") == "None"
    found = []
    for port in spec.get("ports") or []:
        access = access_of(port)
        if access is None:
            continue
        outside = outside_address(service, port, reach.node_addresses)
        if outside is not None:
            found.append(WayIn(access, command(access, *outside, reach.user), inside=False))
        target = port.get("targetPort")
        inside_port = target if headless and isinstance(target, int) else port.get("port")
        found.append(WayIn(access, command(access, dns, inside_port, reach.user), inside=True))
    return found


def outside_address(service: Mapping[str, Any], port: Mapping[str, Any],
                    node_addresses: Sequence[str]) -> tuple[str, int | str] | None:
    """(address, port) to reach `port` from outside the cluster: the load balancer's, a node's, an external
    IP's; None when the Service is reached from inside only."""
    spec = service.get("spec") or {}
    balancers = ingress(service) if spec.get("type") == "LoadBalancer" else []
    if balancers:
        return balancers[0], port["port"]
    if spec.get("type") in ("NodePort", "LoadBalancer") and port.get("nodePort"):
        return (node_addresses[0] if node_addresses else NODE_PLACEHOLDER), port["nodePort"]
    external = spec.get("externalIPs") or []
    return (external[0], port["port"]) if external else None


def node_addresses(nodes: Sequence[Mapping[str, Any]] | None, pods: Sequence[Mapping[str, Any]], *,
                   local: bool = False) -> list[str]:
    """Where node ports are reached: each ready node's external IP, else its internal IP, the nodes running
    the VM's pods first; with externalTrafficPolicy Local, only those (the others drop the traffic).
    `nodes` None (not readable): the pods' host IPs."""
    running = [(pod.get("spec") or {}).get("nodeName") for pod in pods]
    if nodes is None:
        return list(dict.fromkeys(ip for pod in pods if (ip := (pod.get("status") or {}).get("hostIP"))))
    by_name = {str((node.get("metadata") or {}).get("name")): node for node in nodes}
    ordered = [by_name[name] for name in dict.fromkeys(running) if name in by_name]
    if not local:
        ordered += [node for name, node in sorted(by_name.items()) if name not in running and _ready(node)]
    return list(dict.fromkeys(address for node in ordered if (address := _node_address(node))))


def _ready(node: Mapping[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _node_address(node: Mapping[str, Any]) -> str | None:
    addresses = (node.get("status") or {}).get("addresses") or []
    for wanted in ("ExternalIP", "InternalIP"):
        for address in addresses:
            if address.get("type") == wanted and address.get("address"):
                return str(address["address"])
    return None


def guest_user(target: Mapping[str, Any]) -> str | None:
    """The user cloud-init creates in the guest of a VM, VMI or VMIRS: `user:` (the default user's name), else
    the first named entry of `users:`, from the `#cloud-config` user data of its cloudInitNoCloud or
    cloudInitConfigDrive volume (`userData` or `userDataBase64`); None when it declares none (or keeps its
    user data in a Secret)."""
    spec = target.get("spec") or {}
    vmi_spec = ((spec.get("template") or {}).get("spec") or {}) if "template" in spec else spec
    for volume in vmi_spec.get("volumes") or []:
        for source in CLOUD_INIT_SOURCES:
            cloud_init = volume.get(source)
            if isinstance(cloud_init, Mapping):
                user = _user_of(_user_data(cloud_init))
                if user:
                    return user
    return None


def _user_data(cloud_init: Mapping[str, Any]) -> str:
    if cloud_init.get("userData"):
        return str(cloud_init["userData"])
    encoded = cloud_init.get("userDataBase64")
    if not encoded:
        return ""
    import base64  # only for a VM with encoded user data
    import binascii

    try:
        return base64.b64decode(str(encoded)).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def _user_of(user_data: str) -> str | None:
    if not user_data.lstrip().startswith("#cloud-config"):
        return None  # a script, or a MIME multipart: no user to read
    import yaml  # ~10 ms; only for a VM whose user data is cloud-config

    try:
        config = yaml.safe_load(user_data)
    except yaml.YAMLError:
        return None
    if not isinstance(config, Mapping):
        return None
    user = config.get("user")
    name = user.get("name") if isinstance(user, Mapping) else user
    if isinstance(name, str) and name:
        return name
    users = config.get("users")
    for entry in users if isinstance(users, list) else []:
        name = entry.get("name") if isinstance(entry, Mapping) else entry
        if isinstance(name, str) and name and name != "default":
            return name
    return None
