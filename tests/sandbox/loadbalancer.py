"""The simulated load-balancer provider: gives LoadBalancer Services an address, as MetalLB's controller does.

A Service of type LoadBalancer with no `spec.loadBalancerClass` gets, a short delay after it appears, one
address per IP family it has (`spec.ipFamilies`, in that order) from that family's pool, written to
`status.loadBalancer.ingress` through the status subresource, as this controller's own ServiceAccount.
`spec.loadBalancerIP` is honoured when it is in the pool and free; otherwise the Service stays pending with
a Warning event `AllocationFailed`, as MetalLB reports it. Addresses are released when the Service is
deleted or stops being a LoadBalancer (the API server then clears its status itself).

The pools are documentation ranges: nothing is ever sent to them, they only fill the status.

Run-time switch: the ConfigMap `sandbox-infra/load-balancer`, key `enabled` ("true"/"false"). It is read at
each decision (so a test that switched it off and then created a Service finds it pending), and watched, so
that switching it on serves the Services left pending meanwhile. Addresses already given stay.

Run as `python -m tests.sandbox.loadbalancer --kubeconfig K --ready-file F`.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox.informer import TRANSIENT, DelayQueue, Informer, api_client, key_of, raw, record_event

LOG = logging.getLogger("load-balancer")
POOLS = {"IPv4": "198.51.100.0/24", "IPv6": "2001:db8:1::/64"}
NAMESPACE = "sandbox-infra"
SWITCH = "load-balancer"  # ConfigMap
SERVICE_ACCOUNT = "load-balancer-controller"
COMPONENT = "sandbox-load-balancer"
DEFAULT_DELAY = 0.5  # seconds between a Service's appearance and its address
Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class AllocationFailed(Exception):
    pass


def family_of(ip: str) -> str:
    return "IPv4" if ipaddress.ip_address(ip).version == 4 else "IPv6"


class Allocator:
    """Which Service holds which pool address."""

    def __init__(self, pools: dict[str, str]) -> None:
        self.pools = {family: ipaddress.ip_network(cidr) for family, cidr in pools.items()}
        self.owners: dict[str, str] = {}  # address -> Service key

    def in_pool(self, ip: str) -> bool:
        try:
            return any(ipaddress.ip_address(ip) in pool for pool in self.pools.values())
        except ValueError:
            return False

    def held_by(self, key: str) -> dict[str, str]:
        """The addresses `key` holds, by family."""
        return {family_of(ip): ip for ip, owner in self.owners.items() if owner == key}

    def claim(self, key: str, ip: str) -> None:
        owner = self.owners.get(ip)
        if owner not in (None, key):
            raise AllocationFailed(f"{ip} is already in use by {owner}")
        self.owners[ip] = key

    def release(self, key: str, keep: frozenset[str] = frozenset()) -> None:
        for ip in [ip for ip, owner in self.owners.items() if owner == key and ip not in keep]:
            del self.owners[ip]

    def _hosts(self, family: str) -> Iterator[Address]:
        pool = self.pools[family]
        first = pool.network_address + 1
        last = pool.broadcast_address - (1 if pool.version == 4 else 0)
        address = first
        while address <= last:
            yield address
            address += 1

    def allocate(self, key: str, family: str, requested: str | None) -> str:
        """The address for `key` in `family`: the requested one, else the one it holds, else the lowest free."""
        if family not in self.pools:
            raise AllocationFailed(f"no pool for {family}")
        if requested:
            if not self.in_pool(requested):
                raise AllocationFailed(f"{requested} is not in any pool ({', '.join(map(str, self.pools.values()))})")
            self.claim(key, requested)
            return requested
        held = self.held_by(key).get(family)
        if held:
            return held
        for address in self._hosts(family):
            if str(address) not in self.owners:
                self.claim(key, str(address))
                return str(address)
        raise AllocationFailed(f"no available IPs in {self.pools[family]}")


def wants_address(service: dict[str, Any] | None) -> bool:
    if service is None or service["metadata"].get("deletionTimestamp"):
        return False
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def status_ips(service: dict[str, Any]) -> list[str]:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [entry["ip"] for entry in ingress if entry.get("ip")]


def requested_ips(service: dict[str, Any]) -> dict[str, str]:
    """`spec.loadBalancerIP` (deprecated, still what `kubectl expose --load-balancer-ip` sets), by family."""
    wanted = (service.get("spec") or {}).get("loadBalancerIP") or ""
    try:
        return {family_of(wanted): wanted} if wanted else {}
    except ValueError:
        return {"invalid": wanted}


class LoadBalancerController:
    def __init__(self, api: client.ApiClient, delay: float, pools: dict[str, str]) -> None:
        self.api, self.core, self.delay = api, client.CoreV1Api(api), delay
        self.allocator = Allocator(pools)
        self.queue = DelayQueue()
        self.failures: dict[str, str] = {}  # key -> last AllocationFailed message, to report each once
        self.services = Informer(self.on_service, self.core.list_service_for_all_namespaces, on_list=self.adopt)
        self.switch = Informer(self.on_switch, self.core.list_namespaced_config_map, NAMESPACE,
                               field_selector=f"metadata.name={SWITCH}")
        self.was_enabled = True
        self.lock = threading.Lock()  # the allocator: the worker's, and the informer's when it (re)lists

    def adopt(self, services: list[dict[str, Any]]) -> None:
        """Addresses found in Service statuses are held by those Services (after a restart of this controller)."""
        with self.lock:
            self._adopt(services)

    def _adopt(self, services: list[dict[str, Any]]) -> None:
        for service in services:
            if wants_address(service):
                for ip in status_ips(service):
                    if self.allocator.in_pool(ip) and ip not in self.allocator.owners:
                        self.allocator.owners[ip] = key_of(service)

    def on_service(self, kind: str, service: dict[str, Any]) -> None:
        if kind == "DELETED" or not wants_address(service):
            self.queue.add(key_of(service))  # release at once
        else:
            self.queue.add(key_of(service), self.delay)

    def on_switch(self, kind: str, config_map: dict[str, Any]) -> None:
        enabled = kind != "DELETED" and (config_map.get("data") or {}).get("enabled", "true") == "true"
        if enabled and not self.was_enabled:
            LOG.info("switched on")
            for service in self.services.objects():
                if wants_address(service):
                    self.queue.add(key_of(service), self.delay)
        elif not enabled and self.was_enabled:
            LOG.info("switched off")
        self.was_enabled = enabled

    def enabled(self) -> bool:
        """Read now, not from the watch: whoever switched it off before creating a Service is obeyed."""
        try:
            config_map = raw(self.core.read_namespaced_config_map(SWITCH, NAMESPACE, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        return (config_map.get("data") or {}).get("enabled", "true") == "true"

    def run(self, ready_file: Path | None) -> None:
        self.services.start()
        self.switch.start()
        self.services.synced.wait()
        self.switch.synced.wait()
        if ready_file:
            ready_file.touch()
        LOG.info("serving pools %s", ", ".join(self.allocator.pools[f].with_prefixlen for f in self.allocator.pools))
        while True:
            key = self.queue.get()
            try:
                with self.lock:
                    self.reconcile(key)
            except TRANSIENT as error:
                LOG.warning("%s: %s; again in 1s", key, error)
                self.queue.add(key, 1.0)

    def reconcile(self, key: str) -> None:
        with self.services.lock:
            service = self.services.cache.get(key)
        if not wants_address(service):
            self.release(key)
            return
        assert service is not None
        if not self.enabled():
            return
        try:
            ips = self.assign(key, service)
        except AllocationFailed as error:
            self.report_failure(key, service, str(error))
            return
        self.failures.pop(key, None)
        if status_ips(service) != ips:
            self.write_status(service, ips)

    def release(self, key: str) -> None:
        """Frees what `key` held; the Services that could not get an address try again."""
        held = self.allocator.held_by(key)
        self.allocator.release(key)
        self.failures.pop(key, None)
        if held:
            for waiting in list(self.failures):
                self.queue.add(waiting)

    def assign(self, key: str, service: dict[str, Any]) -> list[str]:
        requested = requested_ips(service)
        if "invalid" in requested:
            raise AllocationFailed(f"invalid loadBalancerIP {requested['invalid']!r}")
        families = (service.get("spec") or {}).get("ipFamilies") or ["IPv4"]
        if requested and not set(requested) & set(families):
            raise AllocationFailed(f"loadBalancerIP {next(iter(requested.values()))} is not of the Service's "
                                   f"IP families {families}")
        ips = [self.allocator.allocate(key, family, requested.get(family)) for family in families]
        self.allocator.release(key, keep=frozenset(ips))
        return ips

    def report_failure(self, key: str, service: dict[str, Any], reason: str) -> None:
        self.allocator.release(key, keep=frozenset(status_ips(service)))
        if self.failures.get(key) == reason:
            return
        self.failures[key] = reason
        LOG.info("%s: %s", key, reason)
        record_event(self.api, service, "Service", "Warning", "AllocationFailed",
                     f'Failed to allocate IP for "{key}": {reason}', COMPONENT)

    def write_status(self, service: dict[str, Any], ips: list[str]) -> None:
        meta = service["metadata"]
        updated = {**service, "status": {**(service.get("status") or {}),
                                         "loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}
        try:
            self.core.replace_namespaced_service_status(meta["name"], meta["namespace"], updated,
                                                        _preload_content=False)
        except ApiException as error:
            if error.status in (404, 409):  # gone, or changed: the watch brings the news
                return
            raise
        LOG.info("%s/%s: %s", meta["namespace"], meta["name"], ", ".join(ips))
        record_event(self.api, service, "Service", "Normal", "IPAllocated", f"Assigned IP {json.dumps(ips)}", COMPONENT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True, help="the controller's ServiceAccount")
    parser.add_argument("--ready-file", type=Path, help="touched once the first lists are done")
    parser.add_argument("--delay", type=float, default=DEFAULT_DELAY, help="seconds before an address is given")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    threading.current_thread().name = COMPONENT
    LoadBalancerController(api_client(args.kubeconfig, COMPONENT), args.delay, POOLS).run(args.ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
