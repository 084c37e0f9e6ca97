from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.ledger import HistoryEntry, Ledger

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_every_change_is_recorded_with_its_origin_note_and_time(
    ledger: Ledger, new_order: Callable[..., dict[str, Any]]
) -> None:
    ledger.import_order(new_order(), origin="store", note="status 7", at=AT)
    ledger.mark_paid(101, origin="store", note="status 11", at=AT)
    ledger.ship(101, "1Z", "ups", {"MUG-1": 1}, origin="user", note="first box", at=AT)
    ledger.close_order(101, origin="rulesync", note="auto_close", at=AT)
    entries = ledger.history(101)
    assert [(e.seq, e.kind, e.origin, e.note) for e in entries] == [
        (1, "imported", "store", "status 7"),
        (2, "paid", "store", "status 11"),
        (3, "shipment_recorded", "user", "first box"),
        (4, "closed", "rulesync", "auto_close"),
    ]
    assert all(e.at == "2026-11-27T10:00:00+00:00" and e.order_id == 101 for e in entries)
    assert entries[2].details["id"] == "L-1"
    assert entries[2].details["items"] == [
        {"order_product_id": 5, "product_id": 77, "sku": "MUG-1", "quantity": 1}]


def test_no_op_records_no_history(imported: Ledger,
                                  new_order: Callable[..., dict[str, Any]]) -> None:
    imported.mark_paid(101, origin="store")
    seq = imported.last_seq()
    imported.import_order(new_order(), origin="store")
    imported.mark_paid(101, origin="store")
    assert imported.last_seq() == seq


def test_changes_since_is_the_feed_across_orders(
    ledger: Ledger, new_order: Callable[..., dict[str, Any]]
) -> None:
    assert ledger.last_seq() == 0 and ledger.changes_since(0) == []
    ledger.import_order(new_order(id=1), origin="store")
    ledger.import_order(new_order(id=2), origin="store")
    ledger.mark_paid(1, origin="user")
    ledger.mark_packed(2, origin="user")
    feed = ledger.changes_since(0, limit=10)
    assert [(e.seq, e.order_id, e.kind) for e in feed] == [
        (1, 1, "imported"), (2, 2, "imported"), (3, 1, "paid"), (4, 2, "packed")]
    assert [e.seq for e in ledger.changes_since(2, limit=1)] == [3]
    assert ledger.changes_since(4) == []
    assert ledger.last_seq() == 4


def test_history_entry_as_dict(imported: Ledger) -> None:
    entry = imported.history(101)[0]
    assert isinstance(entry, HistoryEntry)
    assert entry.as_dict() == {"seq": 1, "order_id": 101, "kind": "imported", "origin": "store",
                               "note": "", "at": entry.at,
                               "details": {"store_status_id": 7, "warnings": []}}


def test_history_survives_reopening(location: str,
                                    new_order: Callable[..., dict[str, Any]]) -> None:
    with Ledger(location) as first:
        first.import_order(new_order(), origin="store")
    with Ledger(location) as second:
        assert [e.kind for e in second.history(101)] == ["imported"]
        assert second.import_order(new_order(), origin="store") is False
