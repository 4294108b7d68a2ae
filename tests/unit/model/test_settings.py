"""`model.settings`: Go durations as kubectl reads them (`--timeout`, `--request-timeout`); the values every
command takes."""

from __future__ import annotations

import pytest

from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.settings import CommonOptions, ConnectionFlags, DryRun, parse_duration, parse_request_timeout


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0.0), ("45", 45.0), ("90s", 90.0), ("1m30s", 90.0), ("500ms", 0.5), ("1.5h", 5400.0),
    ("2h3m4s", 7384.0),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "10x", "s", "1m 2s", "-1"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="invalid duration"):
        parse_duration(text)


def test_request_timeout_zero_means_none() -> None:
    assert parse_request_timeout("0") is None
    assert parse_request_timeout(None) is None
    assert parse_request_timeout("5s") == 5.0


def test_duration_names_the_flag_and_takes_a_sign() -> None:
    with pytest.raises(UsageError, match="invalid --timeout '5y': use an integer of seconds"):
        parse_duration("5y", what="--timeout")
    assert parse_duration("-5s") == -5.0 and parse_duration("+1m") == 60.0
    assert parse_duration("1µs") == pytest.approx(1e-6)


def test_defaults_and_a_repr_without_the_token() -> None:
    assert CommonOptions() == CommonOptions(ConnectionFlags(), 0, None, DryRun.NONE)
    flags = ConnectionFlags(server="https://h:6443", token="tok-SECRET")
    assert "SECRET" not in repr(flags) and "server='https://h:6443'" in repr(flags)
