"""A small Kubernetes API client on the standard library, for the sandbox's simulated infrastructure
(load balancer, router): requests as one identity, list-then-watch with a cache, a delaying work queue.

No `kubernetes` import: these controllers start in a tenth of a second and stay small.
"""

from __future__ import annotations

import heapq
import http.client
import json
import logging
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG = logging.getLogger("kubeapi")
WATCH_SECONDS = 300  # the server ends each watch after this; the informer then watches again


class ApiError(Exception):
    def __init__(self, status: int, body: bytes, method: str, path: str) -> None:
        self.status, self.body = status, body
        super().__init__(f"{method} {path}: {status} {body[:300].decode(errors='replace')}")


@dataclass(frozen=True)
class Api:
    """One identity (a bearer token) on one API server, verified with the cluster CA."""

    server: str  # https://127.0.0.1:PORT
    ca_file: Path
    token: str
    user_agent: str = "sandbox-infrastructure"

    @classmethod
    def from_kubeconfig(cls, path: Path, user_agent: str) -> Api:
        """Reads the JSON kubeconfig that `ControlPlane.write_kubeconfig` writes for a token user."""
        config = json.loads(path.read_text())
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        return cls(cluster["server"], Path(cluster["certificate-authority"]), user["token"], user_agent)

    def _connection(self, timeout: float | None) -> http.client.HTTPSConnection:
        url = urllib.parse.urlsplit(self.server)
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return http.client.HTTPSConnection(url.hostname or "127.0.0.1", url.port, context=context, timeout=timeout)

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                   "User-Agent": self.user_agent}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
                timeout: float = 30) -> dict[str, Any]:
        """Sends one request; returns the decoded JSON answer, raises ApiError for any status >= 300."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        connection = self._connection(timeout)
        try:
            connection.request(method, path, body=data, headers=self._headers(content_type if data else None))
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        if response.status >= 300:
            raise ApiError(response.status, payload, method, path)
        return json.loads(payload) if payload else {}

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path)

    def watch(self, path: str, resource_version: str) -> Iterator[dict[str, Any]]:
        """The events of one watch from `resource_version`, until the server ends it."""
        query = urllib.parse.urlencode({"watch": "1", "resourceVersion": resource_version,
                                        "allowWatchBookmarks": "true", "timeoutSeconds": str(WATCH_SECONDS)})
        connection = self._connection(WATCH_SECONDS + 30)
        try:
            connection.request("GET", f"{path}?{query}", headers=self._headers(None))
            response = connection.getresponse()
            if response.status != 200:
                raise ApiError(response.status, response.read(), "WATCH", path)
            for line in response:
                if line.strip():
                    yield json.loads(line)
        finally:
            connection.close()


def key_of(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


Handler = Callable[[str, dict[str, Any]], None]  # (ADDED|MODIFIED|DELETED, object)


class Informer:
    """Lists a collection, then watches it from the list's version, as client-go's reflector does: relists
    when the version is gone (410) or the stream breaks, and reports objects that vanished in between as
    DELETED. Keeps the latest version of every object in `cache`; `synced` is set after the first list."""

    def __init__(self, api: Api, path: str, handler: Handler,
                 on_list: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
        self.api, self.path, self.handler, self.on_list = api, path, handler, on_list
        self.cache: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"informer {self.path}", daemon=True)
        thread.start()
        return thread

    def objects(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.cache.values())

    def run(self) -> None:
        while True:
            try:
                version = self._list()
                self.synced.set()
                while version:
                    version = self._watch(version)
            except (ApiError, OSError, ValueError) as error:  # ValueError: a cut stream's last line
                LOG.warning("%s: %s; listing again", self.path, error)
                time.sleep(1)

    def _list(self) -> str:
        listed = self.api.get(self.path)
        items = listed.get("items") or []
        fresh = {key_of(item): item for item in items}
        with self.lock:
            gone = [obj for key, obj in self.cache.items() if key not in fresh]
            self.cache = fresh
        if self.on_list:
            self.on_list(items)
        for obj in gone:
            self.handler("DELETED", obj)
        for item in items:
            self.handler("MODIFIED", item)
        return str(listed["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> str:
        """Watches until the server ends the stream; returns the version to go on from ("" to relist)."""
        try:
            for event in self.api.watch(self.path, version):
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    LOG.info("%s: watch ended: %s", self.path, obj.get("message"))
                    return ""
                version = obj["metadata"]["resourceVersion"]
                if kind == "BOOKMARK":
                    continue
                with self.lock:
                    if kind == "DELETED":
                        self.cache.pop(key_of(obj), None)
                    else:
                        self.cache[key_of(obj)] = obj
                self.handler(kind, obj)
        except ApiError as error:
            if error.status == 410:
                return ""
            raise
        return version


class DelayQueue:
    """Keys to work on, each due at a time; a key queued twice is worked on once, at the earlier time."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}
        self._count = 0
        self._ready = threading.Condition()

    def add(self, key: str, delay: float = 0.0) -> None:
        due = time.monotonic() + delay
        with self._ready:
            if key in self._due and self._due[key] <= due:
                return
            self._due[key] = due
            self._count += 1
            heapq.heappush(self._heap, (due, self._count, key))
            self._ready.notify()

    def get(self) -> str:
        """Blocks until a key is due, and returns it (keys come out in the order they fall due)."""
        with self._ready:
            while True:
                while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
                    heapq.heappop(self._heap)  # superseded by an earlier time for the same key
                if self._heap and self._heap[0][0] <= time.monotonic():
                    _, _, key = heapq.heappop(self._heap)
                    del self._due[key]
                    return key
                self._ready.wait(self._heap[0][0] - time.monotonic() if self._heap else None)


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record_event(api: Api, obj: dict[str, Any], kind: str, event_type: str, reason: str, message: str,
                 component: str) -> None:
    """A core/v1 Event about `obj`, as client-go's event recorder writes one."""
    meta = obj["metadata"]
    stamp = now_rfc3339()
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {"apiVersion": obj.get("apiVersion", "v1"), "kind": kind, "namespace": meta["namespace"],
                           "name": meta["name"], "uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
        "type": event_type, "reason": reason, "message": message, "count": 1,
        "firstTimestamp": stamp, "lastTimestamp": stamp,
        "source": {"component": component}, "reportingComponent": component,
    }
    try:
        api.request("POST", f"/api/v1/namespaces/{meta['namespace']}/events", event)
    except ApiError as error:  # e.g. the namespace is being deleted
        LOG.info("event %s on %s not recorded: %s", reason, key_of(obj), error)
