"""`ui.printer`: change lines, `-o` documents, the summary, warnings and progress, on injected streams."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import pytest
import yaml

from oc_virt_expose.model.settings import DryRun, OutputFormat
from oc_virt_expose.ui.printer import Printer, format_change, format_object, format_progress, reach_lines
from tests.unit.builders import vm

SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "example-service", "namespace": "example-namespace"},
    "spec": {
        "type": "NodePort",
        "clusterIP": "10.96.0.12",
        "clusterIPs": ["10.96.0.12"],
        "selector": {"special": "key"},
        "ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376, "nodePort": 30000}],
    },
}
VM = vm()


def test_change_lines_as_kubectl() -> None:
    assert format_change("virtualmachine.kubevirt.io", "example-vm", "labeled") == \
        "virtualmachine.kubevirt.io/example-vm labeled"
    assert format_change("service", "example-service", "created", DryRun.CLIENT) == \
        "service/example-service created (dry run)"
    assert format_change("service", "example-service", "unchanged", DryRun.SERVER) == \
        "service/example-service unchanged (server dry run)"


def test_documents() -> None:
    assert format_object(SERVICE, OutputFormat.NAME) == "service/example-service\n"
    assert format_object(VM, OutputFormat.NAME) == "virtualmachine.kubevirt.io/example-vm\n"
    assert json.loads(format_object(SERVICE, OutputFormat.JSON)) == SERVICE
    assert format_object(SERVICE, OutputFormat.JSON).startswith('{\n    "apiVersion": "v1"')
    yaml_text = format_object(SERVICE, OutputFormat.YAML)
    assert yaml_text.startswith("apiVersion: v1\nkind: Service\nmetadata:\n")
    assert "    targetPort: 9376\n" in yaml_text


def test_reach_lines_node_port() -> None:
    assert reach_lines(SERVICE, ["192.168.1.10", "fd00::1"]) == [
        "Inside the cluster: example-service.example-namespace.svc on 80/TCP (cluster IP 10.96.0.12)",
        "From outside the cluster: node port 30000/TCP of every node, e.g. 192.168.1.10:30000, [fd00::1]:30000",
    ]
    assert reach_lines(SERVICE)[1] == "From outside the cluster: node port 30000/TCP of every node"


def test_reach_lines_dual_stack_headless_external() -> None:
    dual = {**SERVICE, "spec": {**SERVICE["spec"], "type": "ClusterIP", "clusterIPs": ["10.96.0.12", "fd00::12"],
                                "externalIPs": ["198.51.100.1"]}}
    assert reach_lines(dual) == [
        "Inside the cluster: example-service.example-namespace.svc on 80/TCP (cluster IP 10.96.0.12, fd00::12)",
        "External IP: 198.51.100.1:80",
    ]
    headless = {**SERVICE, "spec": {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}}
    assert reach_lines(headless) == [
        "Inside the cluster: example-service.example-namespace.svc on any port (headless: the name resolves "
        "to the VM's pod)"]


def test_reach_lines_load_balancer() -> None:
    pending = {**SERVICE, "spec": {**SERVICE["spec"], "type": "LoadBalancer"}}
    assert "address pending" in reach_lines(pending)[-1]
    assert "MetalLB" in reach_lines(pending)[-1]
    ready = {**pending, "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}, {"hostname": "lb.example"}]}}}
    assert reach_lines(ready)[-1] == "Load balancer: 203.0.113.7:80, lb.example:80"


def printer(**kwargs: Any) -> tuple[Printer, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Printer(out, err, **kwargs), out, err


def test_printer_without_output_format() -> None:
    p, out, err = printer(dry_run=DryRun.CLIENT)
    p.change("virtualmachine.kubevirt.io", "example-vm", "labeled")
    p.object(SERVICE)  # no -o: nothing
    p.warning("selector also matches pod other-vm")
    p.summary(SERVICE)
    assert out.getvalue().splitlines() == [
        "virtualmachine.kubevirt.io/example-vm labeled (dry run)",
        "Inside the cluster: example-service.example-namespace.svc on 80/TCP (cluster IP 10.96.0.12)",
        "From outside the cluster: node port 30000/TCP of every node",
        "HTTP: http://<node address>:30000/",
        "HTTP inside the cluster: http://example-service.example-namespace.svc/",
    ]
    assert err.getvalue() == "Warning: selector also matches pod other-vm\n"


def test_printer_always_object_prints_yaml() -> None:
    p, out, _ = printer()
    p.object(VM, always=True)
    p.object(SERVICE, always=True)
    assert out.getvalue().startswith("apiVersion: kubevirt.io/v1\n")
    assert "\n---\napiVersion: v1\n" in out.getvalue()


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_printer_with_output_keeps_stdout_machine_readable(fmt: OutputFormat) -> None:
    p, out, err = printer(output=fmt)
    p.change("service", "example-service", "created")
    p.info("the Service serves once the VM starts")
    p.object(SERVICE)
    p.summary(SERVICE)
    assert out.getvalue() == format_object(SERVICE, fmt)
    assert err.getvalue() == "service/example-service created\nthe Service serves once the VM starts\n"


def test_progress_frames() -> None:
    assert format_progress("waiting for a ready endpoint", 12.4, 0) == "- waiting for a ready endpoint (12s)"
    assert format_progress("x", 0, 1).startswith("\\ ")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_cleared() -> None:
    out, err = io.StringIO(), FakeTerminal()
    p = Printer(out, err, clock=iter([0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0] * 100).__next__)
    assert p.show_progress
    with p.progress("waiting") as update:
        update("still waiting")
    assert err.getvalue().startswith("\r\x1b[K- waiting (0s)")
    assert err.getvalue().endswith("\r\x1b[K")
    assert out.getvalue() == ""
    assert not Printer(out, FakeTerminal(), output=OutputFormat.YAML).show_progress
    quiet_err = io.StringIO()
    with Printer(out, quiet_err).progress("waiting") as update:
        update("x")
    assert quiet_err.getvalue() == ""


def test_a_warning_during_progress_replaces_the_spinner_line() -> None:
    err = FakeTerminal()
    p = Printer(io.StringIO(), err, clock=lambda: 0.0)
    with p.progress("waiting"):
        p.warning("selector also matches pod other-vm")
    assert "\r\x1b[KWarning: selector also matches pod other-vm\n" in err.getvalue()


class SlowStream(io.StringIO):
    """stdout that gives the other threads a turn at each write, as a pipe to a slow reader does."""

    def write(self, text: str) -> int:
        time.sleep(0.001)
        return super().write(text)


def test_documents_printed_from_several_threads_stay_apart() -> None:
    """A batch prints each VM's Service from its own thread: every document is whole, one `---` between two."""
    out = SlowStream()
    printer = Printer(out, io.StringIO(), output=OutputFormat.YAML)
    services = [{"kind": "Service", "metadata": {"name": f"vm-{number}"}} for number in range(8)]
    threads = [threading.Thread(target=printer.object, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    documents = list(yaml.safe_load_all(out.getvalue()))
    assert sorted(document["metadata"]["name"] for document in documents) == [f"vm-{n}" for n in range(8)]
