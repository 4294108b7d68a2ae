"""`expose`'s options: raw flag values -> a typed, completed `ExposeRequest` -> `validate()`.

As kubectl's expose: `ExposeRequest.from_args` parses each flag (syntax errors are `UsageError`) and
completes the defaults, `validate()` checks the flags against each other. All of it is pure: nothing here
reads the cluster, so a refused command exits 2 before any request. A usage error costs no more imports
than `--help`: records are `NamedTuple`s, not dataclasses (which import `inspect`).
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from oc_virt_expose.commands.common import (
    OBJECT_OUTPUTS,
    choice,
    optional,
    parse_count,
    parse_ip,
    split_commas,
    values,
)
from oc_virt_expose.commands.expose.targets import Targets, parse_targets
from oc_virt_expose.errors import UsageError
from oc_virt_expose.model import ports as port_specs
from oc_virt_expose.model.defaults import DEFAULT_FIELD_MANAGER
from oc_virt_expose.model.fields import label_manager
from oc_virt_expose.model.kinds import VM, ResourceKind
from oc_virt_expose.model.labels import label_key_problem, label_value_problem, parse_label_pairs, refuse_unstable_keys
from oc_virt_expose.model.route import (
    INSECURE_POLICIES,
    ROUTE_FLAGS,
    TLS_FILES,
    TLS_TERMINATIONS,
    RouteRequest,
    pem_problem,
    validate_route_request,
)
from oc_virt_expose.model.service import (
    EXTERNAL_TRAFFIC_POLICIES,
    IP_FAMILIES,
    IP_FAMILY_POLICIES,
    LABEL_PREFIX,
    SERVICE_TYPES,
    SESSION_AFFINITIES,
    ServiceRequest,
    default_service_name,
    validate_service_name,
)
from oc_virt_expose.model.settings import parse_duration

OUTPUTS = OBJECT_OUTPUTS
MAX_FIELD_MANAGER = 128  # the API server's limit
MAX_PARALLEL = 32  # connections to the API server at once
EXTERNAL_NAME_REFUSAL = (
    "--type ExternalName is not supported: an ExternalName Service is a DNS alias (CNAME) for a host "
    "name outside the cluster; it has no selector and no endpoints, so it cannot send traffic to a VM"
)


class RestartPolicy(str, enum.Enum):
    AUTO = "auto"  # label the running VM live (VMI, pods); no restart
    ALWAYS = "always"  # restart the VM when its pod lacks the labels
    NEVER = "never"  # change only the template; serves after the next restart


class PortRequest(NamedTuple):
    """`--port` and the flags that apply to every port that does not say otherwise."""

    specs: Sequence[port_specs.PortSpec] = ()
    """From `--port`; empty: the ports the VM declares (or none for a headless Service)."""
    target_port: port_specs.TargetPort | None = None
    protocol: str | None = None
    node_port: int | None = None
    port_name: str | None = None


class ExposeRequest(NamedTuple):
    """What to expose and how, typed and completed (by `from_args`)."""

    resource: ResourceKind
    name: str
    service: ServiceRequest
    ports: PortRequest = PortRequest()
    selector: Mapping[str, str] | None = None
    overwrite: bool = False
    field_manager: str = DEFAULT_FIELD_MANAGER
    restart: RestartPolicy = RestartPolicy.AUTO
    start: bool = False
    wait: bool = True
    timeout: float = 300.0
    """Seconds for verification; 0: check once, do not wait."""
    force: bool = False
    route: RouteRequest | None = None
    """`--route`: also a Route to the Service."""

    @property
    def label_manager(self) -> str:
        """The field manager of the labels this exposure applies (see `model.fields`)."""
        return label_manager(self.field_manager, self.service.name)

    @classmethod
    def from_args(cls, args: argparse.Namespace, resource: ResourceKind, name: str) -> ExposeRequest:
        """Parse the raw values of `cli.parser.build_parser()` for the object `name` of kind `resource`,
        completing defaults; a malformed flag is a `UsageError`."""
        return cls(
            resource=resource,
            name=name,
            service=service_request(args, name),
            ports=PortRequest(
                specs=port_specs.parse_port_specs(args.port or []),
                target_port=optional(port_specs.parse_target_port, args.target_port),
                protocol=optional(port_specs.parse_protocol, args.protocol),
                node_port=optional(port_specs.parse_node_port, args.node_port),
                port_name=args.port_name,
            ),
            selector=parse_label_pairs(args.selector, "--selector") if args.selector else None,
            overwrite=args.overwrite,
            field_manager=args.field_manager,
            restart=RestartPolicy(choice(args.restart, values(RestartPolicy), "--restart")),
            start=args.start,
            wait=args.wait,
            timeout=parse_duration(args.timeout, what="--timeout"),
            force=args.force,
            route=route_request(args),
        )

    def validate(self) -> None:
        """Check the flags against each other and Kubernetes' syntax rules; no cluster involved."""
        defaulted = self.service.name == default_service_name(self.name)
        validate_service_name(self.service.name, given=not defaulted)
        self._validate_type_rules()
        _validate_families(self.service)
        self._validate_labels()
        ports = self.ports
        if ports.port_name is not None:
            port_specs.validate_port_name(ports.port_name)
        if ports.specs:
            port_specs.service_ports(ports.specs, target_port=ports.target_port, protocol=ports.protocol,
                                     node_port=ports.node_port, port_name=ports.port_name)
        self._validate_flow()
        self._validate_route()

    def _validate_type_rules(self) -> None:
        service = self.service
        if service.external_traffic_policy is not None and service.type == "ClusterIP":
            raise UsageError("--external-traffic-policy needs --type NodePort or --type LoadBalancer: it says "
                             "which nodes take traffic from outside the cluster")
        if self.ports.node_port is not None and service.type == "ClusterIP":
            raise UsageError("--node-port needs --type NodePort or --type LoadBalancer")
        if service.load_balancer_ip is not None:
            if service.type != "LoadBalancer":
                raise UsageError("--load-balancer-ip needs --type LoadBalancer")
            parse_ip(service.load_balancer_ip, "--load-balancer-ip")
        if service.headless and service.type != "ClusterIP":
            raise UsageError(
                f"--cluster-ip None (a headless Service) cannot be --type {service.type}: "
                "node ports and load balancers forward to a cluster IP"
            )
        for address in service.external_ips:
            parse_ip(address, "--external-ip")

    def _validate_labels(self) -> None:
        for flag, pairs in (("--labels", self.service.labels), ("--selector", self.selector)):
            for key, value in (pairs or {}).items():
                problem = label_key_problem(key) or label_value_problem(value)
                if problem:
                    raise UsageError(f'invalid {flag} "{key}={value}": {problem}')
        for key in self.service.labels or {}:
            if key.startswith(LABEL_PREFIX + "/"):
                raise UsageError(f'--labels cannot set "{key}": virt-expose sets {LABEL_PREFIX}/ labels')
        if self.selector is not None:
            if not self.selector:
                raise UsageError("--selector is empty: give key=value")
            refuse_unstable_keys(self.selector)

    def _validate_flow(self) -> None:
        if self.resource is not VM:
            if self.start:
                raise UsageError(f"--start starts a VirtualMachine; a {self.resource.kind} cannot be started")
            if self.restart is not RestartPolicy.AUTO:
                raise UsageError(f"--restart applies to a VirtualMachine, not to a {self.resource.kind}")
        if self.timeout < 0:
            raise UsageError("--timeout cannot be negative")
        if not self.field_manager or len(self.label_manager) > MAX_FIELD_MANAGER:
            raise UsageError(f"--field-manager must be 1 to {MAX_FIELD_MANAGER - 1 - len(self.service.name)} "
                             f"characters: with the Service's name it names the labels' field manager, at most "
                             f"{MAX_FIELD_MANAGER} characters")

    def _validate_route(self) -> None:
        """`--route-port` against explicit `--port`s (ports the VM declares are checked once read)."""
        if self.route is None or not self.ports.specs:
            return
        ports = [port.manifest() for port in port_specs.service_ports(
            self.ports.specs, target_port=self.ports.target_port, protocol=self.ports.protocol,
            port_name=self.ports.port_name)]
        wanted = self.route.port
        if wanted is not None and not any(wanted in (str(port["port"]), port.get("name")) for port in ports):
            raise UsageError(f'--route-port "{wanted}" is none of the ports of --port')
        if wanted is None and sum(port["protocol"] == "TCP" for port in ports) > 1:
            raise UsageError("--route needs --route-port NUMBER|NAME with several TCP ports: which one the Route "
                             "sends to")


def service_request(args: argparse.Namespace, object_name: str) -> ServiceRequest:
    """The Service flags; `--name` defaults to the object's name cut to 63 characters, as kubectl's, and
    two families without `--ip-family-policy` mean PreferDualStack, as virtctl's."""
    ip_families = [choice(v, IP_FAMILIES, "--ip-families") for v in split_commas(args.ip_families)]
    ip_family_policy = choice(args.ip_family_policy, IP_FAMILY_POLICIES, "--ip-family-policy")
    if ip_family_policy is None and len(ip_families) == 2:
        ip_family_policy = "PreferDualStack"
    return ServiceRequest(
        name=args.service_name or default_service_name(object_name),
        type=parse_service_type(args.service_type or "ClusterIP"),
        cluster_ip=optional(parse_cluster_ip, args.cluster_ip),
        external_ips=split_commas(args.external_ip),
        load_balancer_ip=args.load_balancer_ip,
        session_affinity=choice(args.session_affinity, SESSION_AFFINITIES, "--session-affinity"),
        ip_family_policy=ip_family_policy,
        ip_families=ip_families,
        labels=parse_label_pairs(args.labels, "--labels") if args.labels else None,
        external_traffic_policy=choice(args.external_traffic_policy, EXTERNAL_TRAFFIC_POLICIES,
                                       "--external-traffic-policy"),
    )


def route_request(args: argparse.Namespace) -> RouteRequest | None:
    """`--route` and its flags, checked as `oc create route` checks them, then the PEM files read and checked
    (their contents are never shown); None without `--route`."""
    paths = RouteRequest(
        hostname=args.hostname, path=args.path, port=args.route_port,
        tls=choice(args.tls, TLS_TERMINATIONS, "--tls"),
        insecure_policy=choice(args.insecure_policy, INSECURE_POLICIES, "--insecure-policy"),
        certificate=args.cert, key=args.key, ca_certificate=args.ca_cert, destination_ca_certificate=args.dest_ca_cert)
    if not args.route:
        given = [ROUTE_FLAGS[field] for field, value in zip(paths._fields, paths) if value is not None]
        if given:
            raise UsageError(f"{given[0]} needs --route: it says how the Route is made")
        return None
    validate_route_request(paths)
    return paths._replace(**{tls_file.field: read_pem(path, tls_file.flag) for tls_file in TLS_FILES
                             if (path := getattr(paths, tls_file.field)) is not None})


def read_pem(path: str, flag: str) -> str:
    """The PEM text of the file `flag` names; UsageError when it cannot be read or is not what `flag` takes."""
    try:
        with open(path, "rb") as stream:
            text = stream.read().decode("ascii", "replace")  # PEM is ASCII; anything else fails the check
    except OSError as error:
        raise UsageError(f'cannot read {flag} "{path}": {error.strerror or error}') from None
    except ValueError:  # a NUL or an unencodable character in the name
        raise UsageError(f'cannot read {flag} "{path}": not a file name') from None
    problem = pem_problem(text, flag)
    if problem:
        raise UsageError(f'invalid {flag} "{path}": {problem}')
    return text


def _validate_families(service: ServiceRequest) -> None:
    families = service.ip_families
    if len(set(families)) != len(families) or len(families) > 2:
        raise UsageError(f'invalid --ip-families "{",".join(families)}": give IPv4, IPv6 or both once')
    if len(families) == 2 and service.ip_family_policy == "SingleStack":
        raise UsageError(
            "--ip-family-policy SingleStack allows one IP family, but --ip-families gives two: "
            "use PreferDualStack or RequireDualStack, or give one family"
        )
    if service.cluster_ip not in (None, "None") and families:
        import ipaddress  # ~3 ms: only when an address is given

        version = ipaddress.ip_address(service.cluster_ip).version
        if families[0] != f"IPv{version}":
            raise UsageError(
                f"--cluster-ip {service.cluster_ip} is an IPv{version} address, but the first of "
                f"--ip-families is {families[0]}"
            )


def parse_service_type(text: str) -> str:
    if text.lower() == "externalname":
        raise UsageError(EXTERNAL_NAME_REFUSAL)
    return choice(text, SERVICE_TYPES, "--type")


def parse_cluster_ip(text: str) -> str:
    """`None` (any case) for a headless Service, or an IP address."""
    if text.lower() == "none":
        return "None"
    return parse_ip(text, "--cluster-ip")


class BatchRequest(NamedTuple):
    """Several objects at once (`expose vm a b c`, `--vm-selector`, `--all`): each gets its own Service,
    named after it (plus `--name-suffix`), made from `template` (an `ExposeRequest` for a placeholder
    name)."""

    targets: Targets
    template: ExposeRequest
    name_suffix: str = ""
    parallel: int = 4

    @classmethod
    def from_args(cls, args: argparse.Namespace, targets: Targets) -> BatchRequest:
        for flag, given in (("--name", args.service_name), ("--selector", args.selector),
                            ("--node-port", args.node_port), ("--cluster-ip", args.cluster_ip),
                            ("--load-balancer-ip", args.load_balancer_ip)):
            if given:
                raise UsageError(f"{flag} applies to one object; with several, each gets its own Service "
                                 "(--name-suffix names them)")
        if args.route:
            raise UsageError("--route with several objects is not supported yet: expose each with --route")
        parallel = parse_count(args.parallel, "--parallel", MAX_PARALLEL)
        if args.name_suffix:
            validate_name_suffix(args.name_suffix)
        batch = cls(targets, ExposeRequest.from_args(args, targets.kind, "placeholder"),
                    args.name_suffix or "", parallel)
        batch.request_for("placeholder").validate()
        return batch

    def request_for(self, name: str) -> ExposeRequest:
        """The request of one object: the template's, with its own Service name."""
        service_name = f"{name}{self.name_suffix}"
        if len(service_name) > 63:
            service_name = default_service_name(name)[: 63 - len(self.name_suffix)] + self.name_suffix
        return self.template._replace(name=name, service=self.template.service._replace(name=service_name))


def validate_name_suffix(suffix: str) -> None:
    """A suffix that ends a Service name after any object's name (cut to fit, as `request_for` does)."""
    try:
        validate_service_name("a" + suffix, given=True)
    except UsageError:
        raise UsageError(f'invalid --name-suffix "{suffix}": after the object\'s name it must end a Service name, '
                         "so at most 62 lowercase letters, digits and '-', ending with a letter or digit") from None


def request_from_args(args: argparse.Namespace) -> ExposeRequest | BatchRequest:
    """The validated request of `expose` (see `cli.main`): one object, or several (`batch_options`)."""
    targets = parse_targets(args)
    if targets.single is None:
        return BatchRequest.from_args(args, targets)
    request = ExposeRequest.from_args(args, targets.kind, targets.single)
    request.validate()
    return request
