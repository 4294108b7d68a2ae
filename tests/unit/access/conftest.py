"""The fake API server of the access tests (fake_apiserver.py): one PKI per module, a server per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.access.fake_apiserver import PKI, FakeAPI, make_pki, serve


@pytest.fixture(scope="module")
def pki() -> PKI:
    return make_pki()


@pytest.fixture
def api(tmp_path: Path, pki: PKI) -> Iterator[FakeAPI]:
    """An HTTPS API server on loopback that asks for client certificates of `pki.client_ca`."""
    yield from serve(tmp_path, pki, client_ca=True)
