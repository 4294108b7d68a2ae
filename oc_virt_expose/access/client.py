"""A small Kubernetes API client for the few calls virt-expose makes, on one keep-alive connection.

Objects are plain dicts (the server's JSON). Paths are absolute API paths, built with `resource_path`;
no discovery is done, so each call is one request (the audit log counts them by our User-Agent).
Server errors become `errors.py` classes with kubectl's wording (`Error from server (NotFound): ...`);
no-answer failures become ConnectionFailure. With `verbosity` 6+ each request is logged to stderr as
kubectl logs it (`GET https://... 200 OK in 12 milliseconds`), 7+ adds request headers, 8+ bodies
(cut at 1 KiB below 9): Authorization, tokens, passwords, client keys and Secret data are redacted.
Transport and TLS choices: see `transport.py`; credentials, their refresh and the retry after a 401: `auth.py`.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from collections.abc import Generator, Mapping
from typing import Any, TextIO
from urllib.parse import quote, urlencode, urlsplit

from oc_virt_expose.access.apierrors import api_error
from oc_virt_expose.access.auth import Authenticator, Identity
from oc_virt_expose.access.kubeconfig import Connection
from oc_virt_expose.access.transport import connection_failure, open_connection, user_agent
from oc_virt_expose.errors import ClusterError
from oc_virt_expose.model.records import REDACTED
from oc_virt_expose.model.route import TLS_MATERIAL

PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
_SECRET_KEYS = frozenset({"token", "password", "clientKeyData", "client-key-data", "id-token",
                          "refresh-token", "access-token", "secret"})
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_MAX_RETRIES = 3  # answers that carry Retry-After (429, 5xx), as client-go retries them
_MAX_RETRY_WAIT = 10.0  # seconds per Retry-After: at most 30 s of waiting per request, less under --request-timeout


def resource_path(api_version: str, plural: str, *, namespace: str | None = None,
                  name: str | None = None, subresource: str | None = None) -> str:
    """`/api/v1/namespaces/NS/services/NAME` or `/apis/GROUP/VERSION/...` for an API version."""
    parts = ["/api/v1" if api_version == "v1" else f"/apis/{api_version}"]
    if namespace:
        parts += ["namespaces", quote(namespace, safe="")]
    parts.append(plural)
    if name:
        parts.append(quote(name, safe=""))
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


Headers = list[tuple[str, str]]
"""HTTP headers in the order they are sent."""


class Client:
    """Requests to one API server as one user. Use as a context manager or call `close()`."""

    def __init__(self, connection: Connection, *, verbosity: int = 0, log: TextIO | None = None) -> None:
        self.connection = connection
        self.verbosity = verbosity
        self.requests = 0  # answered requests, as the server's audit log counts them
        self._log = log
        self._base = urlsplit(connection.server).path.rstrip("/")
        self._http: http.client.HTTPConnection | None = None
        self._used = False  # the open connection has carried a request
        self._headers: Headers | None = None
        self._auth = Authenticator(connection, log=lambda line: self._log_line(6, line))
        self._cert: tuple[bytes, bytes] = (b"", b"")  # the client certificate the open connection presents

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- verbs ---------------------------------------------------------------------------------------

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._call("GET", path, params)

    def list(self, path: str, *, label_selector: str | None = None, field_selector: str | None = None,
             limit: int | None = None, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        query = dict(params or {}, labelSelector=label_selector, fieldSelector=field_selector,
                     limit=limit)
        return self._call("GET", path, query)

    def create(self, path: str, body: Mapping[str, Any], *, dry_run: bool = False,
               field_manager: str | None = None) -> dict[str, Any]:
        return self._call("POST", path, _write_query(dry_run, field_manager), body=body)

    def patch(self, path: str, patch: Any, *, patch_type: str = "merge", dry_run: bool = False,
              field_manager: str | None = None, force: bool = False) -> dict[str, Any]:
        """Merge patch (default), `json` patch (a list of operations), `strategic` or `apply`."""
        query = _write_query(dry_run, field_manager, force=force if patch_type == "apply" else None)
        return self._call("PATCH", path, query, body=patch,
                          content_type=PATCH_CONTENT_TYPES[patch_type])

    def put(self, path: str, body: Mapping[str, Any] | None = None, *, dry_run: bool = False,
            field_manager: str | None = None, accept: str | None = None) -> dict[str, Any]:
        """Replace an object, or call a subresource such as KubeVirt's `virtualmachines/NAME/restart`
        (KubeVirt's subresources take dry run in the body, `{"dryRun": ["All"]}`, not the query, and
        answer 406 unless `accept` allows any type, as kubectl's `application/json, */*`)."""
        return self._call("PUT", path, _write_query(dry_run, field_manager), body=body or {}, accept=accept)

    def delete(self, path: str, *, dry_run: bool = False, propagation_policy: str | None = None,
               uid: str | None = None) -> dict[str, Any]:
        """`uid`: delete only the object with this uid (DeleteOptions' precondition; else a 409). The server
        reads the options from the body when there is one, ignoring the query: then all go in the body."""
        query = dict(_write_query(dry_run, None), propagationPolicy=propagation_policy)
        if not uid:
            return self._call("DELETE", path, query)
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid},
                   "propagationPolicy": propagation_policy, "dryRun": ["All"] if dry_run else None}
        return self._call("DELETE", path, query, body={key: value for key, value in options.items() if value})

    def watch(self, path: str, *, resource_version: str | None = None,
              field_selector: str | None = None, label_selector: str | None = None,
              timeout_seconds: int | None = None,
              allow_bookmarks: bool = False) -> Generator[dict[str, Any], None, None]:
        """Events (`{"type": ..., "object": ...}`) until the server ends the watch; an ERROR event
        (e.g. 410 Expired) raises its error. Closing the iterator early drops the connection."""
        query = {"watch": "true", "resourceVersion": resource_version, "fieldSelector": field_selector,
                 "labelSelector": label_selector, "timeoutSeconds": timeout_seconds,
                 "allowWatchBookmarks": "true" if allow_bookmarks else None}
        read_timeout = timeout_seconds + 30.0 if timeout_seconds else self.connection.request_timeout
        response = self._send("GET", path, query, None, "", read_timeout=read_timeout, stream=True)
        finished = False
        try:
            if response.status >= 400:
                raise api_error("GET", path, response.status, response.read(), self.connection)
            for line in iter(response.readline, b""):
                if not line.strip():
                    continue
                self._log_body("Response Body", line, level=8)
                event = _json(line)
                if not isinstance(event, dict):
                    raise ClusterError(f"malformed watch event from {self.connection.server}")
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise api_error("GET", path, int(status.get("code") or 500), line, self.connection,
                                    status_object=status)
                yield event
            finished = True
        except (OSError, http.client.HTTPException) as error:
            raise connection_failure(error, self.connection.server, timeout=read_timeout,
                                     connection=self.connection) from None
        finally:
            if not finished or response.will_close:
                self.close()

    # -- requests ------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, query: Mapping[str, Any] | None, *,
              body: Any = None, content_type: str = "application/json", accept: str | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        budget = self.connection.request_timeout or _MAX_RETRIES * _MAX_RETRY_WAIT  # as client-go's request context
        for attempt in range(_MAX_RETRIES + 1):
            response = self._send(method, path, query, data, content_type, accept=accept)
            payload = self._read(response)
            wait = _retry_after(response, attempt)
            if wait is None or wait > budget:
                break
            budget -= wait
            time.sleep(wait)
        if response.status >= 400:
            raise api_error(method, path, response.status, payload, self.connection)
        return json.loads(payload) if payload else {}

    def _send(self, method: str, path: str, query: Mapping[str, Any] | None, body: bytes | None,
              content_type: str, *, read_timeout: float | None = None,
              stream: bool = False, accept: str | None = None) -> http.client.HTTPResponse:
        """Send with the current credentials; a 401 to renewable ones (an exec plugin's) is sent once more
        with new ones."""
        target = self._target(path, query, stream)
        timeout = read_timeout if stream else self.connection.request_timeout
        for retried in (False, True):
            identity = self._identity()
            headers = [(key, accept if accept and key == "Accept" else value) for key, value in self._fixed_headers()]
            headers += [("Authorization", identity.authorization)] if identity.authorization else []
            headers += [("Content-Type", content_type)] if body is not None else []
            self._log_request(method, target, headers, body)
            response = self._exchange(method, target, headers, body, timeout)
            if response.status != 401 or retried or not self._auth.renew(identity):
                return response
            self._read(response)  # the refusal's body, so the connection can carry the retry
        raise AssertionError("unreachable")

    def _exchange(self, method: str, target: str, headers: Headers, body: bytes | None,
                  timeout: float | None) -> http.client.HTTPResponse:
        for attempt in (1, 2):
            connection, reused = self._connection(), self._used
            start = time.monotonic()
            try:
                _write_request(connection, method, target, headers, body)
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                response = connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                self.close()  # a kept-alive connection the server had closed: resend once if safe
                if attempt == 1 and reused and (method == "GET" or isinstance(error, BrokenPipeError)):
                    continue
                raise self._failure(error, timeout) from None
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.close()
                raise self._failure(error, timeout) from None
            self._used = True
            self.requests += 1
            elapsed = int((time.monotonic() - start) * 1000)
            self._log_line(6, f"{method} {self._url(target)} {response.status} {response.reason}"
                              f" in {elapsed} milliseconds")
            return response
        raise AssertionError("unreachable")

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        try:
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise self._failure(error, self.connection.request_timeout) from None
        if response.will_close:
            self.close()
        self._log_body("Response Body", payload, level=8)
        return payload

    def _failure(self, error: BaseException, timeout: float | None) -> Exception:
        if isinstance(error, ValueError) and not isinstance(error, OSError):
            # http.client refuses a header value with a line break, quoting the value: never show it
            return ClusterError(f"cannot send a request to {self.connection.server}: a header value (the"
                                " token, or an impersonation value) contains a line break")
        return connection_failure(error, self.connection.server, timeout=timeout, connection=self.connection)

    def _target(self, path: str, query: Mapping[str, Any] | None, stream: bool) -> str:
        params = {key: _query_value(value) for key, value in (query or {}).items() if value is not None}
        if self.connection.request_timeout and not stream:
            params.setdefault("timeout", f"{self.connection.request_timeout:g}s")
        return self._base + path + ("?" + urlencode(params) if params else "")

    def _url(self, target: str) -> str:
        url = urlsplit(self.connection.server)
        return f"{url.scheme}://{url.netloc.rsplit('@', 1)[-1]}{target}"

    def _connection(self) -> http.client.HTTPConnection:
        if self._http is None:
            cert, key = self._cert
            self._http = open_connection(self.connection, cert_pem=cert, key_pem=key)
            self._used = False
        return self._http

    # -- credentials ---------------------------------------------------------------------------------

    def _identity(self) -> Identity:
        """The credentials for the next request; a new client certificate needs a new connection."""
        identity = self._auth.current()
        if (identity.cert_pem, identity.key_pem) != self._cert:
            self._cert = (identity.cert_pem, identity.key_pem)
            self.close()
        return identity

    def _fixed_headers(self) -> Headers:
        if self._headers is None:
            c = self.connection
            self._headers = [("User-Agent", user_agent()), ("Accept", "application/json")]
            if c.impersonate_user:
                self._headers.append(("Impersonate-User", c.impersonate_user))
                if c.impersonate_uid:
                    self._headers.append(("Impersonate-Uid", c.impersonate_uid))
                self._headers += [("Impersonate-Group", group) for group in c.impersonate_groups]
                self._headers += [(f"Impersonate-Extra-{quote(key, safe='')}", value)
                                  for key, values in c.impersonate_extra for value in values]
        return self._headers

    # -- verbose log ---------------------------------------------------------------------------------

    def _log_line(self, level: int, text: str) -> None:
        if self.verbosity >= level:
            stream = self._log or sys.stderr
            stream.write(text + "\n")
            stream.flush()

    def _log_request(self, method: str, target: str, headers: Headers,
                     body: bytes | None) -> None:
        if self.verbosity >= 7:
            self._log_line(7, f"{method} {self._url(target)}\nRequest Headers:")
            for key, value in headers:
                shown = value.split(" ", 1)[0] + " <masked>" if key == "Authorization" else value
                self._log_line(7, f"    {key}: {shown}")
        if body is not None:
            self._log_body("Request Body", body, level=8)

    def _log_body(self, title: str, body: bytes, *, level: int) -> None:
        if self.verbosity < level or not body:
            return
        try:
            text = json.dumps(redact(json.loads(body)), separators=(",", ":"))
        except ValueError:
            text = body.decode("utf-8", "replace")
        if self.verbosity < 9 and len(text) > 1024:
            text = f"{text[:1024]} [truncated {len(text) - 1024} chars]"
        self._log_line(level, f"{title}: {text}")


def redact(value: Any) -> Any:
    """A copy of a JSON value with secrets replaced: credential fields, a Secret's data, a Route's TLS key and
    certificates (its `spec.tls`, told by its `termination`)."""
    if isinstance(value, list):
        return [redact(item) for item in value]
    if not isinstance(value, dict):
        return value
    secret = value.get("kind") == "Secret"
    route_tls = "termination" in value
    result: dict[str, Any] = {}
    for key, item in value.items():
        if (key in _SECRET_KEYS or (route_tls and key in TLS_MATERIAL)) and isinstance(item, str):
            result[key] = REDACTED
        elif secret and key in ("data", "stringData") and isinstance(item, dict):
            result[key] = {name: REDACTED for name in item}
        elif secret and key == "metadata" and isinstance(item, dict):
            result[key] = _redact_metadata(item)
        else:
            result[key] = redact(item)
    return result


def _redact_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict) and _LAST_APPLIED in annotations:
        metadata = dict(metadata, annotations=dict(annotations, **{_LAST_APPLIED: REDACTED}))
    return metadata


def _retry_after(response: http.client.HTTPResponse, attempt: int) -> float | None:
    if attempt >= _MAX_RETRIES or not (response.status == 429 or response.status >= 500):
        return None
    header = response.getheader("Retry-After")
    if not header or not header.strip().isdigit():
        return None
    return min(float(header), _MAX_RETRY_WAIT)


def _write_request(connection: http.client.HTTPConnection, method: str, target: str,
                   headers: Headers, body: bytes | None) -> None:
    """Send one request; unlike `request()`, a header may repeat (Impersonate-Group)."""
    connection.putrequest(method, target, skip_accept_encoding=True)
    for key, value in headers:
        connection.putheader(key, value)
    if body is not None or method in ("POST", "PUT", "PATCH"):
        connection.putheader("Content-Length", str(len(body or b"")))
    connection.endheaders(body)


def _write_query(dry_run: bool, field_manager: str | None, *, force: bool | None = None) -> dict[str, Any]:
    return {"dryRun": "All" if dry_run else None, "fieldManager": field_manager,
            "force": "true" if force else None}


def _query_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


__all__ = ["PATCH_CONTENT_TYPES", "Client", "redact", "resource_path", "user_agent"]
