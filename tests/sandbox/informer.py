"""What the sandbox's simulated controllers (virt-handler, load balancer, router) share, on the official
Python client: a client as one identity, list-then-watch with a cache as client-go's informers do, a
delaying work queue, Events as client-go's recorder writes them.

Objects are plain dicts (raw JSON, `_preload_content=False` and `deserialize=False`): the controllers read
a few fields, and the typed models refuse some valid objects (an EndpointSlice with no endpoints).
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

LOG = logging.getLogger("informer")
WATCH_SECONDS = 300  # the server ends each watch after this; the informer then watches again
# What a broken connection or stream raises: the client's errors, the transport's, and a cut last line's.
TRANSIENT = (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError)

Handler = Callable[[str, dict[str, Any]], None]  # (ADDED|MODIFIED|DELETED, object)


def api_client(kubeconfig: Path, user_agent: str) -> client.ApiClient:
    """A client as the kubeconfig's user, with its own user agent, so that tests counting requests in the
    audit log (tests/sandbox/audit.py) tell the simulation's requests from theirs."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    api.user_agent = user_agent
    return api


def raw(response: Any) -> dict[str, Any]:
    """The JSON body of a response asked for with `_preload_content=False`."""
    return dict(json.loads(response.data)) if response.data else {}


def key_of(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])


class Informer:
    """Lists a collection, then watches it from the list's version, as client-go's reflector does: relists
    when the version is gone (410) or the stream breaks, and reports objects that vanished in between as
    DELETED (and every listed object as MODIFIED). Keeps the latest version of every object in `cache`;
    `synced` is set after the first list.

    `list_function(*args, **kwargs)` is a list method of the official client, e.g.
    `CoreV1Api.list_service_for_all_namespaces` or `CustomObjectsApi.list_cluster_custom_object`."""

    def __init__(self, handler: Handler, list_function: Callable[..., Any], *args: Any,
                 on_list: Callable[[list[dict[str, Any]]], None] | None = None, **kwargs: Any) -> None:
        self.handler, self.on_list = handler, on_list
        self.list_function, self.args, self.kwargs = list_function, args, kwargs
        self.cache: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()

    @property
    def name(self) -> str:
        return f"{self.list_function.__name__}{self.args or ''}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"informer {self.name}", daemon=True)
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
            except TRANSIENT as error:
                LOG.warning("%s: %s; listing again", self.name, error)
                time.sleep(1)

    def _list(self) -> str:
        listed = raw(self.list_function(*self.args, **self.kwargs, _preload_content=False))
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
            for event in watch.Watch().stream(
                    self.list_function, *self.args, **self.kwargs, resource_version=version,
                    allow_watch_bookmarks=True, timeout_seconds=WATCH_SECONDS, deserialize=False,
                    _request_timeout=WATCH_SECONDS + 30):
                kind, obj = event["type"], event["object"]
                version = obj["metadata"]["resourceVersion"]
                if kind == "BOOKMARK":
                    continue
                with self.lock:
                    if kind == "DELETED":
                        self.cache.pop(key_of(obj), None)
                    else:
                        self.cache[key_of(obj)] = obj
                self.handler(kind, obj)
        except ApiException as error:  # the stream's ERROR event: 410 when the version is too old
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


def record_event(api: client.ApiClient, obj: dict[str, Any], kind: str, event_type: str, reason: str,
                 message: str, component: str) -> None:
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
        client.CoreV1Api(api).create_namespaced_event(meta["namespace"], event, _preload_content=False)
    except ApiException as error:  # e.g. the namespace is being deleted
        LOG.info("event %s on %s not recorded: %s %s", reason, key_of(obj), error.status, error.reason)
