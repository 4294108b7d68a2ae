"""OpenShift Routes (`route.openshift.io/v1`) as virt-expose reads them; pure.

A Route is admitted when a router has set `status.ingress[].conditions[type=Admitted]` True; its URL is
`http://HOST/PATH`, or `https://` when it terminates or passes through TLS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ROUTE_API = "route.openshift.io/v1"


def route_url(route: Mapping[str, Any]) -> str | None:
    """`https://host/path` of the Route (its host from the spec, else the first admitted ingress); None
    without a host."""
    spec = route.get("spec") or {}
    host = spec.get("host") or next((entry.get("host") for entry in _ingresses(route) if entry.get("host")), None)
    if not host:
        return None
    scheme = "https" if (spec.get("tls") or {}).get("termination") else "http"
    return f"{scheme}://{host}{spec.get('path') or ''}"


def admission(route: Mapping[str, Any]) -> tuple[bool | None, str]:
    """(True, "") once a router admitted the Route; (False, its reason and message) when one refused it;
    (None, "") while no router has answered."""
    for entry in _ingresses(route):
        for condition in entry.get("conditions") or []:
            if condition.get("type") != "Admitted":
                continue
            if condition.get("status") == "True":
                return True, ""
            reason = ": ".join(str(part) for part in (condition.get("reason"), condition.get("message")) if part)
            return False, reason or "not admitted"
    return None, ""


def routed_service(route: Mapping[str, Any]) -> str:
    """The name of the Service the Route sends to (`spec.to`, kind Service)."""
    target = (route.get("spec") or {}).get("to") or {}
    return str(target.get("name", "")) if target.get("kind", "Service") == "Service" else ""


def _ingresses(route: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((route.get("status") or {}).get("ingress") or [])
