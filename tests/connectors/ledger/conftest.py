from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.ledger import Ledger
from tests.support import databases

ORDER: dict[str, Any] = {
    "id": 101,
    "status_id": 7,
    "status": "Awaiting Payment",
    "date_created": "2026-11-27T10:00:00+00:00",
    "date_modified": "2026-11-27T10:00:05+00:00",
    "customer": {"id": 12, "email": "jo@example.com", "first_name": "Jo", "last_name": "Doe",
                 "phone": "555-0100"},
    "billing_address": {"first_name": "Jo", "last_name": "Doe", "street_1": "1 Main St",
                        "city": "Austin", "zip": "78701", "country_iso2": "US"},
    "shipping_address": {"id": 7, "first_name": "Jo", "last_name": "Doe",
                         "street_1": "1 Main St", "city": "Austin", "zip": "78701"},
    "shipping_address_count": 1,
    "line_items": [
        {"id": 5, "product_id": 77, "sku": "MUG-1", "name": "Mug", "quantity": 2,
         "quantity_shipped": 0, "price_inc_tax": "12.0000", "total_inc_tax": "24.0000",
         "order_address_id": 7},
        {"id": 6, "product_id": 78, "sku": "CUP-1", "name": "Cup", "quantity": 1,
         "quantity_shipped": 0, "price_inc_tax": "5.0000", "total_inc_tax": "5.0000",
         "order_address_id": 7},
    ],
    "totals": {"currency": "USD", "subtotal_inc_tax": "29.0000", "shipping_cost_inc_tax": "5.0000",
               "total_tax": "0.0000", "discount_amount": "0.0000", "total_inc_tax": "34.0000"},
    "items_total": 3,
    "items_shipped": 0,
    "customer_message": "Leave at the door",
    "staff_notes": "VIP",
    "warnings": [],
}


@pytest.fixture
def new_order() -> Callable[..., dict[str, Any]]:
    """A normalized store order (docs/formats.md) for order 101, with overrides."""

    def make(**overrides: Any) -> dict[str, Any]:
        return {**copy.deepcopy(ORDER), **overrides}

    return make


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A SQLite file, for the tests of SQLite's own behaviour."""
    return tmp_path / "rulesync.db"


@pytest.fixture(params=databases.BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a new ledger goes: a SQLite file, or a fresh PostgreSQL schema's URL."""
    with databases.location(request.param, tmp_path, "rulesync.db") as found:
        yield found


@pytest.fixture
def ledger(location: str) -> Iterator[Ledger]:
    with Ledger.open(location) as opened:
        yield opened


@pytest.fixture
def imported(ledger: Ledger, new_order: Callable[..., dict[str, Any]]) -> Ledger:
    """The ledger with order 101 (2 x MUG-1, 1 x CUP-1) imported from the store."""
    assert ledger.import_order(new_order(), origin="store")
    return ledger
