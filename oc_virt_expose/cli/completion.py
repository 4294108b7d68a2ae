"""Shell completion: the candidates for a partly typed command line, for every shell that asks.

Three ways in, one answer (`candidates`):
- `PROG __complete WORD... CURRENT`: the hidden mode that the scripts in `completions/` call (generated
  from the real parser by shtab, see `script`); one candidate a line.
- `PROG __complete_tcsh`: the same for tcsh, which passes the line in COMMAND_LINE.
- `kubectl_complete-virt_expose WORD... CURRENT` (and `oc_complete-virt_expose`): kubectl's plugin
  completion (kubectl 1.26+, `kubectl virt-expose <TAB>`): candidates with a tab and a description, then
  `:DIRECTIVE`, cobra's `__complete` protocol (4: no file names; 0: let the shell complete files).

What is completed: TYPE, flags, flag values (fixed sets; contexts, clusters, users and namespaces named in
the kubeconfig; files) and NAME, the VMs (VMIs, VMIRSs) listed from the cluster with the --kubeconfig,
--context, -n, ... typed so far. Within `BUDGET` seconds (VIRT_EXPOSE_COMPLETION_TIMEOUT changes it) or
not at all; nothing but candidates ever reaches the terminal (stdin and stderr are /dev/null meanwhile,
so an exec credential plugin cannot prompt). Imports: the parser for flags, `kubeconfig` (PyYAML) for
its values, `client` only for NAME.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from oc_virt_expose.cli.expose_parser import add_expose_arguments
from oc_virt_expose.cli.parser import DEFAULT_VERB, VERBS, build_parser, subparsers, verb_parser
from oc_virt_expose.model.kinds import RESOURCE_KINDS, parse_resource_type

if TYPE_CHECKING:
    import argparse

    from oc_virt_expose.model.settings import ConnectionFlags

HIDDEN = "__complete"
HIDDEN_TCSH = "__complete_tcsh"
HELPER_PREFIXES = ("kubectl_complete-", "oc_complete-")
PROGRAMS = ("oc-virt_expose", "kubectl-virt_expose")
SHELLS = {"bash": "{prog}.bash", "zsh": "_{prog}", "tcsh": "{prog}.tcsh"}  # file name in completions/
BUDGET = 0.8  # seconds: the shell gets an answer within a second, start-up included, or none
BUDGET_VARIABLE = "VIRT_EXPOSE_COMPLETION_TIMEOUT"  # seconds, for slow clusters (and busy test machines)
DIRECTIVE_FILES = 0  # cobra's ShellCompDirectiveDefault: the shell completes file names
DIRECTIVE_NO_FILES = 4  # cobra's ShellCompDirectiveNoFileComp
FILE_DESTS = frozenset({"kubeconfig", "certificate_authority"})
KUBECONFIG_DESTS = {"context": "contexts", "cluster": "clusters", "user": "users", "namespace": "namespaces"}


def dispatch(argv0: str, args: Sequence[str]) -> int | None:
    """The exit code of a completion request, or None when this invocation is not one.

    Called first by `cli.main.main` and by the one-file build's start-up, before anything else is imported.
    """
    if os.path.basename(argv0).startswith(HELPER_PREFIXES):
        return answer(list(args), protocol="kubectl")
    if list(args[:1]) == [HIDDEN]:
        return answer(list(args[1:]), protocol="plain")
    if list(args[:1]) == [HIDDEN_TCSH]:
        return answer(tcsh_words(os.environ.get("COMMAND_LINE", "")), protocol="tcsh")
    return None


def kubectl_complete() -> int:
    """Console script `kubectl_complete-virt_expose` / `oc_complete-virt_expose`."""
    return answer(sys.argv[1:], protocol="kubectl")


class _Deadline(BaseException):
    """Raised by the timer; a BaseException so that no `except Exception` on the way swallows it."""


def answer(words: list[str], *, protocol: str) -> int:
    """Print the candidates for `words` (the last one is being typed); always exits 0."""
    found: list[str] = []
    directive = DIRECTIVE_NO_FILES
    saved = _silence()
    try:
        try:
            found, directive = _within_budget(words, describe=protocol == "kubectl")
        except (Exception, _Deadline, KeyboardInterrupt):  # a completion prints candidates or nothing
            found = []
        if protocol == "tcsh" and words and words[-1].startswith("--") and "=" in words[-1]:
            found = [item.partition("=")[2] for item in found]  # tcsh's `c/--flag=/` completes after the `=`
        lines = found + ([f":{directive}"] if protocol == "kubectl" else [])
        if lines:
            try:
                sys.stdout.write("\n".join(lines) + "\n")
                sys.stdout.flush()
            except OSError:  # the shell stopped listening: keep the exit-time flush quiet too
                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    finally:
        _restore(saved)
    return 0


def _within_budget(words: list[str], *, describe: bool) -> tuple[list[str], int]:
    import signal

    def expire(signum: int, frame: Any) -> None:
        raise _Deadline

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, budget())
    try:
        return candidates(words, describe=describe)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def budget() -> float:
    """BUDGET, or the seconds in VIRT_EXPOSE_COMPLETION_TIMEOUT."""
    try:
        return max(float(os.environ.get(BUDGET_VARIABLE) or BUDGET), 0.01)
    except ValueError:
        return BUDGET


def _silence() -> list[int]:
    """stdin and stderr to /dev/null: no prompt, no warning, no error in the user's shell."""
    saved = []
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 2):
        try:
            saved.append(os.dup(fd))
        except OSError:  # closed already
            saved.append(-1)
        os.dup2(devnull, fd)
    os.close(devnull)
    return saved


def _restore(saved: list[int]) -> None:
    for target, fd in zip((0, 2), saved):
        if fd >= 0:
            os.dup2(fd, target)
            os.close(fd)


def tcsh_words(line: str) -> list[str]:
    """The words after the program name in tcsh's COMMAND_LINE; the last is the one being typed."""
    import shlex

    try:
        words = shlex.split(line)
    except ValueError:  # an open quote: the word being typed
        words = line.split()
    if not line or line[-1].isspace():
        words.append("")
    return words[1:] or [""]


# -- what to offer ---------------------------------------------------------------------------------


class _Line:
    """What the words before the cursor say: flag values by dest, positionals, an option awaiting a value."""

    def __init__(self, parser: argparse.ArgumentParser, words: Sequence[str]) -> None:
        self.values: dict[str, Any] = {}
        self.positionals: list[str] = []
        self.pending: argparse.Action | None = None
        self.positional_only = False
        self.verb: str | None = None
        options = parser._option_string_actions
        index = 0
        while index < len(words):
            word = words[index]
            index += 1
            if self.positional_only or not word.startswith("-") or word == "-":
                self.positionals.append(word)
            elif word == "--":
                self.positional_only = True
            elif word.startswith("--") and "=" in word:
                flag, _, value = word.partition("=")
                if flag in options:
                    self._record(options[flag], value)
            elif word in options and options[word].nargs == 0:
                self._record(options[word], None)
            elif word in options and index < len(words):
                self._record(options[word], words[index])
                index += 1
            elif word in options:
                self.pending = options[word]
            elif word[:2] in options and options[word[:2]].nargs != 0:  # -nNAMESPACE
                self._record(options[word[:2]], word[2:])

    def _record(self, action: argparse.Action, value: str | None) -> None:
        import argparse

        if action.nargs == 0:  # --flag, --no-flag, --flag=true
            self.values[action.dest] = action.const if value is None else value.lower() in ("1", "t", "true")
        elif isinstance(action, argparse._AppendAction):
            self.values.setdefault(action.dest, []).append(value)
        else:
            self.values[action.dest] = value

    def connection_flags(self) -> ConnectionFlags:
        from oc_virt_expose.model.settings import ConnectionFlags

        known = set(ConnectionFlags._fields)
        given: dict[str, Any] = {dest: tuple(value) if isinstance(value, list) else value
                                 for dest, value in self.values.items() if dest in known}
        for dest in FILE_DESTS & given.keys():  # the shell hands words over unexpanded
            given[dest] = os.path.expanduser(os.path.expandvars(str(given[dest])))
        return ConnectionFlags(**given)


def candidates(words: Sequence[str], *, describe: bool = False) -> tuple[list[str], int]:
    """(candidates, cobra directive) for `words`, the arguments after the program name, the last one
    being typed. With `describe`, candidates carry a tab and a one-line description."""
    *typed, current = list(words) or [""]
    verb = typed[0] if typed[:1] and typed[0] in VERBS else None
    parser = verb_parser(build_parser(), verb or DEFAULT_VERB)
    line = _Line(parser, typed[1:] if verb else typed)
    line.verb = verb
    if line.pending is not None:
        return _values(line.pending, current, line)
    if current.startswith("--") and "=" in current and not line.positional_only:
        flag, _, value = current.partition("=")
        action = parser._option_string_actions.get(flag)
        if action is None or action.nargs == 0:
            return [], DIRECTIVE_NO_FILES
        found, directive = _values(action, value, line)
        return [f"{flag}={item}" for item in found], directive
    if current.startswith("-") and not line.positional_only:
        return _flags(parser, current, describe), DIRECTIVE_NO_FILES
    return _positional(line, current, describe), DIRECTIVE_NO_FILES


def _flags(parser: argparse.ArgumentParser, current: str, describe: bool) -> list[str]:
    import argparse

    found = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        for flag in action.option_strings:
            if flag.startswith(current):
                found.append(f"{flag}\t{_first_line(action.help)}" if describe and action.help else flag)
    return found


def _first_line(text: str) -> str:
    return " ".join(text.split())[:100]


def _positional(line: _Line, current: str, describe: bool) -> list[str]:
    if not line.positionals:
        if "/" in current:  # TYPE/NAME
            kind, _, name = current.partition("/")
            return [f"{kind}/{item}" for item in _names(kind, name, line)]
        verbs = [] if line.verb else [verb for verb in VERBS if verb.startswith(current)]
        return verbs + [f"{kind.short}\t{kind.kind}" if describe else kind.short
                        for kind in RESOURCE_KINDS if kind.short.startswith(current)]
    takes_one = line.verb == "delete"  # expose and list take several NAMEs
    if "/" not in line.positionals[0] and (len(line.positionals) == 1 or not takes_one):
        return [name for name in _names(line.positionals[0], current, line) if name not in line.positionals[1:]]
    return []


def _values(action: argparse.Action, current: str, line: _Line) -> tuple[list[str], int]:
    if action.dest in FILE_DESTS:
        return [], DIRECTIVE_FILES
    if action.dest in KUBECONFIG_DESTS:
        offered = _from_kubeconfig(KUBECONFIG_DESTS[action.dest], line)
    elif action.dest == "service_name" and line.verb == "delete":  # an existing Service; expose names a new one
        offered = _list_names("v1", "services", line)
    else:
        offered = list(action.choices or value_sets().get(action.dest, ()))
    return [item for item in offered if item.startswith(current)], DIRECTIVE_NO_FILES


def value_sets() -> dict[str, tuple[str, ...]]:
    """The fixed values of flags (argparse checks them case-insensitively, so they are not `choices`)."""
    from oc_virt_expose.commands.expose.options import RestartPolicy
    from oc_virt_expose.model import ports, service
    from oc_virt_expose.model.settings import DryRun, OutputFormat

    return {
        "service_type": service.SERVICE_TYPES,
        "protocol": ports.PROTOCOLS,
        "session_affinity": service.SESSION_AFFINITIES,
        "ip_family_policy": service.IP_FAMILY_POLICIES,
        "ip_families": (*service.IP_FAMILIES, ",".join(service.IP_FAMILIES),
                        ",".join(reversed(service.IP_FAMILIES))),
        "restart": tuple(item.value for item in RestartPolicy),
        "dry_run": tuple(item.value for item in DryRun),
        "output": tuple(item.value for item in OutputFormat),
        "cluster_ip": ("None",),
    }


def _from_kubeconfig(section: str, line: _Line) -> list[str]:
    from oc_virt_expose.access.kubeconfig import config_paths, load_config

    flags = line.connection_flags()
    config = load_config(config_paths(flags, os.environ), explicit=bool(flags.kubeconfig))
    if section == "namespaces":
        return sorted({str(context["namespace"]) for context in config["contexts"].values()
                       if context.get("namespace")})
    return sorted(config[section])


def _names(type_word: str, current: str, line: _Line) -> list[str]:
    """Names of the objects of that TYPE in the namespace the command would use."""
    kind = parse_resource_type(type_word)
    return [name for name in _list_names(kind.api_version, kind.plural, line) if name.startswith(current)]


def _list_names(api_version: str, plural: str, line: _Line) -> list[str]:
    """Names of the objects of a resource in the namespace the command would use (one LIST)."""
    from oc_virt_expose.access.client import Client, resource_path
    from oc_virt_expose.access.kubeconfig import load_connection

    connection = load_connection(line.connection_flags())._replace(request_timeout=budget())
    with Client(connection) as client:
        listing = client.list(resource_path(api_version, plural, namespace=connection.namespace))
    names = (str((item.get("metadata") or {}).get("name") or "") for item in listing.get("items") or [])
    return sorted(name for name in names if name)


# -- the scripts in completions/ -------------------------------------------------------------------

_BASH_PREAMBLE = r"""
# virt-expose: VM names from the cluster and values from the kubeconfig, listed by the program itself
# (its hidden `__complete` mode: words typed so far in, one candidate a line out, nothing on errors).
_virt_expose_dynamic() {
  local program="${COMP_WORDS[0]/#\~/$HOME}"
  "$program" __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$1" </dev/null 2>/dev/null
}
"""

_ZSH_PREAMBLE = r"""
# virt-expose: VM names from the cluster and values from the kubeconfig, listed by the program itself
# (its hidden `__complete` mode: words typed so far in, one candidate a line out, nothing on errors).
_virt_expose_dynamic() {
  local -a found
  found=(${(f)"$("${words[1]/#\~/$HOME}" __complete "${(@)words[2,CURRENT-1]}" "$PREFIX" </dev/null 2>/dev/null)"})
  compadd -a found
}
"""


def decorate(parser: argparse.ArgumentParser, prog: str) -> argparse.ArgumentParser:
    """Give the actions of a parser from `cli.build_parser` what shtab needs; for generating scripts only
    (fixed values become `choices` here, which the real parser leaves out to accept any case)."""
    import argparse

    import shtab

    dynamic = {"bash": "_virt_expose_dynamic", "zsh": "_virt_expose_dynamic",
               "tcsh": f"`{prog} {HIDDEN_TCSH}`",
               "preamble": {"bash": _BASH_PREAMBLE, "zsh": _ZSH_PREAMBLE}}
    fixed = value_sets()
    nested = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    every_parser: list[argparse.ArgumentParser] = [parser, *(each for action in nested
                                                            for each in action.choices.values())]
    for action in (action for each in every_parser for action in each._actions):
        if action.dest in fixed:
            action.choices = fixed[action.dest]
        elif action.dest in FILE_DESTS:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif action.dest in KUBECONFIG_DESTS or action.dest in ("resource_names", "resource_name", "service_name"):
            action.complete = dynamic  # type: ignore[attr-defined]
        elif action.dest == "resource_type":
            action.choices = tuple(kind.short for kind in RESOURCE_KINDS)
    return parser


def completion_parser(prog: str) -> argparse.ArgumentParser:
    """The grammar the scripts complete: every verb, and each TYPE word as the first word of the default
    verb (`PROG vm NAME [flags]` is `PROG expose vm NAME [flags]`), a subcommand of its own here."""
    parser = build_parser(prog)
    verbs = subparsers(parser)
    for kind in RESOURCE_KINDS:
        add_expose_arguments(verbs.add_parser(kind.short, help=f"expose a {kind.kind}"), with_type=False)
    return parser


def script(shell: str, prog: str) -> str:
    """The completion script of `prog` for `shell`, as `make completions` writes it."""
    import shtab

    # zsh's completion of a subcommand's positional does not reach the dynamic function through shtab's
    # nested _arguments; its script completes the default verb's grammar, `PROG TYPE NAME [flags]`
    grammar = verb_parser(build_parser(prog, (DEFAULT_VERB,)), DEFAULT_VERB) if shell == "zsh" \
        else completion_parser(prog)
    text = shtab.complete(decorate(grammar, prog), shell)
    note = "# Generated by `make completions` (oc_virt_expose/cli/completion.py) from the real parser: do not edit.\n"
    first, _, rest = text.partition("\n")
    if first.startswith("#compdef"):  # zsh finds the file through its first line
        return f"{first}\n{note}{rest}"
    return note + text


def scripts() -> dict[str, str]:
    """File name in completions/ -> content, for every shell and program name."""
    return {pattern.format(prog=prog): script(shell, prog) for prog in PROGRAMS for shell, pattern in SHELLS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m oc_virt_expose.cli.completion DIRECTORY`: (re)write the scripts there."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m oc_virt_expose.cli.completion DIRECTORY\n")
        return 2
    os.makedirs(args[0], exist_ok=True)
    for name, text in scripts().items():
        with open(os.path.join(args[0], name), "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
