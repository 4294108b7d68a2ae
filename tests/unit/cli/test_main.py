"""`cli.main`: the one error boundary, `--help`/`--version`/usage errors without the client, dispatch to a
command's `run` once its options validate."""

from __future__ import annotations

import os
import re
import socket
import sys
import types
from pathlib import Path

import pytest

import oc_virt_expose.cli
import oc_virt_expose.commands.expose
from oc_virt_expose import __version__
from oc_virt_expose.cli.main import main
from oc_virt_expose.commands.expose.options import ExposeRequest
from oc_virt_expose.errors import ExitCode, NotServingError, RefusedError
from oc_virt_expose.model.settings import CommonOptions
from oc_virt_expose.ui.printer import Printer
from tests.unit.conftest import FreshRun

ISSUE_FLAGS = [  # every flag of issue 6's "Command line"
    "--port", "--target-port", "--protocol", "--node-port", "--port-name", "--name", "--type", "--cluster-ip",
    "--external-ip", "--load-balancer-ip", "--session-affinity", "--ip-family-policy", "--ip-families",
    "--ip-family", "-l", "--labels", "--selector", "--overwrite", "--field-manager", "--restart", "--start",
    "--wait", "--no-wait", "--timeout", "--force", "--dry-run", "-o", "--output", "-v", "--v", "--version",
    "--help", "--kubeconfig", "--context", "--cluster", "--user", "-n", "--namespace", "-s", "--server",
    "--token", "--certificate-authority", "--insecure-skip-tls-verify", "--request-timeout", "--as",
    "--as-group",
]
RUN_ONLY = ("oc_virt_expose.access", "oc_virt_expose.commands.expose.run", "oc_virt_expose.ui")
"""What only a run needs: the cluster access, the run, the printer."""


def test_help_imports_no_client_and_shows_the_seed_scenario(run_plugin: FreshRun) -> None:
    result = run_plugin("--help")
    assert result.returncode == 0
    assert result.heavy == set()
    assert result.loaded(("oc_virt_expose.commands",)) == set()
    assert result.stderr == ""
    assert "--selector special=key" in result.stdout and "--node-port 30000" in result.stdout
    for flag in ISSUE_FLAGS:
        assert re.search(rf"[\s,]{re.escape(flag)}[\s,]", result.stdout), flag


def test_version_imports_no_client(run_plugin: FreshRun) -> None:
    result = run_plugin("--version")
    assert (result.returncode, result.stdout) == (0, f"virt-expose {__version__}\n")
    assert result.heavy == set()


@pytest.mark.parametrize("argv", [["vm"], ["vm", "x", "--bogus"], ["vm", "x", "--port", "abc"],
                                  ["vm", "x", "--type", "ExternalName"], ["vm", "x", "-v", "many"]])
def test_usage_errors_are_one_line_exit_2_without_client(run_plugin: FreshRun, argv: list[str]) -> None:
    result = run_plugin(*argv)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert lines[0].endswith("See 'python -m oc_virt_expose --help' for usage.")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.heavy == set()


OPTION_ERRORS = [  # found while building or validating the options, after the flags parse
    ["vm", "x", "--port", "80/XTP"], ["vm", "x", "--type", "Foo"], ["vm", "x", "--ip-families", "IPv5"],
    ["vm", "x", "--protocol", "ICMP"], ["vm", "x", "--selector", "a!=b"], ["vm", "x", "--timeout", "5y"],
    ["vm", "x", "--cluster-ip", "10.0.0.300"],
]


@pytest.mark.parametrize("argv", OPTION_ERRORS, ids=[" ".join(a) for a in OPTION_ERRORS])
def test_option_errors_import_no_more_than_help(run_plugin: FreshRun, argv: list[str]) -> None:
    """Issue 6: a usage error is no slower than `--help`: no dataclasses (which import inspect), no
    kubeconfig loader or credentials, nothing the run alone needs."""
    result = run_plugin(*argv)
    assert result.returncode == 2, result.stderr
    assert result.loaded(("dataclasses", "inspect", "ast", *RUN_ONLY)) == set()
    assert result.heavy == set()


RUNS = [["vm", "x", "--port", "80"], ["list"], ["delete", "vm", "x"]]


@pytest.mark.parametrize("argv", RUNS, ids=[" ".join(a) for a in RUNS])
def test_a_run_imports_no_dataclasses(run_plugin: FreshRun, tmp_path: Path, argv: list[str]) -> None:
    """A run's start-up: the records are NamedTuples (oc_virt_expose/model/records.py), so no command imports
    dataclasses and with it inspect (~25 ms of CPU a run when they did). Here the run gets as far as a
    server that refuses the connection."""
    with socket.socket() as unlistened:  # bound, not listening: connecting is refused
        unlistened.bind(("127.0.0.1", 0))
        server = f"https://127.0.0.1:{unlistened.getsockname()[1]}"
        result = run_plugin(*argv, "--server", server, "--token", "t", "--insecure-skip-tls-verify",
                            env={"PATH": os.environ.get("PATH", ""), "KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 1 and "refused" in result.stderr, result.stderr
    assert result.loaded(("oc_virt_expose.access.client",))
    assert result.loaded(("dataclasses", "inspect")) == set()


def test_build_parser_has_no_side_effects_and_imports_no_client(run_code: FreshRun) -> None:
    result = run_code("from oc_virt_expose.cli.parser import build_parser; build_parser()")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert result.heavy == set()
    assert result.loaded(RUN_ONLY) == set()


class FakeRun(types.ModuleType):
    """Stands for `oc_virt_expose.commands.expose.run`: records the calls, returns or raises `outcome`."""

    def __init__(self) -> None:
        super().__init__("oc_virt_expose.commands.expose.run")
        self.calls: list[tuple[ExposeRequest, CommonOptions, Printer]] = []
        self.outcome: ExitCode | BaseException = ExitCode.OK

    def run(self, request: ExposeRequest, common: CommonOptions, printer: Printer) -> ExitCode:
        self.calls.append((request, common, printer))
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


@pytest.fixture
def fake_run(monkeypatch: pytest.MonkeyPatch) -> FakeRun:
    module = FakeRun()
    monkeypatch.setitem(sys.modules, "oc_virt_expose.commands.expose.run", module)
    monkeypatch.setattr(oc_virt_expose.commands.expose, "run", module, raising=False)
    monkeypatch.setattr(sys, "argv", ["/usr/bin/kubectl-virt_expose"])
    return module


SEED = ["vm", "example-vm", "-n", "example-namespace", "--name", "example-service", "--selector", "special=key",
        "--type", "NodePort", "--port", "80", "--target-port", "9376", "--node-port", "30000"]


def test_main_runs_with_validated_options(fake_run: FakeRun, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEED, "-o", "yaml"]) == 0
    (request, common, printer), = fake_run.calls
    assert request.service.name == "example-service" and request.ports.node_port == 30000
    assert printer.output is common.output
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
def test_main_is_the_error_boundary(fake_run: FakeRun, capsys: pytest.CaptureFixture[str], outcome: object,
                                    code: int, stderr: str) -> None:
    fake_run.outcome = outcome  # type: ignore[assignment]
    assert main(SEED) == code
    assert capsys.readouterr().err == stderr


def test_main_usage_error_names_the_plugin(fake_run: FakeRun, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vm"]) == 2
    assert capsys.readouterr().err == (
        "error: NAME is required: which VirtualMachine to expose. See 'kubectl virt-expose --help' for usage.\n")
    assert fake_run.calls == []


@pytest.mark.parametrize("argv", [["vm", "x", "--bogus"], ["expose", "vm", "x", "--bogus"],
                                  ["-n", "ns", "vm", "x", "--bogus"], ["--port", "80", "vm", "x", "--bogus"]])
def test_default_verb_usage_errors_point_at_the_plugins_help(fake_run: FakeRun, capsys: pytest.CaptureFixture[str],
                                                             argv: list[str]) -> None:
    """`expose` is the default verb: its errors name `PROG --help`, not `PROG expose --help`."""
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "error: unrecognized arguments: --bogus. See 'kubectl virt-expose --help' for usage.\n")
    assert fake_run.calls == []


@pytest.mark.parametrize(("argv", "verb"), [(["list", "--bogus"], "list"),
                                            (["-n", "ns", "delete", "vm", "x", "--bogus"], "delete")])
def test_other_verbs_usage_errors_point_at_their_own_help(fake_run: FakeRun, capsys: pytest.CaptureFixture[str],
                                                          argv: list[str], verb: str) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"error: unrecognized arguments: --bogus. See 'kubectl virt-expose {verb} --help' for usage.\n")


def test_main_help_and_version_return_zero(fake_run: FakeRun, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    usage = capsys.readouterr().out
    assert usage.startswith("usage: kubectl virt-expose [expose] TYPE NAME")
    assert main(["expose", "--help"]) == 0
    assert capsys.readouterr().out == usage
    assert main(["--version"]) == 0
    assert fake_run.calls == []


def test_completion_requests_go_to_the_completion_module(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, list[str]]] = []
    fake = types.ModuleType("oc_virt_expose.cli.completion")
    fake.dispatch = lambda argv0, args: asked.append((argv0, args)) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "oc_virt_expose.cli.completion", fake)
    monkeypatch.setattr(oc_virt_expose.cli, "completion", fake, raising=False)
    monkeypatch.setattr(sys, "argv", ["/usr/bin/oc-virt_expose"])
    assert main(["__complete", "vm", ""]) == 0
    assert asked == [("/usr/bin/oc-virt_expose", ["__complete", "vm", ""])]
