"""kubectl's command-line forms that argparse lacks, applied to argv before parsing.

- The verb: `expose` when none is given (`oc virt-expose vm NAME`); a verb after global flags
  (`-n NS list`) is moved to the front, as kubectl accepts flags anywhere.
- Booleans as `--force`, `--force=true` or `--force=false`.
- A bare `--dry-run` means `--dry-run=client`.
- A value that starts with '-' after a flag that takes one (`--timeout -5s` -> `--timeout=-5s`).
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Iterator, Sequence

from oc_virt_expose.errors import UsageError

DRY_RUN_MODES = ("none", "client", "server")
HELP_FLAGS = ("-h", "--help")
_TRUE = ("1", "t", "true")
_FALSE = ("0", "f", "false")


def with_verb(argv: Sequence[str], verbs: Collection[str], default: str, value_flags: Collection[str]) -> list[str]:
    """`argv` with its verb first: the first positional word when it is one of `verbs`, else `default`."""
    for index in _positional_indexes(argv, value_flags):
        if argv[index] in verbs:
            return [argv[index], *argv[:index], *argv[index + 1:]]
        break
    return [default, *argv]


def _positional_indexes(argv: Sequence[str], value_flags: Collection[str]) -> Iterator[int]:
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            return
        if not word.startswith("-") or word == "-":
            yield index
        elif word in value_flags:
            index += 1  # its value
        index += 1


def normalize_argv(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """The kubectl forms above, for the flags `parser` (one verb's) declares."""
    booleans, values = boolean_flags(parser), value_flags(parser)
    result: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else None
        flag, equals, value = arg.partition("=")
        index += 1
        if arg == "--":
            return result + list(argv[index - 1:])
        if equals and flag in booleans:
            result.append(_boolean_flag(flag, value))
        elif arg == "--dry-run" and (following or "").lower() not in DRY_RUN_MODES:  # read as `--dry-run=` reads it
            result.append("--dry-run=client")
        elif arg in values and following is not None and following.startswith("-"):
            result.append(f"{arg}={following}")
            index += 1
        else:
            result.append(arg)
    return result


def value_flags(parser: argparse.ArgumentParser) -> set[str]:
    """The option strings that take one value (flags, help and version take none: nargs 0)."""
    return {option for action in parser._actions if action.nargs is None for option in action.option_strings}


def boolean_flags(parser: argparse.ArgumentParser) -> set[str]:
    """`--force` and the like: the flags that have a `--no-` twin."""
    options = parser._option_string_actions
    return {option for option in options if option.startswith("--") and f"--no-{option[2:]}" in options}


def _boolean_flag(flag: str, value: str) -> str:
    if value.lower() in _TRUE:
        return flag
    if value.lower() in _FALSE:
        return "--no-" + flag[2:]
    raise UsageError(f'invalid {flag} "{value}": must be true or false')
