"""Service ports: the `--port` syntax, the ports a VM declares, and kubectl's port names.

A `PortSpec` is one port as asked for: by `--port PORT[:TARGET][/PROTOCOL]`, or declared on the VM's
pod-network interface (`network.PodInterface.port_specs()`, as virtctl). `service_ports` completes the
specs with `--target-port`, `--protocol` and `--node-port` and names them as `kubectl expose` does:
- one port: unnamed, or `--port-name`, or (declared on the VM) the name it is declared with;
- several ports: `port-1`, `port-2`, ... by the position of the port number;
- the same port number on several protocols: `port-1-tcp`, `port-1-udp` (`<port-name>-tcp` when a single
  port number is named with `--port-name`).
Pure: no I/O, no cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Union

from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.settings import is_whole_number

PROTOCOLS = ("TCP", "UDP", "SCTP")
PORT_SYNTAX = "PORT[:TARGET][/PROTOCOL], e.g. 80, 8080:80, 53/UDP, 443:https/TCP"
NO_PORT_MESSAGE = "couldn't find port via --port flag or introspection"

TargetPort = Union[int, str]
"""A target port: a number, or the name of a container port (IANA service name)."""

# patterns, compiled (and cached) by `re` at first use: a usage error compiles only those it needs
_PORT_SPEC = r"^(?P<port>[^:/]*)(?::(?P<target>[^/]*))?(?:/(?P<protocol>.*))?$"
_DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_IANA_SVC_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class PortSpec(NamedTuple):
    """One port as asked for; `None` fields take the defaults of `service_ports`."""

    port: int
    target: TargetPort | None = None
    protocol: str | None = None
    name: str | None = None
    """The name the VM declares the port with (`--port` names none)."""


class ServicePort(NamedTuple):
    """One entry of a Service's `spec.ports`, complete."""

    name: str | None
    port: int
    protocol: str
    target_port: TargetPort
    node_port: int | None = None

    @property
    def label(self) -> str:
        """`80/TCP`: how messages name the port."""
        return f"{self.port}/{self.protocol}"

    def manifest(self) -> dict[str, Any]:
        """The `spec.ports[]` entry as the API takes it."""
        entry: dict[str, Any] = {}
        if self.name:
            entry["name"] = self.name
        entry["protocol"] = self.protocol
        entry["port"] = self.port
        entry["targetPort"] = self.target_port
        if self.node_port is not None:
            entry["nodePort"] = self.node_port
        return entry


def parse_protocol(value: str) -> str:
    """`tcp` -> `TCP`; refuses anything but TCP, UDP and SCTP."""
    protocol = value.strip().upper()
    if protocol not in PROTOCOLS:
        raise UsageError(f'invalid protocol "{value}" (--protocol): must be one of {", ".join(PROTOCOLS)}')
    return protocol


def parse_port_number(value: str, what: str = "port") -> int:
    """A port number 1-65535; `what` names it in the message (`port`, `--node-port`)."""
    text = value.strip()
    if not is_whole_number(text) or not 1 <= int(text) <= 65535:
        raise UsageError(f'invalid {what} "{value}": must be a number between 1 and 65535')
    return int(text)


def parse_node_port(value: str) -> int:
    """`--node-port`: any port number; the server checks its node-port range."""
    return parse_port_number(value, "--node-port")


def is_port_name(value: str) -> bool:
    """Kubernetes' IANA_SVC_NAME: what a named container port (and so a named target port) may be."""
    return (
        len(value) <= 15
        and bool(re.match(_IANA_SVC_NAME, value))
        and "--" not in value
        and any(c.isalpha() for c in value)
    )


def parse_target_port(value: str) -> TargetPort:
    """A target port: a number 1-65535, or a container port name (IANA service name, 15 characters)."""
    text = value.strip()
    if is_whole_number(text):
        return parse_port_number(text, "--target-port")
    if not is_port_name(text):
        raise UsageError(
            f'invalid --target-port "{value}": must be a number between 1 and 65535 or a port name '
            "(at most 15 lowercase letters, digits and '-', with at least one letter)"
        )
    return text


def validate_port_name(value: str) -> str:
    """A Service port name: a DNS-1123 label (lowercase letters, digits, '-'; at most 63)."""
    if len(value) > 63 or not re.match(_DNS1123_LABEL, value):
        raise UsageError(
            f'invalid --port-name "{value}": must be at most 63 lowercase letters, digits and \'-\', '
            "starting and ending with a letter or digit"
        )
    return value


def parse_port_spec(text: str) -> PortSpec:
    """`PORT[:TARGET][/PROTOCOL]` -> PortSpec."""
    match = re.match(_PORT_SPEC, text.strip())
    port, target, protocol = match.groups() if match else ("", None, None)
    problem = None
    if not _is_port_number(port):
        problem = f'"{port}" is not a port number (1-65535)'
    elif target is not None and not (_is_port_number(target) or is_port_name(target)):
        problem = f'"{target}" is neither a port number (1-65535) nor a port name'
    elif protocol is not None and protocol.upper() not in PROTOCOLS:
        problem = f'"{protocol}" is not a protocol ({", ".join(PROTOCOLS)})'
    if problem:
        raise UsageError(f'invalid port "{text}" (--port): {problem}; expected {PORT_SYNTAX}')
    return PortSpec(
        port=int(port),
        target=(int(target) if is_whole_number(target) else target) if target is not None else None,
        protocol=protocol.upper() if protocol is not None else None,
    )


def _is_port_number(text: str) -> bool:
    return is_whole_number(text) and 1 <= int(text) <= 65535


def parse_port_specs(values: Iterable[str]) -> list[PortSpec]:
    """The values of every `--port` flag, each possibly comma-separated, in order."""
    specs = []
    for value in values:
        for item in value.split(","):
            if not item.strip():
                raise UsageError(f'invalid --port "{value}": empty port; expected {PORT_SYNTAX}')
            specs.append(parse_port_spec(item))
    return specs


def service_ports(
    specs: Sequence[PortSpec],
    *,
    target_port: TargetPort | None = None,
    protocol: str | None = None,
    node_port: int | None = None,
    port_name: str | None = None,
    headless: bool = False,
) -> list[ServicePort]:
    """Complete and name the ports of a Service, as `kubectl expose` does.

    `target_port`, `protocol` and `node_port` apply to every spec that does not say otherwise (a spec's
    own target/protocol wins). No specs: `[]` for a headless Service, else kubectl's error.
    """
    if not specs:
        if headless:
            return []
        raise UsageError(NO_PORT_MESSAGE)
    completed = [
        (
            spec.port,
            spec.protocol or protocol or "TCP",
            spec.target if spec.target is not None else target_port or spec.port,
        )
        for spec in specs
    ]
    _refuse_duplicates(completed)
    declared_name = specs[0].name if len(specs) == 1 else None  # the user's name, kept (virtctl: port-1)
    names = _port_names([(port, proto) for port, proto, _ in completed], port_name or declared_name)
    if node_port is not None:
        _refuse_shared_node_port(completed, node_port)
    return [
        ServicePort(name=name, port=port, protocol=proto, target_port=target, node_port=node_port)
        for (port, proto, target), name in zip(completed, names)
    ]


def _refuse_duplicates(completed: Sequence[tuple[int, str, TargetPort]]) -> None:
    seen: set[tuple[int, str]] = set()
    for port, protocol, _ in completed:
        if (port, protocol) in seen:
            raise UsageError(f"port {port}/{protocol} is given twice (--port)")
        seen.add((port, protocol))


def _refuse_shared_node_port(completed: Sequence[tuple[int, str, TargetPort]], node_port: int) -> None:
    """A node port serves one Service port per protocol (the same port number may share it)."""
    ports_by_protocol: dict[str, list[int]] = {}
    for port, protocol, _ in completed:
        numbers = ports_by_protocol.setdefault(protocol, [])
        if port not in numbers:
            numbers.append(port)
    for protocol, numbers in ports_by_protocol.items():
        if len(numbers) > 1:
            listed = " and ".join(f"{n}/{protocol}" for n in numbers)
            raise UsageError(
                f"--node-port {node_port} applies to every port, but {listed} cannot share one node "
                "port: expose them with separate commands, or leave --node-port out to let the "
                "cluster choose"
            )


def _port_names(ports: Sequence[tuple[int, str]], port_name: str | None) -> list[str | None]:
    numbers: list[int] = []
    protocols: dict[int, list[str]] = {}
    for port, protocol in ports:
        if port not in protocols:
            numbers.append(port)
        protocols.setdefault(port, []).append(protocol)
    if port_name and len(numbers) > 1:
        raise UsageError(
            f"--port-name names a single port, but {len(numbers)} ports are exposed "
            "(they are named port-1, port-2, ...)"
        )
    names: list[str | None] = []
    for port, protocol in ports:
        shares_number = len(protocols[port]) > 1
        if len(numbers) == 1:
            prefix = port_name or "port-1"
            names.append(f"{prefix}-{protocol.lower()}" if shares_number else port_name)
        else:
            index = numbers.index(port) + 1
            names.append(f"port-{index}-{protocol.lower()}" if shares_number else f"port-{index}")
    return names
