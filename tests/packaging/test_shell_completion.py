"""Completion: the scripts in completions/ are the parser's, real bash and zsh complete with them, kubectl
completes `kubectl virt-expose`, and the hidden mode answers fast or says nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from oc_virt_expose.cli import completion
from tests.packaging.conftest import PATIENT, REPO, SYSTEM_PATH, VENV_BIN, create_vms, kubeconfig_in_namespace
from tests.packaging.terminal import Terminal
from tests.sandbox.running import RunningSandbox

COMPLETIONS = REPO / "completions"


def shell_env(home: Path, kubeconfig: Path | str) -> dict[str, str]:
    return {"PATH": os.pathsep.join([str(VENV_BIN), SYSTEM_PATH]), "HOME": str(home), "TERM": "xterm",
            "KUBECONFIG": str(kubeconfig), "INPUTRC": "/dev/null", "LANG": "C.UTF-8", **PATIENT}


def start_bash(home: Path, kubeconfig: Path | str) -> Terminal:
    terminal = Terminal(["bash", "--norc", "--noprofile", "-i"], shell_env(home, kubeconfig), home)
    terminal.type("PS1='$ '; bind 'set show-all-if-ambiguous on'; bind 'set bell-style none'; "
                  f"source {COMPLETIONS / 'oc-virt_expose.bash'}; echo READY\n")
    terminal.expect("READY\n$ ")
    return terminal


def start_zsh(program: str, home: Path, kubeconfig: Path | str) -> Terminal:
    terminal = Terminal([program, "-f", "-i"], {**shell_env(home, kubeconfig), "ZDOTDIR": str(home)}, home)
    terminal.type(f"unsetopt beep prompt_sp; PS1='%% '; fpath=({COMPLETIONS} $fpath); autoload -Uz compinit; "
                  "compinit -u -D; echo READY\n")
    terminal.expect("READY\n% ")
    return terminal


def hidden(*words: str, kubeconfig: Path | str, program: str = "oc-virt_expose",
           patient: bool = True) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != completion.BUDGET_VARIABLE}
    return subprocess.run([str(VENV_BIN / program), *words], capture_output=True, text=True, timeout=30,
                          env={**env, "KUBECONFIG": str(kubeconfig), **(PATIENT if patient else {})})


def test_scripts_in_completions_are_generated_from_the_current_parser() -> None:
    expected = completion.scripts()
    assert sorted(path.name for path in COMPLETIONS.iterdir()) == sorted(expected)
    stale = [name for name, text in expected.items() if (COMPLETIONS / name).read_text() != text]
    assert not stale, f"stale completion scripts {stale}: run `make completions`"


def test_flags_and_their_values(offline_kubeconfig: Path) -> None:
    def offered(*words: str) -> list[str]:
        result = hidden("__complete", *words, kubeconfig=offline_kubeconfig)
        assert result.returncode == 0 and result.stderr == ""
        return result.stdout.splitlines()

    assert offered("") == ["expose", "list", "delete", "vm", "vmi", "vmirs"]
    assert offered("vm", "x", "--ty") == ["--type"]
    assert offered("vm", "x", "--type", "") == ["ClusterIP", "NodePort", "LoadBalancer"]
    assert offered("vm", "x", "--protocol=U") == ["--protocol=UDP"]
    assert offered("--ip-family-policy", "Pre") == ["PreferDualStack"]
    assert offered("--context", "") == ["alpha", "beta"]  # from the kubeconfig
    assert offered("-n", "") == ["first-ns", "second-ns"]
    assert offered("--restart", "") == ["auto", "always", "never"]


def test_kubectl_protocol_describes_and_asks_for_files(offline_kubeconfig: Path) -> None:
    described = hidden("--cont", kubeconfig=offline_kubeconfig, program="kubectl_complete-virt_expose")
    assert described.stdout == "--context\tkubeconfig context\n:4\n"
    files = hidden("--kubeconfig", "", kubeconfig=offline_kubeconfig, program="oc_complete-virt_expose")
    assert files.stdout == ":0\n"  # the shell completes file names


def test_errors_never_reach_the_shell(tmp_path: Path) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text("clusters: [unclosed\n")
    for words in (("__complete", "--context", ""), ("__complete", "vm", ""), ("__complete", "nonsense", "")):
        result = hidden(*words, kubeconfig=broken)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    result = hidden("vm", "", kubeconfig=broken, program="kubectl_complete-virt_expose")
    assert (result.returncode, result.stdout, result.stderr) == (0, ":4\n", "")


def test_a_server_that_does_not_answer_gets_no_candidates_within_a_second(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never answers
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(f"""
apiVersion: v1
kind: Config
current-context: c
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{silent.getsockname()[1]}"}}}}]
users: [{{name: u, user: {{}}}}]
""")
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.delenv(completion.BUDGET_VARIABLE, raising=False)
        started = time.monotonic()
        assert completion.answer(["vm", ""], protocol="plain") == 0  # in this process: no start-up in the time
        elapsed = time.monotonic() - started
        assert capfd.readouterr() == ("", "")
        assert elapsed < completion.BUDGET + 0.1, elapsed
        started = time.monotonic()
        result = hidden("__complete", "vm", "", kubeconfig=kubeconfig, patient=False)  # as the shell runs it
        elapsed = time.monotonic() - started
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert elapsed < 2 * completion.BUDGET, elapsed  # slack for Python's start on a loaded 2-core machine


def test_bash_completes_type_flag_values_and_contexts(offline_kubeconfig: Path, tmp_path: Path) -> None:
    with start_bash(tmp_path, offline_kubeconfig) as terminal:
        terminal.type("oc-virt_expose \t")
        terminal.expect("vm", "vmi", "vmirs", since=terminal.clear_line())
        since = terminal.clear_line()
        terminal.type("oc-virt_expose vm x --session-affinity \t")
        terminal.expect("ClientIP", "None", since=since)
        since = terminal.clear_line()
        terminal.type("oc-virt_expose vm x --context \t")
        terminal.expect("alpha", "beta", since=since)


@pytest.mark.sandbox
def test_bash_offers_the_vms_of_the_cluster(sandbox: RunningSandbox, namespace: str, tmp_path: Path) -> None:
    create_vms(sandbox, namespace, "alpha-vm", "beta-vm")
    kubeconfig = kubeconfig_in_namespace(sandbox, namespace, tmp_path)
    with start_bash(tmp_path, kubeconfig) as terminal:
        since = terminal.mark()
        terminal.type("oc-virt_expose vm \t")
        terminal.expect("alpha-vm", "beta-vm", since=since)
    with start_bash(tmp_path, sandbox.kubeconfig) as terminal:  # -n typed: reused, not the context's namespace
        since = terminal.mark()
        terminal.type(f"oc-virt_expose -n {namespace} vm b\t")
        terminal.expect("beta-vm ", since=since)


@pytest.mark.sandbox
def test_zsh_offers_the_vms_of_the_cluster(zsh: str, sandbox: RunningSandbox, namespace: str, tmp_path: Path) -> None:
    create_vms(sandbox, namespace, "alpha-vm", "beta-vm")
    kubeconfig = kubeconfig_in_namespace(sandbox, namespace, tmp_path)
    with start_zsh(zsh, tmp_path, kubeconfig) as terminal:
        since = terminal.mark()
        terminal.type("oc-virt_expose vm \t")
        terminal.expect("alpha-vm", "beta-vm", since=since)
        since = terminal.clear_line()
        terminal.type("oc-virt_expose --type \t")
        terminal.expect("ClusterIP", "LoadBalancer", "NodePort", since=since)


@pytest.mark.sandbox
def test_kubectl_completes_vm_names(sandbox: RunningSandbox, namespace: str, tmp_path: Path) -> None:
    create_vms(sandbox, namespace, "alpha-vm", "beta-vm")
    kubectl = [str(VENV_BIN / "kubectl"), "__complete", "virt-expose"]
    env = {**os.environ, "PATH": os.pathsep.join([str(VENV_BIN), SYSTEM_PATH]), **PATIENT}
    in_namespace = {**env, "KUBECONFIG": str(kubeconfig_in_namespace(sandbox, namespace, tmp_path))}
    result = subprocess.run([*kubectl, "vm", ""], capture_output=True, text=True, env=in_namespace, timeout=30)
    assert result.stdout.splitlines() == ["alpha-vm", "beta-vm", ":4"], result.stderr
    typed = {**env, "KUBECONFIG": str(sandbox.kubeconfig)}
    result = subprocess.run([*kubectl, "--namespace", namespace, "vmi", ""], capture_output=True, text=True,
                            env=typed, timeout=30)
    assert result.stdout.splitlines() == [":4"], result.stderr  # stopped VMs have no VMI
    result = subprocess.run([*kubectl, "-n", namespace, "vm/"], capture_output=True, text=True, env=typed, timeout=30)
    assert result.stdout.splitlines() == ["vm/alpha-vm", "vm/beta-vm", ":4"], result.stderr


# Runs the plugin's console script as the shell does (`oc-virt_expose __complete WORDS`), then writes the
# names of the loaded modules to PROBE_REPORT, whatever happened: the test reads the candidates from stdout.
IMPORT_PROBE = """
import os, sys
from importlib.metadata import entry_points
(script,) = entry_points(group="console_scripts", name="oc-virt_expose")
sys.argv = ["oc-virt_expose", "__complete", *sys.argv[1:]]
try:
    code = script.load()()
finally:
    with open(os.environ["PROBE_REPORT"], "w") as report:
        report.write("\\n".join(sys.modules))
sys.exit(code)
"""
HEAVY = ("kubernetes", "urllib3", "requests", "shtab", "yaml", "ssl")


def completed_with_imports(kubeconfig: Path, report: Path, *words: str) -> tuple[list[str], set[str]]:
    """The candidates offered for `words`, and which of HEAVY (top-level modules) it imported."""
    result = subprocess.run([str(VENV_BIN / "python"), "-c", IMPORT_PROBE, *words], capture_output=True, text=True,
                            timeout=30, env={**os.environ, "KUBECONFIG": str(kubeconfig), "PROBE_REPORT": str(report),
                                             **PATIENT})
    assert (result.returncode, result.stderr) == (0, ""), result
    loaded = {name.split(".")[0] for name in report.read_text().split()}
    return result.stdout.splitlines(), loaded & set(HEAVY)


def test_static_completion_imports_only_the_parser_and_the_kubeconfig(offline_kubeconfig: Path,
                                                                      tmp_path: Path) -> None:
    report = tmp_path / "modules"
    assert completed_with_imports(offline_kubeconfig, report, "vm", "x", "--ty") == (["--type"], set())
    assert completed_with_imports(offline_kubeconfig, report, "") == (
        ["expose", "list", "delete", "vm", "vmi", "vmirs"], set())
    assert completed_with_imports(offline_kubeconfig, report, "--context", "") == (["alpha", "beta"], {"yaml"})


@pytest.mark.sandbox
def test_vm_names_come_through_the_plugins_client_never_the_kubernetes_package(
        sandbox: RunningSandbox, namespace: str, tmp_path: Path) -> None:
    create_vms(sandbox, namespace, "alpha-vm", "beta-vm")
    kubeconfig = kubeconfig_in_namespace(sandbox, namespace, tmp_path)
    offered, loaded = completed_with_imports(kubeconfig, tmp_path / "modules", "vm", "")
    assert offered == ["alpha-vm", "beta-vm"]
    assert loaded == {"yaml", "ssl"}  # the kubeconfig, HTTPS to the sandbox; no kubernetes, requests, urllib3
