"""`auth-provider: oidc` users, as kubectl's built-in provider (client-go plugin/pkg/client/auth/oidc) uses them.

The stored `id-token` is sent while its JWT `exp` is more than 10 s away (the signature is the API
server's to check). Otherwise, with a `refresh-token`: the issuer's discovery document
(`<idp-issuer-url>/.well-known/openid-configuration`) names its `token_endpoint`, which gets
`grant_type=refresh_token` with the client's id and secret as HTTP Basic auth (and, if that is refused, in
the form: the two tries of the oauth2 library kubectl uses); the answer's `id_token` (and `refresh_token`,
when the issuer rotates it) are written back to the kubeconfig file the user entry came from
(`kubeconfig_write.py`) and used for the rest of the process. Unlike kubectl, the file is locked and read
again before the issuer is asked: a token another process refreshed meanwhile is used as it is. TLS to the issuer trusts
`idp-certificate-authority(-data)` when given, else the system's roots (never the cluster's CA, and
`insecure-skip-tls-verify` does not apply); HTTPS_PROXY/NO_PROXY apply, the cluster's proxy-url does not.
Recorded side by side with kubectl 1.37.1 (tests/unit/access/test_oidc.py). No token, secret or issuer
answer is ever part of a message.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

from oc_virt_expose.access.credentials import OIDCConfig
from oc_virt_expose.access.kubeconfig import Connection
from oc_virt_expose.access.transport import connection_failure, open_connection, user_agent
from oc_virt_expose.errors import VirtExposeError

EXPIRY_DELTA = 10.0  # seconds: a token this close to `exp` is refreshed (client-go's expiryDelta)

_refreshed: dict[tuple[str, str], tuple[str, str]] = {}
"""(kubeconfig file, user) -> (id-token, refresh-token) refreshed by this process."""

Log = Callable[[str], None]


def valid_id_token(config: OIDCConfig, *, timeout: float | None = None,
                   log: Log | None = None) -> tuple[str, float]:
    """An id-token valid for at least EXPIRY_DELTA more seconds, and when it stops being so (epoch seconds)."""
    key = (config.origin, config.user)
    id_token, refresh_token = _refreshed.get(key, (config.id_token, config.refresh_token))
    if id_token and _usable_until(id_token, config) > time.time():
        return id_token, _usable_until(id_token, config)
    if not refresh_token:
        raise VirtExposeError(f'the id-token of user "{config.user}" (auth-provider oidc) has expired and there'
                              " is no refresh-token to renew it: log in again")
    from oc_virt_expose.access.kubeconfig_write import locked, read_auth_provider_config, write_auth_provider_config

    with locked(config.origin, config.user):
        stored = read_auth_provider_config(config.origin, config.user)
        id_token = stored.get("id-token") or id_token
        refresh_token = stored.get("refresh-token") or refresh_token
        if not (id_token and _usable_until(id_token, config) > time.time()):  # else refreshed by another process
            id_token, rotated = _refresh(config, refresh_token, timeout, log)
            refresh_token = rotated or refresh_token
            write_auth_provider_config(config.origin, config.user,
                                       {"id-token": id_token, "refresh-token": refresh_token})
    _refreshed[key] = (id_token, refresh_token)
    return id_token, _usable_until(id_token, config)


def _usable_until(token: str, config: OIDCConfig) -> float:
    return jwt_expiry(token, config) - EXPIRY_DELTA


def jwt_expiry(token: str, config: OIDCConfig) -> float:
    """The `exp` claim of a JWT (0 without one: expired, as client-go reads it)."""
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        raise VirtExposeError(f'the id-token of user "{config.user}" (auth-provider oidc) is not a valid'
                              " JWT") from None
    expiry = claims.get("exp") if isinstance(claims, dict) else None
    return float(expiry) if isinstance(expiry, (int, float)) and not isinstance(expiry, bool) else 0.0


def _refresh(config: OIDCConfig, refresh_token: str, timeout: float | None, log: Log | None) -> tuple[str, str]:
    issuer = config.issuer.rstrip("/")
    status, discovery = _request(config, "GET", issuer + "/.well-known/openid-configuration", timeout, log)
    endpoint = discovery.get("token_endpoint") if status == 200 else None
    if not isinstance(endpoint, str) or not endpoint:
        raise _refresh_failed(config, f"its discovery document ({status}) names no token_endpoint")
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    pair = f"{quote_plus(config.client_id)}:{quote_plus(config.client_secret)}".encode()
    status, answer = _request(config, "POST", endpoint, timeout, log, form=form,
                              authorization="Basic " + base64.b64encode(pair).decode())
    if not 200 <= status < 300:
        in_form = {"client_id": config.client_id, "client_secret": config.client_secret, **form}
        status, answer = _request(config, "POST", endpoint, timeout, log,
                                  form={key: value for key, value in in_form.items() if value})
    if not 200 <= status < 300:
        reason = " ".join(str(answer.get(key)) for key in ("error", "error_description") if answer.get(key))
        raise _refresh_failed(config, f"its token endpoint answered {status}" + (f" ({reason})" if reason else "")
                              + "; log in again")
    id_token, rotated = answer.get("id_token"), answer.get("refresh_token")
    if not isinstance(id_token, str) or not id_token:
        raise _refresh_failed(config, "its answer has no id_token (was the scope openid asked for at login?)")
    return id_token, rotated if isinstance(rotated, str) else ""


def _request(config: OIDCConfig, method: str, url: str, timeout: float | None, log: Log | None, *,
             form: Mapping[str, str] | None = None, authorization: str = "") -> tuple[int, dict[str, Any]]:
    """One request to the issuer: its status and its JSON (or form-encoded) answer as a dict."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _refresh_failed(config, f'"{parts.scheme}://{parts.hostname or ""}" is not an http(s) URL')
    origin = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
    issuer = Connection(server=origin, namespace="", user=config.user, ca_file=config.ca_file,
                        ca_data=config.ca_data, request_timeout=timeout)
    body = urlencode(form).encode() if form is not None else None
    headers = {"User-Agent": user_agent(), "Accept": "application/json"}
    headers.update({"Authorization": authorization} if authorization else {})
    headers.update({"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {})
    start = time.monotonic()
    http_connection = open_connection(issuer)
    try:
        http_connection.request(method, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                                body=body, headers=headers)
        response = http_connection.getresponse()
        payload = response.read()
    except ssl.SSLCertVerificationError as error:
        source = "idp-certificate-authority(-data)" if config.ca_file or config.ca_data else "the system's roots"
        raise _refresh_failed(config, f"TLS certificate verification failed ({error.verify_message}) against"
                              f" {source}: set idp-certificate-authority-data (or idp-certificate-authority) in"
                              f" users[{config.user}].user.auth-provider.config") from None
    except (OSError, http.client.HTTPException) as error:
        raise connection_failure(error, origin, timeout=timeout) from None
    finally:
        http_connection.close()
    if log is not None:
        log(f"{method} {origin}{parts.path} {response.status} {response.reason}"
            f" in {int((time.monotonic() - start) * 1000)} milliseconds")
    return response.status, _answer(payload, response.getheader("Content-Type") or "")


def _answer(payload: bytes, content_type: str) -> dict[str, Any]:
    if "application/x-www-form-urlencoded" in content_type or "text/plain" in content_type:
        return dict(parse_qsl(payload.decode("utf-8", "replace")))
    try:
        document = json.loads(payload)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _refresh_failed(config: OIDCConfig, reason: str) -> VirtExposeError:
    return VirtExposeError(f'cannot refresh the id-token of user "{config.user}" (auth-provider oidc) through'
                           f" the issuer {config.issuer}: {reason}")
