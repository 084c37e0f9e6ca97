"""The list-page path (consignments) and the sub-resource path normalize to the same dict.

Uses the sandbox's in-process store renderer (no socket) as a second, independent producer of
BigCommerce-shaped orders.
"""
from __future__ import annotations

from connectors.bigcommerce.normalize import normalize_order, normalize_shipment
from connectors.bigcommerce.sandbox import Store
from connectors.bigcommerce.sandbox.seeding import seed

INCLUDE = frozenset({"consignments", "consignments.line_items"})


def test_both_paths_agree_on_every_seeded_order() -> None:
    store = Store("sandbox")
    seed(store, 45, 3)
    order_ids = store.order_ids({})
    multi = 0
    for order_id in order_ids:
        from_list = normalize_order(store.order(order_id, INCLUDE))
        plain = store.order(order_id)
        from_parts = normalize_order(plain, store.sub_resources(order_id, "products"),
                                     store.sub_resources(order_id, "addresses"))
        assert isinstance(from_list, dict), from_list
        assert from_list == from_parts
        assert sum(li["quantity_shipped"] for li in from_list["line_items"]) == (
            from_list["items_shipped"])
        multi += from_list["shipping_address_count"] > 1
        for shipment in store.sub_resources(order_id, "shipments"):
            normalized = normalize_shipment(shipment, from_list["line_items"])
            assert all(item["sku"] for item in normalized["items"])
    assert len(order_ids) == 45 and multi > 0
