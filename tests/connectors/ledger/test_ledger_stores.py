"""One ledger, several stores: orders keyed by store, and the migration that keyed them.

Runs on SQLite and on PostgreSQL (the `location` fixture)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectors.ledger import Ledger, UnknownOrder
from connectors.ledger.schema import MIGRATIONS, connect, schema_version


def test_two_stores_hold_an_order_with_the_same_id_apart(
        location: str, new_order: Callable[..., dict[str, Any]]) -> None:
    with Ledger(location, "eu") as eu, Ledger(location, "us") as us:
        assert eu.import_order(new_order(customer_message="from eu"), origin="store")
        assert us.import_order(new_order(customer_message="from us"), origin="store")
        assert eu.mark_paid(101, origin="user")
        us.ship(101, "1Z-US", "ups")
        eu_order, us_order = eu.get(101), us.get(101)
        assert eu_order is not None and us_order is not None
        assert (eu_order.store, eu_order.customer_message, eu_order.paid) == \
            ("eu", "from eu", True)
        assert (us_order.store, us_order.paid, us_order.shipped) == ("us", False, "complete")
        assert eu_order.shipments == () and eu.stores_of(101) == ["eu", "us"]
        assert [h.kind for h in eu.history(101)] == ["imported", "paid"]
        assert [h.kind for h in us.history(101)] == ["imported", "shipment_recorded"]
        # Each store's outbound feed holds its own changes only.
        assert [h.kind for h in eu.changes_since(0)] == ["imported", "paid"]
        assert us.last_seq() > eu.last_seq()
        assert eu.count_orders() == 1 and eu.count_orders(every_store=True) == 2
        assert [(o.store, o.order_id) for o in eu.list_orders(every_store=True)] == \
            [("eu", 101), ("us", 101)]
        # Several orders in one read: this store's, whole, and None where it has none.
        assert eu.get_many([101, 102]) == {101: eu_order, 102: None}
        assert us.get_many([101]) == {101: us_order}
        with Ledger(location, "ap") as ap:
            assert ap.get(101) is None and ap.get_many([101]) == {101: None}
            with pytest.raises(UnknownOrder):
                ap.mark_paid(101, origin="user")


def _at_version_1(location: str) -> None:
    """A ledger as rulesync wrote it before stores: schema 1, with an order, two shipments of
    which one was deleted again, and history."""
    db = connect(location, MIGRATIONS[:1])
    try:
        with db.transaction():
            db.execute("INSERT INTO ledger_orders (order_id, billed, paid, details, imported_at) "
                       "VALUES (101, 1, 1, ?, 'then')", (DETAILS,))
            for source in ("S-1", "S-2"):
                db.execute("INSERT INTO ledger_shipments (order_id, source_id, store_id, origin, "
                           "recorded_at) VALUES (101, ?, ?, 'store', 'then')", (source, source))
            db.execute("INSERT INTO ledger_shipment_items (shipment_id, order_product_id, sku, "
                       "quantity) VALUES (1, 5, 'MUG-1', 1)")
            db.execute("DELETE FROM ledger_shipments WHERE id = 2")
            for kind in ("imported", "paid", "shipment_recorded"):
                db.execute("INSERT INTO ledger_history (order_id, kind, origin, at) "
                           "VALUES (101, ?, 'store', 'then')", (kind,))
    finally:
        db.close()


DETAILS = ('{"line_items": [{"id": 5, "sku": "MUG-1", "quantity": 2}], "customer": null, '
           '"billing_address": null, "shipping_address": null, "totals": {}, '
           '"customer_message": "", "staff_notes": "", "store_status_id": 11, '
           '"store_status": "Awaiting Fulfillment"}')


def test_a_ledger_from_before_stores_becomes_the_default_store(
        location: str, new_order: Callable[..., dict[str, Any]]) -> None:
    _at_version_1(location)
    with Ledger(location) as ledger:  # opening migrates
        order = ledger.get(101)
        assert order is not None and (order.store, order.paid) == ("default", True)
        assert [(s.id, [i.quantity for i in s.items]) for s in order.shipments] == [("S-1", [1])]
        assert [(h.seq, h.kind) for h in ledger.history(101)] == \
            [(1, "imported"), (2, "paid"), (3, "shipment_recorded")]
        # Generated values go on from where they were: the deleted shipment's id is not reused.
        made = ledger.ship(101, "1Z", "ups")
        assert made["id"] == "L-3" and ledger.last_seq() == 4
    with Ledger(location, "eu") as eu:
        assert eu.import_order(new_order(), origin="store")  # the same id, another store
        assert eu.last_seq() == 5
    db = connect(location)
    try:
        assert schema_version(db) == len(MIGRATIONS) == 2
        with pytest.raises(Exception, match="(?i)foreign key"):  # still enforced, by store
            db.execute("INSERT INTO ledger_history (store, order_id, kind, origin, at) "
                       "VALUES ('us', 101, 'paid', 'user', 'now')")
    finally:
        db.close()
