"""What the package's records share. Records are `NamedTuple`s (or plain classes where they are filled in
step by step), not dataclasses: `dataclasses` imports `inspect`, ~25 ms of CPU a run.

A record that holds a secret (a token, a password, a key) shows it as `<redacted>` in its repr(), so that no
traceback, log line or debugging print can reveal it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any, Protocol

REDACTED = "<redacted>"


class Record(Protocol):
    """A NamedTuple."""

    @property
    def _fields(self) -> tuple[str, ...]: ...

    def __iter__(self) -> Iterator[Any]: ...


def repr_hiding(record: Record, secrets: Collection[str]) -> str:
    """`Name(field=value, ...)` with the fields named in `secrets` shown as `<redacted>` when they are set."""
    shown = ", ".join(f"{field}={REDACTED if field in secrets and value else repr(value)}"
                      for field, value in zip(record._fields, record))
    return f"{type(record).__name__}({shown})"
