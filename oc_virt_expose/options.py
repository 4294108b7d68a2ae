"""The command's options: raw flag values -> typed, completed `ExposeOptions` -> `validate()`.

As kubectl's expose: `ExposeOptions.from_args` parses each flag (syntax errors are `UsageError`) and
completes the defaults, `validate()` checks the flags against each other. All of it is pure: nothing here
reads the cluster or imports `kubernetes`, so a refused command exits 2 before any request. A usage error
costs no more imports than `--help` (issue 6): records are `NamedTuple`s, not dataclasses (which import
`inspect`), and the kubeconfig loader is not imported.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar, overload

from oc_virt_expose import ports as port_specs
from oc_virt_expose import selector as labels_syntax
from oc_virt_expose import service
from oc_virt_expose.connection_flags import ConnectionFlags, parse_duration, parse_request_timeout
from oc_virt_expose.errors import UsageError
from oc_virt_expose.ports import PortSpec, TargetPort

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
SESSION_AFFINITIES = ("None", "ClientIP")
IP_FAMILY_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")
IP_FAMILIES = ("IPv4", "IPv6")
DEFAULT_FIELD_MANAGER = "virt-expose"
EXTERNAL_NAME_REFUSAL = (
    "--type ExternalName is not supported: an ExternalName Service is a DNS alias (CNAME) for a host "
    "name outside the cluster; it has no selector and no endpoints, so it cannot send traffic to a VM"
)


class DryRun(str, enum.Enum):
    NONE = "none"
    CLIENT = "client"  # build and print, send no write
    SERVER = "server"  # send every write with dryRun=All


class RestartPolicy(str, enum.Enum):
    AUTO = "auto"  # label the running VM live (VMI, pods); no restart
    ALWAYS = "always"  # restart the VM when its pod lacks the labels
    NEVER = "never"  # change only the template; serves after the next restart


class OutputFormat(str, enum.Enum):
    YAML = "yaml"
    JSON = "json"
    NAME = "name"


class ResourceKind(NamedTuple):
    """A KubeVirt kind that can be exposed."""

    short: str
    kind: str
    plural: str
    group: str = "kubevirt.io"
    version: str = "v1"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def qualified(self) -> str:
        """`virtualmachine.kubevirt.io`: kubectl's name of the resource in `TYPE/NAME` lines."""
        return f"{self.kind.lower()}.{self.group}"


VM = ResourceKind("vm", "VirtualMachine", "virtualmachines")
VMI = ResourceKind("vmi", "VirtualMachineInstance", "virtualmachineinstances")
VMIRS = ResourceKind("vmirs", "VirtualMachineInstanceReplicaSet", "virtualmachineinstancereplicasets")
RESOURCE_KINDS = (VM, VMI, VMIRS)
TYPE_HELP = "vm (virtualmachine), vmi (virtualmachineinstance) or vmirs (virtualmachineinstancereplicaset)"


class ExposeOptions(NamedTuple):
    """Everything the run needs from the command line, typed and completed (by `from_args`)."""

    resource: ResourceKind
    name: str
    ports: Sequence[PortSpec] = ()
    """From `--port`; empty: the ports the VM declares (or none for a headless Service)."""
    target_port: TargetPort | None = None
    protocol: str | None = None
    node_port: int | None = None
    port_name: str | None = None
    service_name: str = ""
    """`--name`; `from_args` completes it to the object's name cut to 63 characters, as kubectl does."""
    service_type: str = "ClusterIP"
    cluster_ip: str | None = None
    external_ips: Sequence[str] = ()
    load_balancer_ip: str | None = None
    session_affinity: str | None = None
    ip_family_policy: str | None = None
    """`from_args` completes it to PreferDualStack when two families are given without it, as virtctl does."""
    ip_families: Sequence[str] = ()
    labels: dict[str, str] | None = None
    """The Service's labels; None: the exposed object's own labels are copied, as kubectl does."""
    selector: dict[str, str] | None = None
    overwrite: bool = False
    field_manager: str = DEFAULT_FIELD_MANAGER
    restart: RestartPolicy = RestartPolicy.AUTO
    start: bool = False
    wait: bool = True
    timeout: float = 300.0
    """Seconds for verification; 0: check once, do not wait."""
    force: bool = False
    dry_run: DryRun = DryRun.NONE
    output: OutputFormat | None = None
    verbosity: int = 0
    connection: ConnectionFlags = ConnectionFlags()
    """kubectl's connection flags as given, resolved by `kubeconfig.load_connection`."""

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ExposeOptions:
        """Parse the raw values of `cli.build_parser()`, completing defaults; a malformed flag is a `UsageError`."""
        resource, name = parse_type_and_name(args.resource_type, args.resource_name)
        ip_families = [_choice(v, IP_FAMILIES, "--ip-families") for v in _split_commas(args.ip_families)]
        ip_family_policy = _choice(args.ip_family_policy, IP_FAMILY_POLICIES, "--ip-family-policy")
        if ip_family_policy is None and len(ip_families) == 2:
            ip_family_policy = "PreferDualStack"
        return cls(
            resource=resource,
            name=name,
            ports=port_specs.parse_port_specs(args.port or []),
            target_port=_optional(port_specs.parse_target_port, args.target_port),
            protocol=_optional(port_specs.parse_protocol, args.protocol),
            node_port=_optional(port_specs.parse_node_port, args.node_port),
            port_name=args.port_name,
            service_name=args.service_name or service.default_service_name(name),
            service_type=parse_service_type(args.service_type or "ClusterIP"),
            cluster_ip=_optional(parse_cluster_ip, args.cluster_ip),
            external_ips=_split_commas(args.external_ip),
            load_balancer_ip=args.load_balancer_ip,
            session_affinity=_choice(args.session_affinity, SESSION_AFFINITIES, "--session-affinity"),
            ip_family_policy=ip_family_policy,
            ip_families=ip_families,
            labels=labels_syntax.parse_label_pairs(args.labels, "--labels") if args.labels else None,
            selector=labels_syntax.parse_label_pairs(args.selector, "--selector") if args.selector else None,
            overwrite=args.overwrite,
            field_manager=args.field_manager,
            restart=RestartPolicy(_choice(args.restart, _values(RestartPolicy), "--restart")),
            start=args.start,
            wait=args.wait,
            timeout=parse_duration(args.timeout, what="--timeout"),
            force=args.force,
            dry_run=DryRun(_choice(args.dry_run, _values(DryRun), "--dry-run")),
            output=_optional(OutputFormat, _choice(args.output, _values(OutputFormat), "--output")),
            verbosity=args.verbosity,
            connection=_connection_flags(args),
        )

    def validate(self) -> None:
        """Check the flags against each other and Kubernetes' syntax rules; no cluster involved."""
        defaulted = self.service_name == service.default_service_name(self.name)
        service.validate_service_name(self.service_name, given=not defaulted)
        self._validate_type_rules()
        self._validate_families()
        self._validate_labels()
        if self.port_name is not None:
            port_specs.validate_port_name(self.port_name)
        if self.ports:
            port_specs.service_ports(
                self.ports, target_port=self.target_port, protocol=self.protocol,
                node_port=self.node_port, port_name=self.port_name,
            )
        self._validate_flow()
        _validate_connection(self.connection)

    def _validate_type_rules(self) -> None:
        load_balancer = self.service_type == "LoadBalancer"
        if self.node_port is not None and self.service_type == "ClusterIP":
            raise UsageError("--node-port needs --type NodePort or --type LoadBalancer")
        if self.load_balancer_ip is not None:
            if not load_balancer:
                raise UsageError("--load-balancer-ip needs --type LoadBalancer")
            parse_ip(self.load_balancer_ip, "--load-balancer-ip")
        if self.headless and self.service_type != "ClusterIP":
            raise UsageError(
                f"--cluster-ip None (a headless Service) cannot be --type {self.service_type}: "
                "node ports and load balancers forward to a cluster IP"
            )
        for address in self.external_ips:
            parse_ip(address, "--external-ip")

    def _validate_families(self) -> None:
        families = self.ip_families
        if len(set(families)) != len(families) or len(families) > 2:
            raise UsageError(f'invalid --ip-families "{",".join(families)}": give IPv4, IPv6 or both once')
        if len(families) == 2 and self.ip_family_policy == "SingleStack":
            raise UsageError(
                "--ip-family-policy SingleStack allows one IP family, but --ip-families gives two: "
                "use PreferDualStack or RequireDualStack, or give one family"
            )
        if self.cluster_ip not in (None, "None") and families:
            import ipaddress  # ~3 ms: only when an address is given

            version = ipaddress.ip_address(self.cluster_ip).version
            if families[0] != f"IPv{version}":
                raise UsageError(
                    f"--cluster-ip {self.cluster_ip} is an IPv{version} address, but the first of "
                    f"--ip-families is {families[0]}"
                )

    def _validate_labels(self) -> None:
        for flag, pairs in (("--labels", self.labels), ("--selector", self.selector)):
            for key, value in (pairs or {}).items():
                problem = labels_syntax.label_key_problem(key) or labels_syntax.label_value_problem(value)
                if problem:
                    raise UsageError(f'invalid {flag} "{key}={value}": {problem}')
        for key in self.labels or {}:
            if key.startswith(service.LABEL_PREFIX + "/"):
                raise UsageError(f'--labels cannot set "{key}": virt-expose sets {service.LABEL_PREFIX}/ labels')
        if self.selector is not None:
            if not self.selector:
                raise UsageError("--selector is empty: give key=value")
            labels_syntax.refuse_unstable_keys(self.selector)

    def _validate_flow(self) -> None:
        if self.resource is not VM:
            if self.start:
                raise UsageError(f"--start starts a VirtualMachine; a {self.resource.kind} cannot be started")
            if self.restart is not RestartPolicy.AUTO:
                raise UsageError(f"--restart applies to a VirtualMachine, not to a {self.resource.kind}")
        if self.timeout < 0:
            raise UsageError("--timeout cannot be negative")
        if self.verbosity < 0:
            raise UsageError("-v cannot be negative")
        if not self.field_manager or len(self.field_manager) > 128:
            raise UsageError("--field-manager must be 1 to 128 characters")


def _connection_flags(args: argparse.Namespace) -> ConnectionFlags:
    return ConnectionFlags(
        kubeconfig=args.kubeconfig,
        context=args.context,
        cluster=args.cluster,
        user=args.user,
        namespace=args.namespace,
        server=args.server,
        token=args.token,
        certificate_authority=args.certificate_authority,
        insecure_skip_tls_verify=args.insecure_skip_tls_verify,
        tls_server_name=args.tls_server_name,
        request_timeout=args.request_timeout,
        as_user=args.as_user,
        as_groups=tuple(args.as_groups or ()),
        as_uid=args.as_uid,
    )


def parse_type_and_name(resource_type: str, resource_name: str | None) -> tuple[ResourceKind, str]:
    """`vm NAME` or `vm/NAME` (case-insensitive type, any alias) -> (kind, name)."""
    if "/" in resource_type:
        if resource_name is not None:
            raise UsageError(
                "there is no need to specify a resource type as a separate argument when passing "
                "arguments in resource/name form"
            )
        resource_type, _, resource_name = resource_type.partition("/")
    kind = parse_resource_type(resource_type)
    if not resource_name:
        raise UsageError(f"NAME is required: which {kind.kind} to expose")
    return kind, resource_name


def parse_resource_type(text: str) -> ResourceKind:
    """vm/vms/virtualmachine(s), vmi/..., vmirs/..., case-insensitive, optionally `.kubevirt.io`."""
    word = text.lower()
    for suffix in (".v1.kubevirt.io", ".kubevirt.io"):
        if word.endswith(suffix):
            word = word[: -len(suffix)]
    for kind in RESOURCE_KINDS:
        singular = kind.kind.lower()
        if word in (kind.short, kind.short + "s", singular, kind.plural):
            return kind
    raise UsageError(f'unsupported resource type "{text}": expected {TYPE_HELP}')


def parse_service_type(text: str) -> str:
    if text.lower() == "externalname":
        raise UsageError(EXTERNAL_NAME_REFUSAL)
    return _choice(text, SERVICE_TYPES, "--type")


def parse_cluster_ip(text: str) -> str:
    """`None` (any case) for a headless Service, or an IP address."""
    if text.lower() == "none":
        return "None"
    return parse_ip(text, "--cluster-ip")


def parse_ip(text: str, flag: str) -> str:
    import ipaddress  # ~3 ms: only when an address is given

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise UsageError(f'invalid {flag} "{text}": not an IPv4 or IPv6 address') from None


@overload
def _choice(text: str, choices: Sequence[str], flag: str) -> str: ...


@overload
def _choice(text: None, choices: Sequence[str], flag: str) -> None: ...


def _choice(text: str | None, choices: Sequence[str], flag: str) -> str | None:
    """The canonical spelling of `text` among `choices`, compared case-insensitively (None stays)."""
    if text is None:
        return None
    for choice in choices:
        if text.strip().lower() == choice.lower():
            return choice
    raise UsageError(f'invalid {flag} "{text}": must be one of {", ".join(choices)}')


def _values(choices: type[enum.Enum]) -> list[str]:
    return [member.value for member in choices]


def _split_commas(values: Sequence[str] | None) -> list[str]:
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def _validate_connection(connection: ConnectionFlags) -> None:
    namespace = connection.namespace
    if namespace is not None and not service.is_dns1123_label(namespace):
        raise UsageError(
            f'invalid --namespace "{namespace}": a namespace is at most 63 lowercase letters, '
            "digits and '-', starting and ending with a letter or digit"
        )
    if (connection.as_groups or connection.as_uid) and not connection.as_user:
        raise UsageError("--as-group and --as-uid need --as: only a user can be impersonated with them")
    if connection.insecure_skip_tls_verify and connection.certificate_authority:
        raise UsageError("--insecure-skip-tls-verify cannot be combined with --certificate-authority")
    parse_request_timeout(connection.request_timeout)


T = TypeVar("T")


def _optional(parse: Callable[[str], T], value: str | None) -> T | None:
    return None if value is None else parse(value)
