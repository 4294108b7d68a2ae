"""`main()`: argv in, exit code out; the one place errors become messages and exit codes.

`--help`, `--version` and usage errors import only this layer, the commands' `options` modules and the
pure `model` (a unit test holds this); a command's `run`, and with it the HTTPS client, is imported only
once its options validate (by name, from `COMMANDS`: for start-up time, not to break a cycle).

A command is two modules: `options` with `request_from_args(args) -> request` (parsed and validated, no
cluster) and `OUTPUTS` (its `-o` formats), and `run` with `run(request, common, printer) -> ExitCode`.
"""

from __future__ import annotations

import argparse
import os
import sys

from oc_virt_expose.cli.argv import normalize_argv, value_flags, with_verb
from oc_virt_expose.cli.parser import DEFAULT_VERB, VERBS, build_parser, program_name, verb_parser
from oc_virt_expose.errors import STOPS, ExitCode, Terminated, UsageError, VirtExposeError, stop_code

COMPLETION_WORDS = ("__complete", "__complete_tcsh")  # the hidden first words `completion.dispatch` answers
COMMANDS = {verb: f"oc_virt_expose.commands.{verb}" for verb in VERBS}
"""Verb -> the package of its `options` and `run` modules."""


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code. The only place errors become messages."""
    argv0 = sys.argv[0] if sys.argv else ""
    words = sys.argv[1:] if argv is None else list(argv)
    if words[:1] and words[0] in COMPLETION_WORDS:  # the shell asks for candidates; nothing else is printed
        from oc_virt_expose.cli import completion

        return int(completion.dispatch(argv0, words) or 0)
    prog = program_name(argv0)
    words = with_verb(words, VERBS, DEFAULT_VERB, _value_flags(prog, words))
    try:
        return _run(build_parser(prog, verbs=words[:1]), words)
    except UsageError as error:
        help_command = prog if words[0] == DEFAULT_VERB else f"{prog} {words[0]}"
        return _report(f"{_one_line(error)}. See '{help_command} --help' for usage.", error.exit_code)
    except VirtExposeError as error:
        return _report(_one_line(error), error.exit_code)
    except STOPS as stop:
        return int(stop_code(stop))
    except BrokenPipeError:
        _silence_stdout()
        return int(ExitCode.ERROR)


def _value_flags(prog: str, words: list[str]) -> set[str]:
    """The flags that take a value, for finding the verb among `words`: needed only when a verb's name
    stands elsewhere than first (`-n NS list`, or a VM named `list`), so the common line builds one verb's
    parser only (start-up time)."""
    if (words[:1] and words[0] in VERBS) or not set(words) & set(VERBS):
        return set()
    parser = build_parser(prog)
    return set().union(*(value_flags(verb_parser(parser, verb)) for verb in VERBS))


def _run(parser: argparse.ArgumentParser, words: list[str]) -> int:
    verb, rest = words[0], words[1:]
    command = verb_parser(parser, verb)
    try:  # intermixed: positionals after flags too (`vm --port 80 NAME`), as kubectl takes them
        args, unknown = command.parse_known_intermixed_args(normalize_argv(rest, command))
    except SystemExit as done:  # --help and --version print and "exit"
        return int(done.code or 0)
    if unknown:
        raise UsageError("unrecognized arguments: " + " ".join(w if w.isprintable() and w.strip() == w and w
                                                                 else repr(w) for w in unknown))
    args.command = verb
    return int(_dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    import importlib
    import signal

    from oc_virt_expose.commands.common import common_options

    signal.signal(signal.SIGTERM, _terminate)  # from here on a run may have changed something to report

    options = importlib.import_module(f"{COMMANDS[args.command]}.options")
    request = options.request_from_args(args)
    common = common_options(args, options.OUTPUTS)
    run = importlib.import_module(f"{COMMANDS[args.command]}.run")
    from oc_virt_expose.access.transport import on_unverified_server
    from oc_virt_expose.ui.printer import Printer

    printer = Printer(sys.stdout, sys.stderr, output=common.output, dry_run=common.dry_run)
    on_unverified_server(printer.warning)  # a command says it once; completion (not dispatched here) never
    return int(run.run(request, common, printer))


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _one_line(error: BaseException) -> str:
    """The message on one line: line breaks become spaces; other control characters, which only come from
    what was typed or read (a flag's value, a file), are escaped."""
    text = " ".join(str(error).split("\n")).strip().rstrip(".")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _report(message: str, code: int) -> int:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    return int(code)


def _silence_stdout() -> None:
    """After a closed pipe, keep Python's exit-time flush of stdout from failing loudly."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (tests), or already closed
        return
