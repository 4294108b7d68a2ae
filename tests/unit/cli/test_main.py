from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import oc_virt_expose
from oc_virt_expose import __version__
from oc_virt_expose.cli import build_parser, find_action, main, normalize_argv, program_name
from oc_virt_expose.errors import ExitCode, NotServingError, RefusedError
from oc_virt_expose.options import ExposeOptions
from oc_virt_expose.output import Printer

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("kubernetes", "yaml", "urllib3", "requests")

ISSUE_FLAGS = [  # every flag of issue 6's "Command line"
    "--port", "--target-port", "--protocol", "--node-port", "--port-name", "--name", "--type", "--cluster-ip",
    "--external-ip", "--load-balancer-ip", "--session-affinity", "--ip-family-policy", "--ip-families",
    "--ip-family", "-l", "--labels", "--selector", "--overwrite", "--field-manager", "--restart", "--start",
    "--wait", "--no-wait", "--timeout", "--force", "--dry-run", "-o", "--output", "-v", "--v", "--version",
    "--help", "--kubeconfig", "--context", "--cluster", "--user", "-n", "--namespace", "-s", "--server",
    "--token", "--certificate-authority", "--insecure-skip-tls-verify", "--request-timeout", "--as",
    "--as-group",
]


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -X importtime -m oc_virt_expose ARGS`, as a user would run it."""
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "oc_virt_expose", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def imported_modules(importtime_stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in importtime_stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("import time:")]


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_help_imports_no_client_and_shows_the_seed_scenario() -> None:
    result = run_module("--help")
    assert result.returncode == 0
    assert heavy(imported_modules(result.stderr)) == set()
    assert "oc_virt_expose.options" not in imported_modules(result.stderr)
    assert messages(result.stderr) == []
    assert "--selector special=key" in result.stdout and "--node-port 30000" in result.stdout
    for flag in ISSUE_FLAGS:
        assert re.search(rf"[\s,]{re.escape(flag)}[\s,]", result.stdout), flag


def test_version_imports_no_client() -> None:
    result = run_module("--version")
    assert (result.returncode, result.stdout) == (0, f"virt-expose {__version__}\n")
    assert heavy(imported_modules(result.stderr)) == set()


@pytest.mark.parametrize("argv", [["vm"], ["vm", "x", "--bogus"], ["vm", "x", "--port", "abc"],
                                  ["vm", "x", "--type", "ExternalName"], ["vm", "x", "-v", "many"]])
def test_usage_errors_are_one_line_exit_2_without_client(argv: list[str]) -> None:
    result = run_module(*argv)
    assert result.returncode == 2
    lines = messages(result.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert lines[0].endswith("See 'python -m oc_virt_expose --help' for usage.")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert heavy(imported_modules(result.stderr)) == set()


OPTION_ERRORS = [  # found while building or validating the options, after the flags parse
    ["vm", "x", "--port", "80/XTP"], ["vm", "x", "--type", "Foo"], ["vm", "x", "--ip-families", "IPv5"],
    ["vm", "x", "--protocol", "ICMP"], ["vm", "x", "--selector", "a!=b"], ["vm", "x", "--timeout", "5y"],
    ["vm", "x", "--cluster-ip", "10.0.0.300"], ["vm", "x", "--as-group", "g"],
]


@pytest.mark.parametrize("argv", OPTION_ERRORS, ids=[" ".join(a) for a in OPTION_ERRORS])
def test_option_errors_import_no_more_than_help(argv: list[str]) -> None:
    """Issue 6: a usage error is no slower than `--help`: no dataclasses (which import inspect), no
    kubeconfig loader or credentials, nothing the run alone needs."""
    result = run_module(*argv)
    assert result.returncode == 2, result.stderr
    modules = imported_modules(result.stderr)
    assert modules.isdisjoint({"dataclasses", "inspect", "ast", "oc_virt_expose.kubeconfig",
                               "oc_virt_expose.credentials", "oc_virt_expose.expose",
                               "oc_virt_expose.client", "oc_virt_expose.output"}), sorted(modules)
    assert heavy(modules) == set()


def test_build_parser_has_no_side_effects_and_imports_no_client() -> None:
    code = ("import sys; from oc_virt_expose.cli import build_parser; build_parser(); "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("argv0", "name"),
    [
        ("/usr/local/bin/kubectl-virt_expose", "kubectl virt-expose"),
        ("oc-virt_expose", "oc virt-expose"),
        ("C:\\bin\\kubectl-virt_expose.exe".replace("\\", "/"), "kubectl virt-expose"),
        ("/x/oc_virt_expose/__main__.py", "python -m oc_virt_expose"),
        ("virt-expose", "virt-expose"),
    ],
)
def test_program_name_as_invoked(argv0: str, name: str) -> None:
    assert program_name(argv0) == name


def test_normalize_argv() -> None:
    flags = {"--timeout", "-n"}
    assert normalize_argv(["--force=true", "--overwrite=False", "--wait=0"]) == ["--force", "--no-overwrite",
                                                                                "--no-wait"]
    assert normalize_argv(["--dry-run", "vm"]) == ["--dry-run=client", "vm"]
    assert normalize_argv(["vm", "--dry-run"]) == ["vm", "--dry-run=client"]
    assert normalize_argv(["--dry-run", "server"]) == ["--dry-run", "server"]
    assert normalize_argv(["--timeout", "-5s", "-n", "x"], flags) == ["--timeout=-5s", "-n", "x"]
    assert normalize_argv(["--", "--force=true"]) == ["--", "--force=true"]


def test_completion_hooks() -> None:
    parser = build_parser("kubectl virt-expose")
    for dest in ("resource_type", "resource_name", "context", "namespace", "kubeconfig"):
        find_action(parser, dest).complete = {"bash": "_virt_expose_names"}  # type: ignore[attr-defined]
    with pytest.raises(KeyError):
        find_action(parser, "nope")


class FakeExpose(types.ModuleType):
    """Stands for `oc_virt_expose.expose` (written later): records the calls, returns or raises `outcome`."""

    def __init__(self) -> None:
        super().__init__("oc_virt_expose.expose")
        self.calls: list[tuple[ExposeOptions, Printer]] = []
        self.outcome: ExitCode | BaseException = ExitCode.OK

    def run(self, options: ExposeOptions, printer: Printer) -> ExitCode:
        self.calls.append((options, printer))
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


@pytest.fixture
def fake_expose(monkeypatch: pytest.MonkeyPatch) -> FakeExpose:
    module = FakeExpose()
    monkeypatch.setitem(sys.modules, "oc_virt_expose.expose", module)
    monkeypatch.setattr(oc_virt_expose, "expose", module, raising=False)
    monkeypatch.setattr(sys, "argv", ["/usr/bin/kubectl-virt_expose"])
    return module


SEED = ["vm", "example-vm", "-n", "example-namespace", "--name", "example-service", "--selector", "special=key",
        "--type", "NodePort", "--port", "80", "--target-port", "9376", "--node-port", "30000"]


def test_main_runs_with_validated_options(fake_expose: FakeExpose, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEED, "-o", "yaml"]) == 0
    (options, printer), = fake_expose.calls
    assert options.service_name == "example-service" and options.node_port == 30000
    assert printer.output is options.output
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("outcome", "code", "stderr"),
    [
        (ExitCode.NOT_SERVING, 3, ""),
        (RefusedError("the pod-network interface forwards only 22/TCP\nto the guest."), 1,
         "error: the pod-network interface forwards only 22/TCP to the guest\n"),
        (NotServingError("no ready endpoint after 5m0s"), 3, "error: no ready endpoint after 5m0s\n"),
        (KeyboardInterrupt(), 130, ""),
    ],
)
def test_main_is_the_error_boundary(fake_expose: FakeExpose, capsys: pytest.CaptureFixture[str], outcome: object,
                                    code: int, stderr: str) -> None:
    fake_expose.outcome = outcome  # type: ignore[assignment]
    assert main(SEED) == code
    assert capsys.readouterr().err == stderr


def test_main_usage_error_names_the_plugin(fake_expose: FakeExpose, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vm"]) == 2
    assert capsys.readouterr().err == (
        "error: NAME is required: which VirtualMachine to expose. See 'kubectl virt-expose --help' for usage.\n")
    assert fake_expose.calls == []


def test_main_help_and_version_return_zero(fake_expose: FakeExpose, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: kubectl virt-expose TYPE NAME")
    assert main(["--version"]) == 0
    assert fake_expose.calls == []


def test_completion_requests_go_to_the_completion_module(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, list[str]]] = []
    fake = types.ModuleType("oc_virt_expose.completion")
    fake.dispatch = lambda argv0, args: asked.append((argv0, args)) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "oc_virt_expose.completion", fake)
    monkeypatch.setattr(oc_virt_expose, "completion", fake, raising=False)
    monkeypatch.setattr(sys, "argv", ["/usr/bin/oc-virt_expose"])
    assert main(["__complete", "vm", ""]) == 0
    assert asked == [("/usr/bin/oc-virt_expose", ["__complete", "vm", ""])]
