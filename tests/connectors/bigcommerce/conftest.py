"""Fixtures for the sandbox tests: a real server on loopback, a frozen clock, an HTTP helper."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from tests.support.sandbox_api import SANDBOX_T0, SandboxApi

SPEC_SCHEMAS = (
    Path(__file__).resolve().parents[3] / "connectors/bigcommerce/sandbox/spec_schemas.json"
)


@pytest.fixture
def sandbox_clock() -> FrozenClock:
    return FrozenClock(SANDBOX_T0)


@pytest.fixture
def sandbox(sandbox_clock: FrozenClock) -> Iterator[Sandbox]:
    with Sandbox(clock=sandbox_clock, webhook_retry_delays=(0.05, 0.1)) as sb:
        yield sb


@pytest.fixture
def sandbox_api(sandbox: Sandbox) -> Iterator[SandboxApi]:
    api = SandboxApi(sandbox)
    yield api
    api.close()


@pytest.fixture(scope="session")
def spec_validate() -> Any:
    """validate(name, body) against a schema derived from the official spec (raises on mismatch)."""
    schemas = json.loads(SPEC_SCHEMAS.read_text(encoding="utf-8"))["schemas"]

    def validate(name: str, body: Any) -> None:
        jsonschema.Draft202012Validator(schemas[name]).validate(body)

    return validate
