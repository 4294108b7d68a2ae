"""Odd but valid input through `kubectl virt-expose`, each exposed (and verified), listed, and deleted:
VM names at and past 63 characters (KubeVirt hashes `vmi.kubevirt.io/id` past 63; a VM name may have 253,
but KubeVirt starts only those whose launcher pod's generateName `virt-launcher-NAME-` the API server
accepts, so a running VM has at most 239), names with dots, names that are keywords of label selectors (`in`, `notin`)
or scalars in YAML (`true`, `null`, `yes`), labels at every length limit, and a namespace of 200 VMs,
whose completion and `list` stay fast (figures in the assertion messages)."""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from oc_virt_expose.cli.completion import BUDGET_VARIABLE
from tests.e2e.plugin_runs import Result, audited
from tests.e2e.workloads import (
    as_if_before_kubevirt_1_7,
    create_vm,
    launcher_pod,
    service_or_none,
    template_labels,
)
from tests.sandbox.audit import RequestCounter
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import VENV_BIN, RunningSandbox

pytestmark = pytest.mark.sandbox

VMI_ID = "vmi.kubevirt.io/id"
DOMAIN = "kubevirt.io/domain"
# The API server checks a generateName with its trailing "-" and the character before it as one character:
# "virt-launcher-" + 239 characters + "-" passes as 253 characters, one more is refused (measured).
LONGEST_RUNNING_NAME = 253 - len("virt-launcher-")
MANY = 200
TIMED_RUNS = 5


def name_of_length(length: int, stem: str = "vm") -> str:
    """A DNS-1123 subdomain of `length` characters: labels of 63 characters (the last one shorter), dots
    between them."""
    label = (stem + "-" + "x" * 63)[:63]
    name = ".".join([label] * (length // 63 + 1))[:length]
    return name[:-2] + ".z" if name.endswith(".") else name


def kubevirt_vmi_id(name: str) -> str:
    """KubeVirt's own rule (pkg/apimachinery CalculateVirtualMachineInstanceID), written out again here so
    that the plugin's copy is checked against it, not against itself."""
    return name if len(name) <= 63 else f"{name[:54]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def listed(virt_expose: Callable[..., Result], namespace: str, *names: str) -> list[dict[str, Any]]:
    """`list vm NAMES -o yaml`, parsed: one Exposure per VM."""
    result = virt_expose("list", "vm", *names, "-n", namespace, "-o", "yaml")
    assert result.code == 0 and not result.stderr, result
    return list(yaml.safe_load(result.stdout)["items"])


def assert_exposed_listed_and_deleted(sandbox: RunningSandbox, virt_expose: Callable[..., Result], namespace: str,
                                      vm: str, service: str, selector: dict[str, str], *, ready: int) -> None:
    """`list` shows the VM's Service with that selector and `ready` endpoints; `delete` removes the Service
    and gives the template's labels back."""
    [exposure] = listed(virt_expose, namespace, vm)
    assert exposure["metadata"]["name"] == vm
    [shown] = exposure["services"]
    assert (shown["name"], shown["selector"], shown["madeByVirtExpose"]) == (service, selector, True)
    assert shown["endpoints"]["ready"] == ready
    deleted = virt_expose("delete", "vm", vm, "-n", namespace)
    assert deleted.code == 0, deleted
    assert f'service "{service}" deleted' in deleted.stdout
    assert service_or_none(sandbox, namespace, service) is None
    assert not set(selector) & set(template_labels(sandbox, namespace, vm))


@pytest.mark.parametrize("length", [63, 64, 100, LONGEST_RUNNING_NAME])
def test_a_running_vm_named_up_to_the_longest_kubevirt_starts(sandbox: RunningSandbox, namespace: str,
                                                               virt_expose, length: int) -> None:
    """Past 63 characters the pod's `vmi.kubevirt.io/id` is KubeVirt's hash of the name; the Service takes
    the name cut to 63 characters (given with --name when the cut ends in a dot)."""
    vm = name_of_length(length)
    create_vm(sandbox, namespace, vm_manifest(vm))
    pod = launcher_pod(sandbox, namespace, vm)
    assert pod["metadata"]["labels"][VMI_ID] == kubevirt_vmi_id(vm)
    service = vm[:63].rstrip(".")
    result = virt_expose("vm", vm, "--port", "80", "--name", service, "-n", namespace)
    assert result.code == 0, result
    assert f"service/{service} verified: 1 ready endpoint {pod['status']['podIP']}:80" in result.stdout
    created = sandbox.get("service", service, namespace=namespace)
    assert created["spec"]["selector"] == {VMI_ID: kubevirt_vmi_id(vm)}
    assert created["metadata"]["labels"]["virt-expose.kubevirt.io/vm"] == kubevirt_vmi_id(vm)
    assert created["metadata"]["annotations"]["virt-expose.kubevirt.io/exposes"] == f"virtualmachine.kubevirt.io/{vm}"
    assert_exposed_listed_and_deleted(sandbox, virt_expose, namespace, vm, service, {VMI_ID: kubevirt_vmi_id(vm)},
                                      ready=1)


def test_a_long_name_is_labelled_live_with_its_hash(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    """A pod from before KubeVirt 1.7 lacks the id: the template label `kubevirt.io/domain` takes the same hash
    (a label value has at most 63 characters), put live on the VMI and the pod."""
    vm = name_of_length(100)
    create_vm(sandbox, namespace, vm_manifest(vm))
    pod = as_if_before_kubevirt_1_7(sandbox, namespace, vm)
    service = vm[:63]
    result = virt_expose("vm", vm, "--port", "80", "-n", namespace)
    assert result.code == 0, result
    hashed = {DOMAIN: kubevirt_vmi_id(vm)}
    assert f"service/{service} verified: 1 ready endpoint" in result.stdout
    assert template_labels(sandbox, namespace, vm) == hashed
    assert sandbox.get("vmi", vm, namespace=namespace)["metadata"]["labels"][DOMAIN] == hashed[DOMAIN]
    assert launcher_pod(sandbox, namespace, vm)["metadata"]["labels"][DOMAIN] == hashed[DOMAIN]
    assert_exposed_listed_and_deleted(sandbox, virt_expose, namespace, vm, service, hashed, ready=1)
    assert DOMAIN not in launcher_pod(sandbox, namespace, vm)["metadata"]["labels"]
    assert pod["metadata"]["name"] == launcher_pod(sandbox, namespace, vm)["metadata"]["name"]  # no restart


@pytest.mark.parametrize("length", [63, 253])
def test_a_stopped_vm_of_the_longest_names_is_exposed_by_its_template(sandbox: RunningSandbox, namespace: str,
                                                                      virt_expose, length: int) -> None:
    vm = name_of_length(length)
    create_vm(sandbox, namespace, vm_manifest(vm, running=False))
    service = vm[:63].rstrip(".")
    result = virt_expose("vm", vm, "--port", "80", "--name", service, "-n", namespace)
    assert result.code == 0, result
    selector = {DOMAIN: kubevirt_vmi_id(vm)}
    assert f"its selector {DOMAIN}={selector[DOMAIN]} matches the VM's template" in result.stdout
    assert template_labels(sandbox, namespace, vm) == selector
    assert_exposed_listed_and_deleted(sandbox, virt_expose, namespace, vm, service, selector, ready=0)


def test_the_services_name_from_a_name_with_dots_or_a_digit_first_must_be_given(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    """A VM name is a DNS subdomain, a Service name a DNS label starting with a letter: a usage error says to
    give --name, before any request; with it, the VM is exposed (its id label keeps the dots)."""
    create_vm(sandbox, namespace, vm_manifest("web.example.com"))
    create_vm(sandbox, namespace, vm_manifest("1st", running=False))
    for vm in ("web.example.com", "1st"):
        refused = virt_expose("vm", vm, "--port", "80", "-n", namespace)
        assert refused.code == 2 and not refused.requests, refused
        assert f'the Service name would be "{vm}", from the object\'s name' in refused.stderr
        assert "give --name" in refused.stderr
    result = virt_expose("vm", "web.example.com", "--port", "80", "--name", "web", "--route", "-n", namespace)
    assert result.code == 0, result
    assert "service/web verified: 1 ready endpoint" in result.stdout
    assert f"Route: http://web-{namespace}.apps.sandbox.example\n" in result.stdout
    assert sandbox.get("service", "web", namespace=namespace)["spec"]["selector"] == {VMI_ID: "web.example.com"}
    assert_exposed_listed_and_deleted(sandbox, virt_expose, namespace, "web.example.com", "web",
                                      {VMI_ID: "web.example.com"}, ready=1)
    first = virt_expose("vm", "1st", "--port", "80", "--name", "first", "-n", namespace)
    assert first.code == 0, first
    assert_exposed_listed_and_deleted(sandbox, virt_expose, namespace, "1st", "first", {DOMAIN: "1st"}, ready=0)


def test_names_that_are_selector_keywords_share_one_watch(sandbox: RunningSandbox, namespace: str,
                                                          virt_expose) -> None:
    """Several Services are watched with `kubernetes.io/service-name in (in,notin)`: the API server reads
    the keywords as values there."""
    for vm in ("in", "notin"):
        create_vm(sandbox, namespace, vm_manifest(vm))
    result = virt_expose("vm", "in", "notin", "--port", "80", "-n", namespace)
    assert result.code == 0, result
    assert result.verbs().count("WATCH endpointslices") == 1
    for vm in ("in", "notin"):
        assert f"service/{vm} verified: 1 ready endpoint" in result.stdout
        assert_exposed_listed_and_deleted(sandbox, virt_expose, namespace, vm, vm, {VMI_ID: vm}, ready=1)


def test_names_that_yaml_reads_as_other_types_stay_strings(sandbox: RunningSandbox, namespace: str,
                                                           virt_expose) -> None:
    names = ("true", "null", "yes", "0x1f")
    for vm in names:
        create_vm(sandbox, namespace, vm_manifest(vm, running=False))
    result = virt_expose("vm", "true", "null", "yes", "--port", "80", "-n", namespace, "-o", "yaml")
    assert result.code == 0, result
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert sorted(doc["metadata"]["name"] for doc in documents) == ["null", "true", "yes"]
    assert all(doc["spec"]["selector"] == {DOMAIN: doc["metadata"]["name"]} for doc in documents)
    hexadecimal = virt_expose("vm", "0x1f", "--port", "80", "--name", "hex", "-n", namespace, "-o", "yaml")
    assert hexadecimal.code == 0, hexadecimal
    assert yaml.safe_load(hexadecimal.stdout)["spec"]["selector"] == {DOMAIN: "0x1f"}
    exposures = {item["metadata"]["name"]: item for item in listed(virt_expose, namespace)}
    assert sorted(exposures) == sorted(names)
    assert exposures["0x1f"]["services"][0]["name"] == "hex"
    for vm, service in (("true", "true"), ("null", "null"), ("yes", "yes"), ("0x1f", "hex")):
        assert_exposed_listed_and_deleted(sandbox, virt_expose, namespace, vm, service, {DOMAIN: vm}, ready=0)


def test_labels_at_every_length_limit(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    """A selector key with a 253-character prefix and a 63-character name, a 63-character value, Service
    labels of 63 characters, a 63-character Service name and a field manager of the longest the API server
    takes (128 bytes with `:<service>`), on a running VM labelled live."""
    prefix = name_of_length(253, "labels.example")
    key, value = f"{prefix}/{'k' * 62}z", "v" * 63
    service = "s" * 63
    manager = "m" * (128 - 1 - len(service))
    create_vm(sandbox, namespace, vm_manifest("edge"))
    as_if_before_kubevirt_1_7(sandbox, namespace, "edge")
    result = virt_expose("vm", "edge", "--port", "80", "--selector", f"{key}={value}", "--name", service,
                         "--labels", f"{key}={value},team={'t' * 63}", "--field-manager", manager, "-n", namespace)
    assert result.code == 0, result
    assert f"service/{service} verified: 1 ready endpoint" in result.stdout
    created = sandbox.get("service", service, namespace=namespace)
    assert created["spec"]["selector"] == {key: value}
    assert created["metadata"]["labels"][key] == value and created["metadata"]["labels"]["team"] == "t" * 63
    pod = launcher_pod(sandbox, namespace, "edge")["metadata"]["name"]
    for kind, name in (("vmi", "edge"), ("pod", pod)):
        obj = json.loads(sandbox.kubectl("get", kind, name, "-o", "json", "--show-managed-fields",
                                         namespace=namespace).stdout)
        assert obj["metadata"]["labels"][key] == value
        assert f"{manager}:{service}" in [entry["manager"] for entry in obj["metadata"]["managedFields"]]
    assert template_labels(sandbox, namespace, "edge") == {key: value}
    assert_exposed_listed_and_deleted(sandbox, virt_expose, namespace, "edge", service, {key: value}, ready=1)
    assert key not in launcher_pod(sandbox, namespace, "edge")["metadata"]["labels"]


def timed(command: list[str], env: dict[str, str], runs: int = TIMED_RUNS) -> tuple[float, list[str]]:
    """The median seconds of `runs` runs, and the stdout lines of each."""
    seconds, outputs = [], []
    for _ in range(runs):
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        seconds.append(time.monotonic() - started)
        outputs.append(done.stdout)
    return statistics.median(seconds), outputs


def test_two_hundred_vms_complete_and_list_fast(sandbox: RunningSandbox, namespace: str, virt_expose,
                                                requests_made: RequestCounter) -> None:
    names = [f"vm-{number:03d}" for number in range(MANY)]
    sandbox.apply({"apiVersion": "v1", "kind": "List", "items": [vm_manifest(name, running=False) for name in names]},
                  namespace)
    exposed = virt_expose("vm", "--all", "--port", "22", "-n", namespace, verbose=False, timeout=600)
    assert exposed.code == 0, exposed
    assert exposed.stdout.splitlines()[-1] == f"{MANY} of {MANY} VirtualMachines exposed"
    env = {**sandbox.env, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    kubectl = str(VENV_BIN / "kubectl")
    complete = [kubectl, "__complete", "virt-expose", "vm", "-n", namespace, ""]
    requests_made.start()
    patient = subprocess.run(complete, capture_output=True, text=True, env={**env, BUDGET_VARIABLE: "30"}, timeout=60)
    assert patient.stdout.splitlines() == [*names, ":4"], patient.stderr
    assert audited(requests_made) == ["list virtualmachines"]
    completion_seconds, completions = timed(complete, env)
    list_seconds, lists = timed([kubectl, "virt-expose", "list", "-n", namespace], env)
    kubectl_seconds, _ = timed([kubectl, "get", "vm", "-n", namespace], env)
    figures = (f"medians of {TIMED_RUNS}: completion {completion_seconds:.2f}s, list {list_seconds:.2f}s, "
               f"kubectl get vm {kubectl_seconds:.2f}s")
    print(figures)  # shown by `pytest -rP`; the README's figures come from `make bench`
    answered = [output for output in completions if output.splitlines() == [*names, ":4"]]
    assert len(answered) > TIMED_RUNS // 2, figures  # most answered within the completion's own budget
    for output in lists:
        rows = output.splitlines()[1:]
        assert [row.split()[:2] for row in rows] == [[name, name] for name in names], figures
    assert list_seconds < 2 + 3 * kubectl_seconds, figures
    requests_made.start()
    assert virt_expose("list", "-n", namespace, verbose=False).code == 0
    assert sorted(audited(requests_made)) == ["list endpointslices", "list pods", "list routes", "list services",
                                              "list virtualmachines"], figures
