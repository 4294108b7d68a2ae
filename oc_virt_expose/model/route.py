"""OpenShift Routes (`route.openshift.io/v1`): the Route `--route` makes, its flag rules, how it compares with
an existing one, and how virt-expose reads a Route; pure.

The Route is built as `oc expose svc` and `oc create route edge|passthrough|reencrypt` build it: named as the
Service, with the Service's labels (so `-l virt-expose.kubevirt.io/vm=NAME` finds both), the Service's
annotation naming the exposed object and its owner reference to it (deleting the VM deletes the Route);
`spec.port.targetPort` names the Service port, or gives its target port when the port has no name (as `oc
expose svc` does: routers match it against the endpoints' ports). No `spec.host`: the API server assigns
`<name>-<namespace>.<router domain>` unless `--hostname` asks for one (which needs `routes/custom-host`).

A Route is admitted when a router has set `status.ingress[].conditions[type=Admitted]` True; its URL is
`http://HOST/PATH`, or `https://` when it terminates or passes through TLS. TLS material (`spec.tls.key`,
the certificates) is never printed: `redacted` replaces it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from oc_virt_expose.errors import RefusedError, UsageError
from oc_virt_expose.model.objects import Object, name_of, namespace_of, uid_of
from oc_virt_expose.model.records import REDACTED, repr_hiding
from oc_virt_expose.model.service import EXPOSES_ANNOTATION, overwritten_metadata

ROUTE_API = "route.openshift.io/v1"
EDGE, PASSTHROUGH, REENCRYPT = "edge", "passthrough", "reencrypt"
TLS_TERMINATIONS = (EDGE, PASSTHROUGH, REENCRYPT)
INSECURE_POLICIES = ("Allow", "Redirect", "None")
_MAX_HOST = 253
# patterns, compiled (and cached) by `re` at first use
_DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_PEM_BLOCK = r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----"


class RouteAction(str, enum.Enum):
    CREATE = "created"
    UNCHANGED = "unchanged"
    UPDATE = "configured"


class RouteRequest(NamedTuple):
    """`--route` and its flags; TLS material as read from the files (repr() hides it)."""

    hostname: str | None = None
    path: str | None = None
    port: str | None = None
    """`--route-port`: the Service port, by number or name; None: the Service's only TCP port."""
    tls: str | None = None
    insecure_policy: str | None = None
    certificate: str | None = None
    key: str | None = None
    ca_certificate: str | None = None
    destination_ca_certificate: str | None = None

    def __repr__(self) -> str:
        return repr_hiding(self, {tls_file.field for tls_file in TLS_FILES})

    def tls_material(self) -> dict[str, str]:
        """`spec.tls` field -> PEM text, for the files given."""
        return {tls_file.spec_field: value for tls_file in TLS_FILES if (value := getattr(self, tls_file.field))}


class TLSFile(NamedTuple):
    """A PEM file of the Route: its `RouteRequest` field, its `spec.tls` field, its flag."""

    field: str
    spec_field: str
    flag: str


TLS_FILES = (TLSFile("certificate", "certificate", "--cert"), TLSFile("key", "key", "--key"),
             TLSFile("ca_certificate", "caCertificate", "--ca-cert"),
             TLSFile("destination_ca_certificate", "destinationCACertificate", "--dest-ca-cert"))
TLS_MATERIAL = tuple(tls_file.spec_field for tls_file in TLS_FILES)
ROUTE_FLAGS = dict(zip(RouteRequest._fields, ("--hostname", "--path", "--route-port", "--tls", "--insecure-policy",
                                              *(tls_file.flag for tls_file in TLS_FILES))))
"""`RouteRequest` field -> its flag."""


def validate_route_request(request: RouteRequest) -> None:
    """The flag rules of `oc create route` and of the Route API, checked before any request."""
    if request.hostname is not None and not is_host_name(request.hostname):
        raise UsageError(f'invalid --hostname "{request.hostname}": a host name is at most 253 lowercase letters, '
                         "digits, '-' and '.', each dot-separated part starting and ending with a letter or digit")
    if request.path is not None and not request.path.startswith("/"):
        raise UsageError(f'invalid --path "{request.path}": a path starts with "/"')
    if request.insecure_policy is not None and request.tls is None:
        raise UsageError("--insecure-policy needs --tls: it says what a TLS Route does with plain HTTP")
    material = [tls_file.flag for tls_file in TLS_FILES if getattr(request, tls_file.field) is not None]
    if material and request.tls not in (EDGE, REENCRYPT):
        raise UsageError(f"{', '.join(material)} need{'s' if len(material) == 1 else ''} --tls edge or --tls "
                         "reencrypt: the router presents the certificate only where it terminates TLS")
    if request.tls == PASSTHROUGH:
        if request.path is not None:
            raise UsageError("--tls passthrough takes no --path: the router sees no HTTP request to read a path from")
        if request.insecure_policy == "Allow":
            raise UsageError("--tls passthrough cannot --insecure-policy Allow: the router cannot send plain HTTP "
                             "to a backend that expects TLS (use Redirect or None)")
    if request.destination_ca_certificate is not None and request.tls != REENCRYPT:
        raise UsageError("--dest-ca-cert needs --tls reencrypt: it verifies the VM's own certificate")
    if (request.certificate is None) != (request.key is None):
        raise UsageError("--cert and --key go together: the router needs the certificate and its private key")


def is_host_name(text: str) -> bool:
    """A DNS-1123 subdomain, as OpenShift validates `spec.host`."""
    return len(text) <= _MAX_HOST and bool(re.match(_DNS1123_SUBDOMAIN, text))


def pem_problem(text: str, flag: str) -> str | None:
    """Why `text` is not what `flag` takes (one or more certificates, or one unencrypted private key), or None.
    Never quotes the text."""
    blocks = re.findall(_PEM_BLOCK, text, re.DOTALL)
    if flag == "--key":
        keys = [(label, body) for label, body in blocks if label.endswith("PRIVATE KEY")]
        if len(keys) != 1:
            return "not a PEM private key" if not keys else "more than one private key"
        label, body = keys[0]
        if label.startswith("ENCRYPTED") or "Proc-Type: 4,ENCRYPTED" in body:
            return "an encrypted private key: the router needs it unencrypted"
        return None if _is_base64(body) else "a damaged PEM private key"
    if not blocks or any(label != "CERTIFICATE" for label, _ in blocks):
        return "not a PEM certificate (-----BEGIN CERTIFICATE-----)"
    return None if all(_is_base64(body) for _, body in blocks) else "a damaged PEM certificate"


def _is_base64(body: str) -> bool:
    import base64  # only when certificates are given
    import binascii

    try:
        base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return bool(body.strip())


def route_target_port(request: RouteRequest, ports: Sequence[Mapping[str, Any]], service_name: str) -> int | str:
    """`spec.port.targetPort` for the Service port `--route-port` names (by number or name), or for the only TCP
    port: that port's name, else its target port, as `oc expose svc` sets it. RefusedError when there is no
    such port, or several and no `--route-port`."""
    tcp = [port for port in ports if port.get("protocol", "TCP") == "TCP"]
    listed = ", ".join(_port_label(port) for port in ports) or "none"
    if request.port is None:
        if not tcp:
            raise RefusedError(f"service/{service_name} has no TCP port ({listed}): a Route carries HTTP and TLS, "
                               "over TCP")
        if len(tcp) > 1:
            raise RefusedError(f"service/{service_name} has several TCP ports ({listed}): give --route-port "
                               "NUMBER|NAME, the Service port the Route sends to")
        chosen = tcp[0]
    else:
        wanted = request.port
        matching = [port for port in ports if str(port.get("port")) == wanted or port.get("name") == wanted]
        if not matching:
            raise RefusedError(f'--route-port "{wanted}" is no port of service/{service_name} ({listed})')
        chosen = next((port for port in matching if port.get("protocol", "TCP") == "TCP"), matching[0])
        if chosen.get("protocol", "TCP") != "TCP":
            raise RefusedError(f"--route-port {wanted} is {_port_label(chosen)}: a Route carries HTTP and TLS, "
                               "over TCP")
    if chosen.get("name"):
        return str(chosen["name"])
    target = chosen.get("targetPort", chosen.get("port"))
    return int(target) if isinstance(target, int) or str(target).isdigit() else str(target)


def _port_label(port: Mapping[str, Any]) -> str:
    name = f"{port['name']} " if port.get("name") else ""
    return f"{name}{port.get('port')}/{port.get('protocol', 'TCP')}"


def build_route(request: RouteRequest, service: Mapping[str, Any], target: Mapping[str, Any]) -> Object:
    """The Route to `service` (as planned or read) for the exposed object `target`, ready to send."""
    service_meta = service.get("metadata") or {}
    metadata: dict[str, Any] = {"name": name_of(service)}
    if namespace_of(service):
        metadata["namespace"] = namespace_of(service)
    metadata["labels"] = dict(service_meta.get("labels") or {})
    exposes = (service_meta.get("annotations") or {}).get(EXPOSES_ANNOTATION)
    if exposes:
        metadata["annotations"] = {EXPOSES_ANNOTATION: exposes}
    owners = [owner for owner in service_meta.get("ownerReferences") or [] if owner.get("uid") == uid_of(target)]
    if owners:
        metadata["ownerReferences"] = owners
    spec: dict[str, Any] = {}
    if request.hostname:
        spec["host"] = request.hostname
    if request.path:
        spec["path"] = request.path
    spec["to"] = {"kind": "Service", "name": name_of(service)}
    spec["port"] = {"targetPort": route_target_port(request, (service.get("spec") or {}).get("ports") or [],
                                                    name_of(service))}
    if request.tls:
        tls: dict[str, Any] = {"termination": request.tls}
        if request.insecure_policy:
            tls["insecureEdgeTerminationPolicy"] = request.insecure_policy
        tls.update(request.tls_material())
        spec["tls"] = tls
    return {"apiVersion": ROUTE_API, "kind": "Route", "metadata": metadata, "spec": spec}


def route_change(existing: Mapping[str, Any] | None, desired: Object, *, overwrite: bool) -> tuple[RouteAction, Object]:
    """Create, leave (identical) or update (`--overwrite`) the Route; a different one is refused."""
    if existing is None:
        return RouteAction.CREATE, desired
    differences = route_differences(existing, desired)
    if not differences:
        return RouteAction.UNCHANGED, dict(existing)
    if not overwrite:
        raise RefusedError(f'route "{name_of(desired)}" already exists and differs: {"; ".join(differences)}; pass '
                           "--overwrite to update it in place, or --name to expose under another name")
    return RouteAction.UPDATE, overwritten_route(existing, desired)


def route_differences(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """How the existing Route differs in what `--route` sets; TLS material is named, never shown."""
    have, want = existing.get("spec") or {}, desired.get("spec") or {}
    differences = []
    if want.get("host") and have.get("host") != want["host"]:
        differences.append(f"spec.host is {have.get('host')}, not {want['host']}")
    for field, shown in (("to", _format_target), ("port", _format_port)):
        if shown(have.get(field)) != shown(want.get(field)):
            differences.append(f"spec.{field} is {shown(have.get(field))}, not {shown(want.get(field))}")
    if (have.get("path") or "") != (want.get("path") or ""):
        differences.append(f"spec.path is {have.get('path') or 'empty'}, not {want.get('path') or 'empty'}")
    have_tls, want_tls = have.get("tls") or {}, want.get("tls") or {}
    for field in ("termination", "insecureEdgeTerminationPolicy"):
        if (have_tls.get(field) or "") != (want_tls.get(field) or ""):
            differences.append(f"spec.tls.{field} is {have_tls.get(field) or 'none'}, "
                               f"not {want_tls.get(field) or 'none'}")
    for field in TLS_MATERIAL:
        if (have_tls.get(field) or "") != (want_tls.get(field) or ""):
            differences.append(f"spec.tls.{field} differs")
    return differences


def _format_target(target: Mapping[str, Any] | None) -> str:
    target = target or {}
    return f"{target.get('kind') or 'Service'}/{target.get('name', '')}"


def _format_port(port: Mapping[str, Any] | None) -> str:
    return str((port or {}).get("targetPort", "not set"))


def overwritten_route(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> Object:
    """The existing Route updated in place: our spec fields over its own (its host stays unless `--hostname`
    gives one; its path and TLS go when we set none), our labels, annotation and owner added."""
    want = desired.get("spec") or {}
    spec = {key: value for key, value in (existing.get("spec") or {}).items() if key not in ("path", "tls")}
    spec.update(want)
    return {"apiVersion": ROUTE_API, "kind": "Route", "metadata": overwritten_metadata(existing, desired),
            "spec": spec}


def redacted(route: Mapping[str, Any]) -> Object:
    """The Route with its TLS material replaced by `<redacted>`, for printing."""
    spec = route.get("spec") or {}
    tls = spec.get("tls")
    if not tls:
        return dict(route)
    hidden = {field: (REDACTED if field in TLS_MATERIAL and value else value) for field, value in tls.items()}
    return {**route, "spec": {**spec, "tls": hidden}}


def route_url(route: Mapping[str, Any]) -> str | None:
    """`https://host/path` of the Route (its host from the spec, else the first admitted ingress); None
    without a host."""
    spec = route.get("spec") or {}
    host = spec.get("host") or next((entry.get("host") for entry in _ingresses(route) if entry.get("host")), None)
    if not host:
        return None
    scheme = "https" if (spec.get("tls") or {}).get("termination") else "http"
    return f"{scheme}://{host}{spec.get('path') or ''}"


def admission(route: Mapping[str, Any], *, current: bool = False) -> tuple[bool | None, str]:
    """(True, "") once a router admitted the Route; (False, its reason and message) when one refused it;
    (None, "") while no router has answered. `current`: only answers about the Route's present host count
    (after an update, a router's answer about the host it had is stale)."""
    host = (route.get("spec") or {}).get("host")
    for entry in _ingresses(route):
        if current and entry.get("host") != host:
            continue
        for condition in entry.get("conditions") or []:
            if condition.get("type") != "Admitted":
                continue
            if condition.get("status") == "True":
                return True, ""
            reason = ": ".join(str(part) for part in (condition.get("reason"), condition.get("message")) if part)
            return False, reason or "not admitted"
    return None, ""


def admitting_router(route: Mapping[str, Any]) -> str:
    """The name of the first router that answered about the Route (`default`), or ""."""
    return next((str(entry.get("routerName")) for entry in _ingresses(route) if entry.get("routerName")), "")


def routed_service(route: Mapping[str, Any]) -> str:
    """The name of the Service the Route sends to (`spec.to`, kind Service)."""
    target = (route.get("spec") or {}).get("to") or {}
    return str(target.get("name", "")) if target.get("kind", "Service") == "Service" else ""


def _ingresses(route: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((route.get("status") or {}).get("ingress") or [])
