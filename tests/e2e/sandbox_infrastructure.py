"""The sandbox's simulated infrastructure (tests/sandbox/infrastructure.py) as tests drive it: the fault proxy,
the load balancer's switch, the pod start delay, Events. The fixtures on them are in tests/e2e/conftest.py.

- `FaultProxy`: the proxy in front of a sandbox's API server: its control paths (tests/sandbox/fault_control.py,
  rules as in fault_rules.py), and `fault_proxy.kubectl(...)` through it (context `faults`).
- `LoadBalancerSwitch`: a sandbox's provider, switched on and off at run time.
- `with_start_delay(vm, seconds)`: a VM manifest whose launcher pods start (get their IPs, run, turn
  Ready) only `seconds` after they are created.
- `wait_for_event(sandbox, namespace, name, reason)`: the message of the first such Event, by watching.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config

from tests.sandbox.apiclient import wait_until
from tests.sandbox.fault_control import CONTROL
from tests.sandbox.informer import raw
from tests.sandbox.infrastructure import INFO, NAMESPACE, START_DELAY_ANNOTATION
from tests.sandbox.loadbalancer import SWITCH
from tests.sandbox.running import RunningSandbox

FAULTS_CONTEXT = "faults"  # the kubeconfig context through the fault proxy (the admin's token)


@dataclass(frozen=True)
class InfrastructureInfo:
    """What the sandbox publishes about its infrastructure (ConfigMap sandbox-infra/infrastructure)."""

    fault_proxy_url: str
    load_balancer: bool  # whether the provider runs at all (--load-balancer)
    load_balancer_pools: dict[str, str]
    router_domain: str


def infrastructure_info(sandbox: RunningSandbox) -> InfrastructureInfo:
    data = sandbox.get("configmap", INFO, namespace=NAMESPACE)["data"]
    return InfrastructureInfo(data["faultProxyURL"], data["loadBalancer"] == "on",
                              json.loads(data["loadBalancerPools"]), data["routerDomain"])


def cluster_ca(sandbox: RunningSandbox) -> Path:
    config = json.loads(sandbox.kubeconfig.read_text())
    return Path(config["clusters"][0]["cluster"]["certificate-authority"])


class FaultProxy:
    """Tells the sandbox's fault proxy what to do, through the official client as the admin (context `faults`)."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.url = infrastructure_info(sandbox).fault_proxy_url
        self.ca_file = cluster_ca(sandbox)
        self.api = config.new_client_from_config(str(sandbox.kubeconfig), context=FAULTS_CONTEXT)

    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """kubectl through the proxy, as the admin; `check=False` to see a failure."""
        return self.sandbox.kubectl(*args, context=FAULTS_CONTEXT, **kwargs)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
             query: list[tuple[str, str]] | None = None, timeout: float = 30) -> dict[str, Any]:
        response = self.api.call_api(f"{CONTROL}{path}", method, query_params=query or [], body=body,
                                     header_params={"Content-Type": "application/json"},
                                     auth_settings=["BearerToken"], _return_http_data_only=True,
                                     _preload_content=False, _request_timeout=timeout)
        return raw(response)

    def add_rule(self, action: str, **fields: Any) -> dict[str, Any]:
        """E.g. `add_rule("status", method="GET", path="/namespaces$", status=429, retryAfter=1, count=2)`."""
        return self.call("POST", "/rules", {"action": action, **fields})

    def rules(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/rules")["rules"])

    def rule(self, rule_id: str) -> dict[str, Any]:
        return next(rule for rule in self.rules() if rule["id"] == rule_id)

    def clear(self) -> None:
        self.call("DELETE", "/rules")

    def last_seq(self) -> int:
        return int(self.call("GET", "/requests", query=[("since", "999999999")])["last"])

    def remove_rule(self, rule_id: str) -> None:
        self.call("DELETE", f"/rules/{rule_id}")

    def requests(self, since: int = 0, *, wait: float = 0) -> list[dict[str, Any]]:
        """The requests seen after `since`; with `wait`, answered once there is one (or `wait` s passed)."""
        query = [("since", str(since)), ("wait", str(wait))]
        return list(self.call("GET", "/requests", query=query, timeout=wait + 30)["requests"])

    def watches(self, *, after: int = 0, wait: float = 0) -> list[dict[str, Any]]:
        """The watches open now; with `wait`, answered once one with an id above `after` is (or `wait` s passed)."""
        query = [("after", str(after)), ("wait", str(wait))]
        return list(self.call("GET", "/watches", query=query, timeout=wait + 30)["watches"])

    def first(self, since: int, matches: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        """The first entry of the log after `since` that `matches`, waiting for it (the proxy answers when
        a request comes: no polling)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for entry in (entries := self.requests(since, wait=end - time.monotonic())):
                if matches(entry):
                    return entry
            since = max([since, *(entry["seq"] for entry in entries)])
        raise TimeoutError(f"no such request within {timeout:g}s")

    def answered(self, rule_id: str, since: int, timeout: float = 60) -> dict[str, Any]:
        """Waits until a request the rule applied to is in the log after `since` (a delayed one: forwarded and
        answered); its entry."""
        return self.first(since, lambda entry: entry["rule"] == rule_id, timeout)

    def held(self, *, wait: float = 0) -> list[dict[str, Any]]:
        """The requests a `delay` holds now; with `wait`, answered once there is one (or `wait` s passed)."""
        return list(self.call("GET", "/held", query=[("wait", str(wait))], timeout=wait + 30)["held"])

    def cut_watches(self, path: str | None = None, *, graceful: bool = False, wait: float = 10.0,
                    error: int | None = None) -> int:
        """Ends the watches on paths matching `path` (all without), waiting up to `wait` s for one to open;
        with `error` (410), gracefully after an ERROR event of that code."""
        body = {"path": path, "graceful": graceful, "waitSeconds": wait, "error": error}
        return int(self.call("POST", "/watches/cut", body, timeout=wait + 30)["cut"])


class LoadBalancerSwitch:
    """The run-time switch of a sandbox's load-balancer provider (read by it at each decision)."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        info = infrastructure_info(sandbox)
        if not info.load_balancer:
            raise RuntimeError("this sandbox runs no load balancer (--no-load-balancer): nothing to switch")
        self.pools = info.load_balancer_pools

    def set(self, enabled: bool) -> None:
        patch = json.dumps({"data": {"enabled": "true" if enabled else "false"}})
        self.sandbox.kubectl("patch", "configmap", SWITCH, "--type", "merge", "-p", patch, namespace=NAMESPACE)

    def on(self) -> None:
        self.set(True)

    def off(self) -> None:
        self.set(False)


def with_start_delay(vm: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The VM manifest with its template annotated so that its launcher pods start `seconds` late (kwok's
    pod-start Stage reads the pod's annotation as a Go duration; KubeVirt copies VMI annotations to the pod)."""
    template = vm["spec"]["template"]
    metadata = template.setdefault("metadata", {})
    metadata.setdefault("annotations", {})[START_DELAY_ANNOTATION] = f"{round(seconds * 1000)}ms"
    return vm


def wait_for_event(sandbox: RunningSandbox, namespace: str, name: str, reason: str, timeout: int = 30) -> str:
    """Lists, then watches the namespace's Events until one of `reason` about the object `name` exists; its
    message."""
    try:
        events = wait_until(f"a {reason} event about {namespace}/{name}", bool, time.monotonic() + timeout,
                            client.CoreV1Api(sandbox.api_client).list_namespaced_event, namespace,
                            field_selector=f"involvedObject.name={name},reason={reason}")
    except TimeoutError:
        raise AssertionError(f"no {reason} event about {namespace}/{name} within {timeout}s") from None
    return str(next(iter(events.values()))["message"]).strip()
