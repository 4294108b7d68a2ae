from __future__ import annotations

import pytest
from kubevirt_objects import options_for, valid_options

from oc_virt_expose.errors import UsageError
from oc_virt_expose.options import VM, VMI, VMIRS, DryRun, ExposeOptions, OutputFormat, RestartPolicy
from oc_virt_expose.ports import PortSpec


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
    assert options_for(word, "x").resource is kind


def test_type_slash_name_form() -> None:
    options = options_for("vm/example-vm")
    assert (options.resource, options.name) == (VM, "example-vm")


def test_defaults() -> None:
    options = valid_options("vm", "example-vm")
    assert options.service_name == "example-vm"
    assert options.service_type == "ClusterIP"
    assert options.ports == []
    assert options.labels is None and options.selector is None
    assert options.field_manager == "virt-expose"
    assert options.restart is RestartPolicy.AUTO
    assert options.wait and not options.start and not options.force and not options.overwrite
    assert options.timeout == 300.0
    assert options.dry_run is DryRun.NONE
    assert options.output is None
    assert options.verbosity == 0


def test_seed_command_line() -> None:
    options = valid_options(
        "vm", "example-vm", "-n", "example-namespace", "--name", "example-service", "--selector", "special=key",
        "--type", "NodePort", "--port", "80", "--target-port", "9376", "--node-port", "30000")
    assert options.connection.namespace == "example-namespace"
    assert options.service_name == "example-service"
    assert options.selector == {"special": "key"}
    assert options.service_type == "NodePort"
    assert options.ports == [PortSpec(80)]
    assert (options.target_port, options.node_port) == (9376, 30000)


def test_kubectl_flag_forms() -> None:
    options = valid_options(
        "vm", "x", "--port=80", "--type=nodeport", "--overwrite=true", "--force=false", "--wait=false",
        "--dry-run", "-oyaml", "-v=6", "--timeout=1h2m3s", "--restart=Never", "--protocol=udp")
    assert options.ports == [PortSpec(80)]
    assert options.service_type == "NodePort"
    assert options.overwrite and not options.force and not options.wait
    assert options.dry_run is DryRun.CLIENT
    assert options.output is OutputFormat.YAML
    assert options.verbosity == 6
    assert options.timeout == 3723.0
    assert options.restart is RestartPolicy.NEVER
    assert options.protocol == "UDP"
    assert options_for("vm", "x", "--dry-run", "server").dry_run is DryRun.SERVER
    assert options_for("--dry-run", "vm", "x").dry_run is DryRun.CLIENT
    assert not options_for("vm", "x", "--no-wait").wait


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("5m", 300), ("1.5h", 5400), ("300ms", 0.3), ("0", 0)])
def test_timeout_durations(text: str, seconds: float) -> None:
    assert options_for("vm", "x", "--timeout", text).timeout == pytest.approx(seconds)


def test_ip_families_keep_order_and_imply_prefer_dual_stack() -> None:
    options = valid_options("vm", "x", "--ip-families", "ipv6,ipv4")
    assert options.ip_families == ["IPv6", "IPv4"]
    assert options.ip_family_policy == "PreferDualStack"
    assert valid_options("vm", "x", "--ip-family", "IPv4", "--ip-family", "IPv6").ip_families == ["IPv4", "IPv6"]
    assert valid_options("vm", "x", "--ip-family", "IPv4").ip_family_policy is None
    required = valid_options("vm", "x", "--ip-family", "IPv6", "--ip-family-policy", "requiredualstack")
    assert (required.ip_families, required.ip_family_policy) == (["IPv6"], "RequireDualStack")


def test_connection_flags() -> None:
    options = valid_options(
        "vm", "x", "--kubeconfig", "/k", "--context", "c", "--cluster", "cl", "--user", "u", "-n", "ns",
        "-s", "https://h:6443", "--token", "t", "--certificate-authority", "/ca", "--tls-server-name", "h",
        "--request-timeout", "30s", "--as", "me", "--as-group", "g1", "--as-group", "g2", "--as-uid", "42")
    connection = options.connection
    assert (connection.kubeconfig, connection.context, connection.cluster, connection.user) == ("/k", "c", "cl", "u")
    assert (connection.namespace, connection.server, connection.token) == ("ns", "https://h:6443", "t")
    assert (connection.certificate_authority, connection.tls_server_name) == ("/ca", "h")
    assert connection.request_timeout == "30s"
    assert (connection.as_user, connection.as_groups, connection.as_uid) == ("me", ("g1", "g2"), "42")
    assert valid_options("vm", "x", "--insecure-skip-tls-verify").connection.insecure_skip_tls_verify


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
    (["vm", "x", "--as-group", "g"], "--as-group and --as-uid need --as"),
    (["vm", "x", "--insecure-skip-tls-verify", "--certificate-authority", "/ca"], "cannot be combined"),
    (["vm", "x", "--request-timeout", "soon"], "--request-timeout"),
    (["vm", "x", "--field-manager", ""], "--field-manager must be 1 to 128"),
    (["vm", "x", "-v", "-1"], "-v cannot be negative"),
]


@pytest.mark.parametrize(("argv", "message"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_before_the_cluster(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as error:
        valid_options(*argv)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_from_args_completes_the_defaults() -> None:
    options = options_for("vm", "n" * 70, "--ip-families", "IPv4,IPv6")
    assert options.service_name == "n" * 63
    assert options.ip_family_policy == "PreferDualStack"
    options.validate()
    assert options_for("vm", "x", "--ip-families", "IPv6").ip_family_policy is None
    built = ExposeOptions(resource=VM, name="x", service_name="x", cluster_ip="None")
    assert built.headless and built.ports == () and built.connection.namespace is None
    built.validate()
