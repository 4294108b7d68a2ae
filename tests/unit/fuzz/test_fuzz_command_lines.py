"""Fuzzed command lines (issue 12.5): every verb's flags, from its parser, with valid values and junk, through
`cli.main.main` in-process. No line ends in a traceback; a usage error is one line, exit 2, that names the
flag or argument at fault and ends with the help hint; a valid line reaches the run with the request its
flags ask for. The runs are recorders (no cluster), but for one property, run for real against a server
that refuses connections.

Reproducible: `strategies.FUZZ` is derandomized (the examples follow from each test's name).
"""

from __future__ import annotations

import argparse
import importlib
import io
import re
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oc_virt_expose.cli.argv import value_flags, with_verb
from oc_virt_expose.cli.parser import DEFAULT_VERB, VERBS, verb_parser
from oc_virt_expose.commands.expose.options import BatchRequest
from oc_virt_expose.errors import ExitCode
from tests.unit.fuzz.command_lines import VALUES, Line, any_line, valid_line
from tests.unit.fuzz.faults import Fault, every_fault, line_with_a_fault
from tests.unit.fuzz.strategies import ARGV0, FLAGS, FUZZ, PARSER, PROG, SPELLINGS, Given

MAIN = sys.modules["oc_virt_expose.cli.main"]  # the module: the package exports the function `main` by that name
ALL_VALUE_FLAGS = set().union(*(value_flags(verb_parser(PARSER, verb)) for verb in VERBS))


class Outcome(NamedTuple):
    code: int
    stdout: str
    stderr: str
    runs: list[tuple[Any, Any]]
    """(request, common) of each call of the verb's run."""


RUNS: list[tuple[Any, Any]] = []
RUN_MODULES = [importlib.import_module(f"oc_virt_expose.commands.{verb}.run") for verb in VERBS]


def record_run(request: Any, common: Any, printer: Any) -> ExitCode:
    RUNS.append((request, common))
    return ExitCode.OK


@pytest.fixture(scope="module", autouse=True)
def patched() -> Iterator[pytest.MonkeyPatch]:
    """The parser built once (building costs several parses; parsing leaves it as it was), argv[0] a
    kubectl plugin, no proxy or in-cluster settings from the environment, and SIGTERM's handler given back
    afterwards (`main` installs its own)."""
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MAIN, "build_parser", the_parser)
        patch.setattr(sys, "argv", [ARGV0])
        for name in ENVIRONMENT:
            patch.delenv(name, raising=False)
        yield patch
    signal.signal(signal.SIGTERM, handler)


def the_parser(prog: str, verbs: Sequence[str] = VERBS) -> argparse.ArgumentParser:
    """`build_parser`'s parser, built once: every verb's (`main` asks for one verb's only, for start-up time)."""
    assert (prog, set(verbs) <= set(VERBS)) == (PROG, True)
    return PARSER


ENVIRONMENT = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "HTTPS_PROXY", "https_proxy",
               "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")
"""What would send a run elsewhere than the kubeconfig's server."""


def run_main(argv: list[str], *, record: bool = True) -> Outcome:
    """`main(argv)` with stdout and stderr as Python opens them in a UTF-8 locale (stderr escapes what it
    cannot encode, stdout does not); `record`: each verb's `run` only records what it was given."""
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    RUNS.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", stdout)
        patch.setattr(sys, "stderr", stderr)
        for module in RUN_MODULES if record else ():
            patch.setattr(module, "run", record_run)
        code = MAIN.main(list(argv))
    stdout.flush()
    stderr.flush()
    return Outcome(code, stdout.buffer.getvalue().decode(), stderr.buffer.getvalue().decode(), list(RUNS))


def verb_of(argv: list[str]) -> str:
    return with_verb(argv, VERBS, DEFAULT_VERB, ALL_VALUE_FLAGS)[0]


def named_flags(message: str, verb: str) -> set[str]:
    """The dests of the flags of `verb` that `message` names, in any of their spellings."""
    return {flag.dest for spelling, flag in SPELLINGS[verb].items()
            if re.search(rf"(?<![\w-]){re.escape(spelling)}(?![\w-])", message)}


def given_flags(argv: list[str], verb: str) -> set[str]:
    """The dests of the flags typed in `argv` (`--f=v`, `--f`, `-fv`; after a `--` too, which may be a
    flag's value)."""
    typed = set()
    for word in argv:
        spelling = word.split("=", 1)[0] if word.startswith("--") else word[:2]
        if spelling in SPELLINGS[verb]:
            typed.add(SPELLINGS[verb][spelling].dest)
    return typed


def assert_usage_error(outcome: Outcome, argv: list[str]) -> str:
    """Exit 2, nothing run or printed, one line: `error: <message>. See '<prog> [verb] --help' for usage.`"""
    verb = verb_of(argv)
    hint = f"See '{PROG}{'' if verb == DEFAULT_VERB else ' ' + verb} --help' for usage."
    assert (outcome.code, outcome.runs, outcome.stdout) == (2, [], ""), outcome
    assert outcome.stderr.startswith("error: ") and outcome.stderr.endswith(f". {hint}\n"), outcome.stderr
    assert len(outcome.stderr.splitlines()) == 1, outcome.stderr
    return outcome.stderr[len("error: "):-len(f". {hint}\n")]


def shown(word: str) -> str:
    """A typed word as a one-line message shows it: a line break as a space, other control characters escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in word.replace("\n", " "))


def names_a_culprit(message: str, argv: list[str]) -> bool:
    """The message names a flag typed, an argument (TYPE, NAME, a word quoted), or the words not taken."""
    verb = verb_of(argv)
    return any((named_flags(message, verb) & given_flags(argv, verb),
                message.startswith("unrecognized arguments: "),
                re.search(r"\b(TYPE|NAME)s?\b|resource type|object's name", message),
                any(f'"{shown(word)}"' in message for word in argv)))


@pytest.mark.parametrize("verb", VERBS)
@settings(FUZZ, max_examples=350)
@given(data=st.data())
def test_any_line_is_a_one_line_usage_error_or_reaches_the_run(verb: str, data: st.DataObject) -> None:
    argv = data.draw(any_line(verb), label="argv")
    outcome = run_main(argv)
    assert "Traceback" not in outcome.stderr
    if outcome.code == 0 and set(argv) & {"-h", "--help", "--version"} and not outcome.runs:
        assert outcome.stdout.startswith(("usage: ", "virt-expose ")), outcome  # a junk word that asks for help
    elif outcome.code == 0:
        assert (len(outcome.runs), outcome.stdout, outcome.stderr) == (1, "", ""), outcome
    else:
        assert names_a_culprit(assert_usage_error(outcome, argv), argv), outcome.stderr


def one(request: Any) -> Any:
    """The request of one object: itself, or a batch's template."""
    return request.template if isinstance(request, BatchRequest) else request


def route(request: Any) -> Any:
    return one(request).route


Read = Callable[[Any, Any], Any]
"""(request, common) -> the value a flag set."""


def field(holder: Read, name: str) -> Read:
    return lambda request, common: getattr(holder(request, common), name)


CONNECTION: Read = lambda request, common: common.connection  # noqa: E731
ONE: Read = lambda request, common: one(request)  # noqa: E731
COMMON: dict[str, Read] = {
    "output": lambda r, c: c.output.value, "verbosity": lambda r, c: c.verbosity,
    "dry_run": lambda r, c: c.dry_run.value, "as_groups": lambda r, c: c.connection.as_groups,
    **{dest: field(CONNECTION, dest) for dest in (
        "kubeconfig", "context", "cluster", "user", "namespace", "server", "token", "certificate_authority",
        "insecure_skip_tls_verify", "tls_server_name", "request_timeout", "as_user", "as_uid")},
}
READ: dict[str, dict[str, Read]] = {
    "expose": {
        **COMMON,
        "targets": lambda r, c: (r.targets.kind, tuple(r.targets.names), r.targets.selector, r.targets.every)
        if isinstance(r, BatchRequest) else (r.resource, r.name),
        "port": lambda r, c: [tuple(spec[:3]) for spec in one(r).ports.specs],
        **{dest: field(lambda r, c: one(r).ports, dest) for dest in ("target_port", "protocol", "node_port",
                                                                    "port_name")},
        "service_name": lambda r, c: one(r).service.name, "service_type": lambda r, c: one(r).service.type,
        "external_ip": lambda r, c: list(one(r).service.external_ips),
        "ip_families": lambda r, c: list(one(r).service.ip_families),
        **{dest: field(lambda r, c: one(r).service, dest) for dest in (
            "cluster_ip", "load_balancer_ip", "session_affinity", "ip_family_policy", "labels",
            "external_traffic_policy")},
        **{dest: field(ONE, dest) for dest in ("selector", "overwrite", "field_manager", "start", "wait", "force")},
        "restart": lambda r, c: one(r).restart.value, "timeout": lambda r, c: pytest.approx(one(r).timeout),
        "route": lambda r, c: route(r) is not None, "hostname": lambda r, c: route(r).hostname,
        "path": lambda r, c: route(r).path, "route_port": lambda r, c: route(r).port, "tls": lambda r, c: route(r).tls,
        "insecure_policy": lambda r, c: route(r).insecure_policy, "cert": lambda r, c: route(r).certificate,
        "key": lambda r, c: route(r).key, "ca_cert": lambda r, c: route(r).ca_certificate,
        "dest_ca_cert": lambda r, c: route(r).destination_ca_certificate,
        "vm_selector": lambda r, c: r.targets.selector, "all": lambda r, c: r.targets.every,
        "name_suffix": lambda r, c: r.name_suffix, "parallel": lambda r, c: r.parallel,
    },
    "list": {
        **COMMON, "targets": lambda r, c: (r.kind, r.names), "all_namespaces": lambda r, c: r.all_namespaces,
        "selector": lambda r, c: dict(pair.split("=", 1) for pair in r.label_selector.split(",")),
    },
    "delete": {
        **COMMON, "targets": lambda r, c: (r.resource, r.name), "service_name": lambda r, c: r.service_name,
        "keep_label": lambda r, c: r.keep_label,
    },
}
"""Verb -> dest -> where the request (or the common options) holds what that flag set."""


@pytest.fixture(scope="module")
def pem_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Given]:
    """A PEM file for each of the Route's file flags: (path, text)."""
    folder = tmp_path_factory.mktemp("pem")
    block = "-----BEGIN {0}-----\nTUlJQmZha2U=\n-----END {0}-----\n"
    files = {}
    for dest, label in (("cert", "CERTIFICATE"), ("key", "PRIVATE KEY"), ("ca_cert", "CERTIFICATE"),
                        ("dest_ca_cert", "CERTIFICATE")):
        path = folder / f"{dest}.pem"
        path.write_text(block.format(label))
        files[dest] = Given(str(path), block.format(label))
    return files


def test_every_flag_has_valid_values_and_a_reading() -> None:
    """A new flag is fuzzed with junk as it is; for valid lines it needs valid values in `command_lines.VALUES`
    (unless it is a boolean) and a line in READ."""
    for verb in VERBS:
        assert {flag.dest for flag in FLAGS[verb] if not flag.boolean} - set(VALUES[verb]) == set(), verb
        assert {flag.dest for flag in FLAGS[verb]} - set(READ[verb]) == set(), verb


@pytest.mark.parametrize("verb", VERBS)
@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_valid_line_reaches_the_run_with_what_its_flags_say(verb: str, data: st.DataObject,
                                                             pem_files: dict[str, Given]) -> None:
    line: Line = data.draw(valid_line(verb, pem_files), label="line")
    outcome = run_main(line.argv)
    assert (outcome.code, outcome.stderr, outcome.stdout, len(outcome.runs)) == (0, "", "", 1), outcome
    request, common = outcome.runs[0]
    found = {dest: READ[verb][dest](request, common) for dest in line.expected}
    assert found == line.expected


SHORTEST = {("expose", False): ["vm", "x"], ("expose", True): ["vm", "a", "b"], ("list", False): ["list"],
            ("delete", False): ["delete", "vm", "x"]}
"""The shortest valid line of each verb (and of expose with several objects)."""


@pytest.mark.parametrize(("verb", "batch"), SHORTEST)
def test_every_refused_value_of_every_flag_is_named_by_the_usage_error(verb: str, batch: bool) -> None:
    """All of `every_fault`, each alone after the shortest valid line: the table the property below draws from,
    each case at least once."""
    unnamed = []
    for culprit, tokens in every_fault(verb, batch):
        argv = [*SHORTEST[verb, batch], *tokens]
        message = assert_usage_error(run_main(argv), argv)
        if culprit not in named_flags(message, verb):
            unnamed.append((tokens, message))
    assert unnamed == []


@pytest.mark.parametrize("verb", VERBS)
@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_a_fault_in_a_valid_line_is_named_by_the_usage_error(verb: str, data: st.DataObject,
                                                              pem_files: dict[str, Given]) -> None:
    fault: Fault = data.draw(line_with_a_fault(verb, pem_files), label="fault")
    message = assert_usage_error(run_main(fault.argv), fault.argv)
    assert fault.culprit in named_flags(message, verb) or shown(fault.culprit) in message, message


@pytest.fixture(scope="module")
def refusing_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kubeconfig whose server refuses connections: a port bound but never listening, so no other process
    can take it while the tests run."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        path = tmp_path_factory.mktemp("kubeconfig") / "config"
        path.write_text(KUBECONFIG.format(port=bound.getsockname()[1]))
        yield str(path)


KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: fuzz
contexts: [{{name: fuzz, context: {{cluster: refusing, user: someone, namespace: fuzz}}}}]
clusters: [{{name: refusing, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: someone, user: {{token: not-a-secret}}}}]
"""


def test_the_refusing_server_refuses(refusing_kubeconfig: str) -> None:
    """The property below reaches the network: a valid line ends at the refused connection."""
    outcome = run_main(["list", "--kubeconfig", refusing_kubeconfig], record=False)
    assert outcome.code == 1
    assert re.fullmatch(r"error: The connection to the server 127\.0\.0\.1:\d+ was refused - did you specify the "
                        r"right host or port\?\n", outcome.stderr), outcome.stderr


@pytest.mark.parametrize("verb", VERBS)
@settings(FUZZ, max_examples=50)
@given(data=st.data())
def test_any_line_run_against_a_refusing_server_ends_in_one_error_line(verb: str, data: st.DataObject,
                                                                       refusing_kubeconfig: str) -> None:
    """The runs for real (kubeconfig, client, printer), the server refusing every connection."""
    argv = ["--kubeconfig", refusing_kubeconfig, *data.draw(any_line(verb, ("kubeconfig", "server")), label="argv")]
    outcome = run_main(argv, record=False)
    assert "Traceback" not in outcome.stderr
    assert outcome.code in (0, 1, 2, 3), outcome
    if outcome.code == 2:
        assert_usage_error(outcome, argv)
    elif outcome.code:
        assert outcome.stderr.count("error: ") == 1 and outcome.stderr.splitlines()[-1].startswith("error: "), outcome
