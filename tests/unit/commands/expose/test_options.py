"""`expose`'s options: flags -> a typed, completed `ExposeRequest`; `validate()` before any request."""

from __future__ import annotations

import pytest

from oc_virt_expose.commands.expose.options import ExposeRequest, RestartPolicy
from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.kinds import VM, VMI, VMIRS
from oc_virt_expose.model.ports import PortSpec
from oc_virt_expose.model.service import ServiceRequest
from oc_virt_expose.model.settings import CommonOptions, DryRun, OutputFormat
from tests.unit.builders import common_for, request_for, valid_request, validated


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("vm", VM), ("VMs", VM), ("VirtualMachine", VM), ("virtualmachines", VM), ("virtualmachines.kubevirt.io", VM),
        ("vmi", VMI), ("VMIS", VMI), ("virtualmachineinstance", VMI), ("VirtualMachineInstances", VMI),
        ("vmirs", VMIRS), ("vmirss", VMIRS), ("virtualmachineinstancereplicaset", VMIRS),
        ("virtualmachineinstancereplicasets", VMIRS),
    ],
)
def test_type_aliases_case_insensitive(word: str, kind: object) -> None:
    assert request_for(word, "x").resource is kind


def test_type_slash_name_form() -> None:
    request = request_for("vm/example-vm")
    assert (request.resource, request.name) == (VM, "example-vm")


def test_defaults() -> None:
    request, common = validated("vm", "example-vm")
    assert request.service.name == "example-vm"
    assert request.service.type == "ClusterIP"
    assert request.ports.specs == []
    assert request.service.labels is None and request.selector is None
    assert request.field_manager == "virt-expose"
    assert request.restart is RestartPolicy.AUTO
    assert request.wait and not request.start and not request.force and not request.overwrite
    assert request.timeout == 300.0
    assert common.dry_run is DryRun.NONE
    assert common.output is None
    assert common.verbosity == 0


def test_seed_command_line() -> None:
    request, common = validated(
        "vm", "example-vm", "-n", "example-namespace", "--name", "example-service", "--selector", "special=key",
        "--type", "NodePort", "--port", "80", "--target-port", "9376", "--node-port", "30000")
    assert common.connection.namespace == "example-namespace"
    assert request.service.name == "example-service"
    assert request.selector == {"special": "key"}
    assert request.service.type == "NodePort"
    assert request.ports.specs == [PortSpec(80)]
    assert (request.ports.target_port, request.ports.node_port) == (9376, 30000)


def test_kubectl_flag_forms() -> None:
    argv = ("vm", "x", "--port=80", "--type=nodeport", "--overwrite=true", "--force=false", "--wait=false",
            "--dry-run", "-oyaml", "-v=6", "--timeout=1h2m3s", "--restart=Never", "--protocol=udp")
    request, common = validated(*argv)
    assert request.ports.specs == [PortSpec(80)]
    assert request.service.type == "NodePort"
    assert request.overwrite and not request.force and not request.wait
    assert common.dry_run is DryRun.CLIENT
    assert common.output is OutputFormat.YAML
    assert common.verbosity == 6
    assert request.timeout == 3723.0
    assert request.restart is RestartPolicy.NEVER
    assert request.ports.protocol == "UDP"
    assert common_for("vm", "x", "--dry-run", "server").dry_run is DryRun.SERVER
    assert common_for("--dry-run", "vm", "x").dry_run is DryRun.CLIENT
    assert not request_for("vm", "x", "--no-wait").wait


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("5m", 300), ("1.5h", 5400), ("300ms", 0.3), ("0", 0)])
def test_timeout_durations(text: str, seconds: float) -> None:
    assert request_for("vm", "x", "--timeout", text).timeout == pytest.approx(seconds)


def test_ip_families_keep_order_and_imply_prefer_dual_stack() -> None:
    service = valid_request("vm", "x", "--ip-families", "ipv6,ipv4").service
    assert service.ip_families == ["IPv6", "IPv4"]
    assert service.ip_family_policy == "PreferDualStack"
    assert valid_request("vm", "x", "--ip-family", "IPv4", "--ip-family", "IPv6").service.ip_families == [
        "IPv4", "IPv6"]
    assert valid_request("vm", "x", "--ip-family", "IPv4").service.ip_family_policy is None
    required = valid_request("vm", "x", "--ip-family", "IPv6", "--ip-family-policy", "requiredualstack").service
    assert (required.ip_families, required.ip_family_policy) == (["IPv6"], "RequireDualStack")


USAGE_ERRORS = [
    (["vm"], "NAME is required"),
    (["pod", "x"], 'unsupported resource type "pod"'),
    (["vm", "x", "--port", "http"], 'invalid port "http"'),
    (["vm", "x", "--protocol", "icmp"], 'invalid protocol "icmp"'),
    (["vm", "x", "--type", "ExternalName"], "ExternalName is not supported: an ExternalName Service is a DNS"),
    (["vm", "x", "--type", "Headless"], 'invalid --type "Headless"'),
    (["vm", "x", "--ip-families", "IPv5"], 'invalid --ip-families "IPv5"'),
    (["vm", "x", "--ip-families", "IPv4,IPv4"], "give IPv4, IPv6 or both once"),
    (["vm", "x", "--ip-families", "IPv4,IPv6", "--ip-family-policy", "SingleStack"], "SingleStack allows one"),
    (["vm", "x", "--ip-family-policy", "DualStack"], 'invalid --ip-family-policy "DualStack"'),
    (["vm", "x", "--cluster-ip", "10.0.0.1", "--ip-families", "IPv6"], "is an IPv4 address, but the first"),
    (["vm", "x", "--selector", "a"], 'invalid --selector "a": expected key=value'),
    (["vm", "x", "--selector", "-a=b"], "its name must be"),
    (["vm", "x", "--selector", "kubevirt.io/created-by=1"], "changes at every restart"),
    (["vm", "x", "-l", "a=b c"], 'invalid --labels "a=b c"'),
    (["vm", "x", "-l", "virt-expose.kubevirt.io/vm=y"], "virt-expose sets virt-expose.kubevirt.io/ labels"),
    (["vm", "x", "--name", "My_Service"], 'invalid --name "My_Service"'),
    (["vm", "x", "--name", "s" * 64], "at most 63"),
    (["vm", "9lives"], 'the Service name would be "9lives"'),
    (["vm", "x", "--node-port", "70000", "--type", "NodePort"], 'invalid --node-port "70000"'),
    (["vm", "x", "--node-port", "30000"], "--node-port needs --type NodePort"),
    (["vm", "x", "--load-balancer-ip", "1.2.3.4"], "--load-balancer-ip needs --type LoadBalancer"),
    (["vm", "x", "--type", "LoadBalancer", "--load-balancer-ip", "nope"], 'invalid --load-balancer-ip "nope"'),
    (["vm", "x", "--cluster-ip", "None", "--type", "NodePort"], "headless Service) cannot be --type NodePort"),
    (["vm", "x", "--cluster-ip", "10.0.0.300"], 'invalid --cluster-ip "10.0.0.300"'),
    (["vm", "x", "--external-ip", "example.com"], 'invalid --external-ip "example.com"'),
    (["vm", "x", "--session-affinity", "sticky"], 'invalid --session-affinity "sticky"'),
    (["vm", "x", "--port", "80,443", "--port-name", "web"], "--port-name names a single port"),
    (["vm", "x", "--port", "80", "--port-name", "Web"], 'invalid --port-name "Web"'),
    (["vm", "x", "--port", "80,443", "--type", "NodePort", "--node-port", "30000"], "cannot share one node port"),
    (["vm", "x", "--timeout", "soon"], 'invalid --timeout'),
    (["vm", "x", "--timeout", "-5s"], "--timeout cannot be negative"),
    (["vm", "x", "--restart", "sometimes"], 'invalid --restart "sometimes"'),
    (["vmi", "x", "--restart", "always"], "--restart applies to a VirtualMachine"),
    (["vmirs", "x", "--start"], "--start starts a VirtualMachine"),
    (["vm", "x", "--dry-run=true"], 'invalid --dry-run "true"'),
    (["vm", "x", "-o", "wide"], 'invalid --output "wide"'),
    (["vm", "x", "-n", "Bad_NS"], 'invalid --namespace "Bad_NS"'),
    (["vm", "x", "--insecure-skip-tls-verify", "--certificate-authority", "/ca"], "cannot be combined"),
    (["vm", "x", "--request-timeout", "soon"], "--request-timeout"),
    (["vm", "x", "--field-manager", ""], "--field-manager must be 1 to 126 characters"),  # 128 with ":x"
    (["vm", "x", "-v", "-1"], "-v cannot be negative"),
]


@pytest.mark.parametrize(("argv", "message"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_before_the_cluster(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as error:
        validated(*argv)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_from_args_completes_the_defaults() -> None:
    request = request_for("vm", "n" * 70, "--ip-families", "IPv4,IPv6")
    assert request.service.name == "n" * 63
    assert request.service.ip_family_policy == "PreferDualStack"
    request.validate()
    assert request_for("vm", "x", "--ip-families", "IPv6").service.ip_family_policy is None
    built = ExposeRequest(resource=VM, name="x", service=ServiceRequest(name="x", cluster_ip="None"))
    assert built.service.headless and built.ports.specs == () and CommonOptions().connection.namespace is None
    built.validate()
