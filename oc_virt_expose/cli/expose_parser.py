"""`expose`'s command line: TYPE, NAME(s), the Service's flags, the flow, Routes and many VMs at once."""

from __future__ import annotations

import argparse

from oc_virt_expose.cli.flags import (
    HelpFormatter,
    Parser,
    add_boolean,
    add_connection_flags,
    add_dry_run_flag,
    add_output_flags,
    add_wait_flags,
)
from oc_virt_expose.model.defaults import DEFAULT_FIELD_MANAGER

VERB = "expose"
DEFAULT_PARALLEL = 4

DESCRIPTION = """\
Expose a KubeVirt / OpenShift Virtualization virtual machine through a Service, in one command.

TYPE is vm (virtualmachine), vmi (virtualmachineinstance) or vmirs (virtualmachineinstancereplicaset),
case-insensitive, singular or plural; TYPE/NAME works too. It checks that traffic can reach the guest
(pod network, forwarded ports), chooses a selector (--selector; else the launcher pod's
vmi.kubevirt.io/id; else the template label kubevirt.io/domain), adds missing labels without
changing yours (live on a running VM: its VMI and pod, no restart), creates the Service and verifies
that it has a ready endpoint on the VM. Without --port, the ports the VM declares on its pod-network
interface are used."""

EXAMPLES = """\
examples:
  # Expose the VM example-vm on port 80 inside the cluster
  {prog} vm example-vm --port 80

  # The OpenShift Virtualization procedure (label special=key, NodePort 30000 to guest port 9376)
  {prog} vm example-vm -n example-namespace --name example-service --selector special=key \\
      --type NodePort --port 80 --target-port 9376 --node-port 30000

  # SSH on port 2222 and HTTPS, dual-stack
  {prog} vm example-vm --port 2222:22,443 --ip-families IPv4,IPv6

  # DNS over UDP and TCP from a VM instance
  {prog} vmi dns-vm --port 53/UDP,53/TCP

  # Show the Service and the label change without making them
  {prog} vm example-vm --port 80 --dry-run=client -o yaml

exit status:
  0 done and verified, 1 error, 2 usage error, 3 done but not serving yet, 130 interrupted"""


def add_expose_parser(verbs: argparse._SubParsersAction[Parser], prog: str) -> argparse.ArgumentParser:
    parser = verbs.add_parser(
        VERB,
        prog=prog,
        usage=f"{prog} [expose] TYPE NAME [NAME...] [--port PORT[:TARGET][/PROTOCOL]] [flags]",
        description=DESCRIPTION,
        epilog=EXAMPLES.format(prog=prog),
        formatter_class=HelpFormatter,
        allow_abbrev=False,
        help="expose a VM through a Service (the default command)",
    )
    add_expose_arguments(parser)
    return parser


def add_expose_arguments(parser: argparse.ArgumentParser, *, with_type: bool = True) -> None:
    """`expose`'s positionals and flags (`with_type=False`: NAMEs only, for completing `vm NAME`)."""
    if with_type:
        parser.add_argument("resource_type", metavar="TYPE", help="vm, vmi or vmirs (or TYPE/NAME)")
    parser.add_argument("resource_names", metavar="NAME", nargs="*" if with_type else None,  # one: zsh completes it
                        help="the objects to expose, each with a Service named after it")
    _add_port_flags(parser.add_argument_group("ports"))
    _add_service_flags(parser.add_argument_group("service"))
    _add_flow_flags(parser.add_argument_group("flow"))
    _add_many_flags(parser.add_argument_group("many at once"))
    _add_route_flags(parser.add_argument_group("route (OpenShift)"))
    add_wait_flags(parser.add_argument_group("verification"))
    add_output_flags(parser.add_argument_group("output"), "yaml|json|name",
                     "print the Service (and changed objects) in this format")
    add_dry_run_flag(parser.add_argument_group("output"))
    add_connection_flags(parser.add_argument_group("connection (as kubectl)"))


def _add_port_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--port", action="append", metavar="PORT[:TARGET][/PROTOCOL]",
                       help="port(s) of the Service, repeatable or comma-separated (default: the "
                            "ports the VM declares)")
    group.add_argument("--target-port", metavar="NUMBER|NAME",
                       help="port of the VM to send to, for ports without :TARGET (default: the port)")
    group.add_argument("--protocol", metavar="TCP|UDP|SCTP",
                       help="protocol of ports without /PROTOCOL (default: TCP)")
    group.add_argument("--node-port", metavar="PORT",
                       help="node port, for --type NodePort or LoadBalancer (default: chosen by the cluster)")
    group.add_argument("--port-name", metavar="NAME", help="name of the port, when there is one")


def _add_service_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--name", dest="service_name", metavar="NAME",
                       help="name of the Service (default: the object's name)")
    group.add_argument("--type", dest="service_type", metavar="TYPE",
                       help="ClusterIP (default), NodePort or LoadBalancer")
    group.add_argument("--cluster-ip", metavar="IP|None",
                       help="cluster IP to ask for; None makes a headless Service")
    group.add_argument("--external-ip", action="append", metavar="IP",
                       help="external IP the Service accepts too, repeatable")
    group.add_argument("--load-balancer-ip", metavar="IP", help="IP to ask of the load balancer")
    group.add_argument("--session-affinity", metavar="None|ClientIP", help="session affinity")
    group.add_argument("--ip-family-policy", metavar="POLICY",
                       help="SingleStack, PreferDualStack or RequireDualStack (default: PreferDualStack "
                            "with two families, else the cluster's)")
    group.add_argument("--ip-families", "--ip-family", dest="ip_families", action="append",
                       metavar="IPv4,IPv6", help="IP families in order, comma-separated or repeated")
    group.add_argument("-l", "--labels", action="append", metavar="K=V[,K=V]",
                       help="labels of the Service (default: the object's labels)")
    group.add_argument("--selector", action="append", metavar="K=V[,K=V]",
                       help="pod selector; its labels are added to the VM where missing "
                            "(default: chosen, see above)")
    group.add_argument("--external-traffic-policy", metavar="Cluster|Local",
                       help="for NodePort and LoadBalancer: Local keeps the client's source address but "
                            "drops traffic while the VM live-migrates")
    add_boolean(group, "overwrite", "update a different existing Service of that name in place")
    group.add_argument("--field-manager", default=DEFAULT_FIELD_MANAGER, metavar="NAME",
                       help=f"name of the field manager of the changes (default: {DEFAULT_FIELD_MANAGER})")


def _add_flow_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--restart", default="auto", metavar="auto|always|never",
                       help="how a running VM gets missing labels: auto labels it live (default), "
                            "always restarts it, never changes only its template")
    add_boolean(group, "start", "start a stopped VM, then verify")
    add_boolean(group, "force", "create the Service even when the VM does not forward its port")


def _add_many_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--vm-selector", action="append", metavar="K=V[,K=V]",
                       help="expose every object of TYPE with these labels, each with its own Service")
    add_boolean(group, "all", "expose every object of TYPE in the namespace, each with its own Service")
    group.add_argument("--name-suffix", metavar="SUFFIX",
                       help="with several objects: each Service is named <object><SUFFIX>, e.g. -ssh")
    group.add_argument("--parallel", metavar="N", default=str(DEFAULT_PARALLEL),
                       help=f"with several objects: how many are exposed at once (default: {DEFAULT_PARALLEL})")


def _add_route_flags(group: argparse._ArgumentGroup) -> None:
    add_boolean(group, "route", "also create an OpenShift Route to the Service, as oc expose svc does")
    group.add_argument("--hostname", metavar="HOST", help="host of the Route (default: chosen by the router)")
    group.add_argument("--path", metavar="PATH", help="path the Route serves, e.g. /app")
    group.add_argument("--route-port", metavar="PORT|NAME",
                       help="the Service port the Route sends to, when the Service has several")
    group.add_argument("--tls", metavar="edge|passthrough|reencrypt", help="TLS termination of the Route")
    group.add_argument("--insecure-policy", metavar="Allow|Redirect|None",
                       help="what the Route does with plain HTTP when it terminates TLS")
    group.add_argument("--cert", metavar="FILE", help="certificate of the Route's host (PEM), for edge or reencrypt")
    group.add_argument("--key", metavar="FILE", help="private key of --cert (PEM); never printed")
    group.add_argument("--ca-cert", metavar="FILE", help="CA certificate chain of --cert (PEM)")
    group.add_argument("--dest-ca-cert", metavar="FILE",
                       help="CA certificate that signs the VM's own certificate, for reencrypt (PEM)")
