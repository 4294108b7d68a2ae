from __future__ import annotations

import pytest

from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.ports import (
    NO_PORT_MESSAGE,
    PortSpec,
    ServicePort,
    parse_port_specs,
    parse_target_port,
    service_ports,
)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["80"], [PortSpec(80)]),
        (["80,443"], [PortSpec(80), PortSpec(443)]),
        (["80", "443"], [PortSpec(80), PortSpec(443)]),
        (["8080:80"], [PortSpec(8080, 80)]),
        (["53/udp"], [PortSpec(53, None, "UDP")]),
        (["443:https/TCP"], [PortSpec(443, "https", "TCP")]),
        (["2222:22, 443"], [PortSpec(2222, 22), PortSpec(443)]),
        (["9/sctp"], [PortSpec(9, None, "SCTP")]),
    ],
)
def test_parse_port_specs(values: list[str], expected: list[PortSpec]) -> None:
    assert parse_port_specs(values) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", '"abc" is not a port number'),
        ("0", '"0" is not a port number'),
        ("65536", '"65536" is not a port number'),
        ("80:", '"" is neither a port number'),
        ("80:Bad_Name", '"Bad_Name" is neither'),
        ("80:123456", "neither a port number"),
        ("80/icmp", '"icmp" is not a protocol'),
        ("80,,443", "empty port"),
        ("80:81:82", "neither a port number"),
    ],
)
def test_parse_port_specs_refuses(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_port_specs([value])


def test_target_port_is_number_or_iana_name() -> None:
    assert parse_target_port("9376") == 9376
    assert parse_target_port("http") == "http"
    for bad in ("0", "a-very-long-port-name", "ab--c", "-ab", "1-2"):
        with pytest.raises(UsageError):
            parse_target_port(bad)


# kubectl's TestGenerateService style: flags in, spec.ports out.
NAMING_CASES = [
    ("one port is unnamed", [PortSpec(80)], {}, [ServicePort(None, 80, "TCP", 80)]),
    ("--port-name names it", [PortSpec(80)], {"port_name": "web"}, [ServicePort("web", 80, "TCP", 80)]),
    (
        "several ports",
        [PortSpec(80), PortSpec(443)],
        {},
        [ServicePort("port-1", 80, "TCP", 80), ServicePort("port-2", 443, "TCP", 443)],
    ),
    (
        "one port on two protocols",
        [PortSpec(53, None, "UDP"), PortSpec(53, None, "TCP")],
        {},
        [ServicePort("port-1-udp", 53, "UDP", 53), ServicePort("port-1-tcp", 53, "TCP", 53)],
    ),
    (
        "named port on two protocols",
        [PortSpec(53, None, "UDP"), PortSpec(53, None, "TCP")],
        {"port_name": "dns"},
        [ServicePort("dns-udp", 53, "UDP", 53), ServicePort("dns-tcp", 53, "TCP", 53)],
    ),
    (
        "mixed: shared number keeps its position",
        [PortSpec(80), PortSpec(53, None, "UDP"), PortSpec(53, None, "TCP")],
        {},
        [
            ServicePort("port-1", 80, "TCP", 80),
            ServicePort("port-2-udp", 53, "UDP", 53),
            ServicePort("port-2-tcp", 53, "TCP", 53),
        ],
    ),
    (
        "--target-port and --protocol apply to ports that do not say otherwise",
        [PortSpec(80), PortSpec(443, 8443, "UDP")],
        {"target_port": 9376, "protocol": "SCTP"},
        [ServicePort("port-1", 80, "SCTP", 9376), ServicePort("port-2", 443, "UDP", 8443)],
    ),
    (
        "--node-port with one port",
        [PortSpec(80)],
        {"node_port": 30000, "target_port": 9376},
        [ServicePort(None, 80, "TCP", 9376, 30000)],
    ),
    (
        "--node-port shared by one port number on two protocols",
        [PortSpec(53, None, "UDP"), PortSpec(53, None, "TCP")],
        {"node_port": 30053},
        [ServicePort("port-1-udp", 53, "UDP", 53, 30053), ServicePort("port-1-tcp", 53, "TCP", 53, 30053)],
    ),
    (
        "named target port",
        [PortSpec(80)],
        {"target_port": "http"},
        [ServicePort(None, 80, "TCP", "http")],
    ),
]


@pytest.mark.parametrize(("case", "specs", "flags", "expected"), NAMING_CASES, ids=[c[0] for c in NAMING_CASES])
def test_service_ports(case: str, specs: list[PortSpec], flags: dict, expected: list[ServicePort]) -> None:
    assert service_ports(specs, **flags) == expected


def test_service_ports_refusals() -> None:
    with pytest.raises(UsageError, match="given twice"):
        service_ports([PortSpec(80), PortSpec(80, 8080)])
    with pytest.raises(UsageError, match="--port-name names a single port"):
        service_ports([PortSpec(80), PortSpec(443)], port_name="web")
    with pytest.raises(UsageError, match="80/TCP and 443/TCP cannot share one node port"):
        service_ports([PortSpec(80), PortSpec(443)], node_port=30000)
    assert service_ports([PortSpec(80), PortSpec(443, None, "UDP")], node_port=30000)[1].node_port == 30000


def test_no_port_is_kubectls_error_unless_headless() -> None:
    assert NO_PORT_MESSAGE == "couldn't find port via --port flag or introspection"
    with pytest.raises(UsageError, match=r"^couldn't find port via --port flag or introspection$"):
        service_ports([])
    assert service_ports([], headless=True) == []


def test_manifest_entry() -> None:
    assert ServicePort(None, 80, "TCP", 9376, 30000).manifest() == {
        "protocol": "TCP", "port": 80, "targetPort": 9376, "nodePort": 30000}
    assert ServicePort("web", 80, "TCP", "http").manifest() == {
        "name": "web", "protocol": "TCP", "port": 80, "targetPort": "http"}
    assert ServicePort("web", 80, "TCP", 80).label == "80/TCP"
