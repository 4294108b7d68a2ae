"""API error answers turned into errors.py errors, worded as kubectl words them.

`Error from server (NotFound): virtualmachines.kubevirt.io "x" not found` (the server's own Status
message), 401 as a request to log in again, 422 as `The Service "x" is invalid: field: message; ...`, a
missing API (404 with no object name) with what was asked (`get virtualmachines.kubevirt.io x`), and an
answer that is no Status (a proxy's page) summarised in one line.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from typing import Any

from oc_virt_expose.access.kubeconfig import Connection
from oc_virt_expose.errors import ClusterError, ConflictError, ForbiddenError, NotFoundError


def api_error(method: str, path: str, status: int, body: bytes, connection: Connection, *,
              status_object: Mapping[str, Any] | None = None) -> ClusterError:
    """The errors.py error for an HTTP error answer, worded as kubectl words it."""
    document = status_object if status_object is not None else _json(body)
    is_status = isinstance(document, dict) and document.get("kind") == "Status"
    details = (document.get("details") or {}) if is_status else {}
    reason = str(document.get("reason") or "") if is_status else ""
    reason = reason or _REASONS.get(status, "InternalError")
    message = str(document.get("message") or "") if is_status else ""
    if status == 401:
        return ClusterError(_unauthorized(connection), status=status, reason=reason, details=details)
    if status == 422 or reason == "Invalid":
        return ClusterError(_invalid(message, details), status=status, reason=reason, details=details)
    if not message:
        text = " ".join(body.decode("utf-8", "replace").split())[:200]
        generic = _GENERIC.get(status, 'an error on the server ("{}") has prevented the request from'
                                       " succeeding")
        message = f"{generic.format(text or http.client.responses.get(status, ''))}" \
                  f" ({_describe(method, path)})"
    elif status == 404 and not details.get("name"):
        message += f" ({_describe(method, path)})"
    error_class = {403: ForbiddenError, 404: NotFoundError, 409: ConflictError}.get(status, ClusterError)
    return error_class(f"Error from server ({reason}): {message}", status=status, reason=reason,
                       details=details)


def is_missing_api(error: ClusterError) -> bool:
    """A 404 for the resource type itself (its API group or version is not served), not an object: the
    server's Status names no object then (or there is no Status at all, a plain "404 page not found")."""
    return error.status == 404 and not error.details.get("name")


MISSING_API = "the server could not find the requested resource"
# client-go's words for an error answer that is no Status object (e.g. a plain "404 page not found")
_GENERIC = {404: MISSING_API,
            405: "the server does not allow this method on the requested resource",
            429: "the server has received too many requests and has asked us to try again later",
            503: "the server is currently unable to handle the request",
            504: "the server was unable to return a response in the time allotted, but may still be"
                 " processing the request"}
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
            422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
            504: "Timeout"}


def _unauthorized(connection: Connection) -> str:
    who = (f'user "{connection.user}"' if connection.user
           else "the pod's service account" if connection.in_cluster else "anonymous")
    return (f"You must be logged in to the server (Unauthorized): {connection.server} rejected the"
            f" credentials of {who}; log in again (e.g. oc login) or check --token/--user/--kubeconfig")


def _invalid(message: str, details: Mapping[str, Any]) -> str:
    causes = [f"{cause.get('field')}: {cause.get('message')}" if cause.get("field")
              else str(cause.get("message")) for cause in details.get("causes") or ()]
    if details.get("kind") or details.get("name"):
        subject = f'The {details.get("kind", "")} "{details.get("name", "")}" is invalid'
    else:
        subject = "The request is invalid"
    if not causes:
        return f"{subject}: {message}" if message else subject
    return f"{subject}: {'; '.join(causes)}"


def _describe(method: str, path: str) -> str:
    """`get virtualmachines.kubevirt.io name`, for messages, from an API path."""
    parts = [part for part in path.split("?", 1)[0].split("/") if part]
    group, rest = ("", parts[2:]) if parts[:1] == ["api"] else (parts[1] if len(parts) > 1 else "",
                                                              parts[3:])
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
        rest = rest[2:]
    resource = rest[0] if rest else ""
    qualified = f"{resource}.{group}" if group and resource else resource
    name = rest[1] if len(rest) > 1 else ""
    return " ".join(part for part in (method.lower(), qualified, name) if part)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
