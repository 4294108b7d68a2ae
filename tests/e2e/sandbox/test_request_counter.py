"""The request counter (tests/sandbox/audit.py, fixture `requests_made`): the requests a command made, as the
API server's audit log records them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sandbox.audit import Request, RequestCounter
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

VM = "/apis/kubevirt.io/v1/namespaces/example-namespace/virtualmachines/example-vm"


def test_requests_of_kubectl_get_vm(sandbox: RunningSandbox, requests_made: RequestCounter, tmp_path: Path) -> None:
    """kubectl 1.37 discovers with two requests (aggregated discovery: /api for the core group, /apis for all
    the others, KubeVirt's and virt-api's aggregated group included) and then GETs the VM. With its discovery
    cache warm it still revalidates both documents (HTTP cache: 304 Not Modified) before the GET."""

    def get_vm() -> list[str]:
        sandbox.kubectl("get", "vm", "example-vm", "-n", "example-namespace", "--cache-dir", str(tmp_path))
        requests = requests_made.requests(user_agent="kubectl/")
        assert {r.user for r in requests} == {"sandbox-admin"}
        return [f"{r.verb} {r.uri} {r.code}" for r in requests]

    assert get_vm() == ["get /api?timeout=32s 200", "get /apis?timeout=32s 200", f"get {VM} 200"]
    requests_made.start()
    assert get_vm() == ["get /api?timeout=32s 304", "get /apis?timeout=32s 304", f"get {VM} 200"]


def test_requests_by_time_window_and_user(sandbox: RunningSandbox, requests_made: RequestCounter) -> None:
    user = "system:serviceaccount:example-namespace:restricted"
    first_window = requests_made.started
    sandbox.kubectl("get", "pods", context="restricted")
    second_window = requests_made.start()
    sandbox.kubectl("get", "services", context="restricted")

    def resources(requests: list[Request]) -> list[str]:
        assert {(r.user, r.user_agent.split("/")[0]) for r in requests} == {(user, "kubectl")}
        return [f"{r.verb} {r.path} {r.code}" for r in requests if r.path not in ("/api", "/apis")]

    assert resources(requests_made.requests(user=user, since=first_window, until=second_window.time)) == [
        "list /api/v1/namespaces/example-namespace/pods 200"]
    assert resources(requests_made.requests(user=user)) == ["list /api/v1/namespaces/example-namespace/services 200"]
