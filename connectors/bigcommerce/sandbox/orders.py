"""Validation and application of order writes (POST / PUT /v2/orders), on stored records."""

from __future__ import annotations

from typing import Any

from . import records
from .errors import ApiError
from .statuses import BY_ID

PUT_SPECIAL = frozenset(
    {"status_id", "products", "billing_address", "shipping_addresses", "is_deleted"}
)


def check_status(value: Any) -> int:
    try:
        status_id = int(value)
    except (TypeError, ValueError) as e:
        raise ApiError(400, "The field 'status_id' must be an integer.") from e
    if status_id not in BY_ID:
        raise ApiError(400, f"The status_id {status_id} is not a valid order status (0-14).")
    return status_id


def check_new_product(body: Any) -> None:
    """[v2] components.schemas.orderCustomProduct_Post: name, quantity, both prices required."""
    if not isinstance(body, dict):
        raise ApiError(400, "Each product must be an object.")
    if not body.get("name") and not body.get("product_id"):
        raise ApiError(400, "A product needs a 'name' (custom product) or a 'product_id'.")
    try:
        if int(body["quantity"]) < 1:
            raise ApiError(400, "A product's quantity must be at least 1.")
    except (KeyError, TypeError, ValueError) as e:
        raise ApiError(400, "A product needs an integer 'quantity'.") from e
    if body.get("product_id") in (None, 0) and not {"price_inc_tax", "price_ex_tax"} <= set(body):
        raise ApiError(400, "A custom product needs 'price_inc_tax' and 'price_ex_tax'.")


def check_post(body: dict[str, Any]) -> None:
    """[v2] paths./orders.post: `products` and `billing_address` are required."""
    if not isinstance(body.get("billing_address"), dict):
        raise ApiError(400, "The required field 'billing_address' was not supplied.")
    products = body.get("products")
    if not isinstance(products, list) or not products:
        raise ApiError(400, "The required field 'products' was not supplied.")
    for product in products:
        check_new_product(product)
    if "status_id" in body:
        check_status(body["status_id"])
    addresses = body.get("shipping_addresses", [])
    if not isinstance(addresses, list) or not all(isinstance(a, dict) for a in addresses):
        raise ApiError(400, "The field 'shipping_addresses' must be a list of objects.")


def check_put(order: dict[str, Any], body: dict[str, Any]) -> None:
    """Validate the whole PUT body before anything is applied."""
    unknown = sorted(set(body) - records.PUT_SCALARS - records.PUT_IGNORED - PUT_SPECIAL)
    if unknown:
        raise ApiError(400, f"The field '{unknown[0]}' is not a writable order field.")
    if "status_id" in body:
        check_status(body["status_id"])
    if len(str(body.get("staff_notes", ""))) > 65535:
        raise ApiError(400, "The field 'staff_notes' is longer than 65535 characters.")
    lines = {x["id"]: x for x in order["products"]}
    for product in body.get("products", []):
        if "id" not in product:
            check_new_product(product)
            continue
        line = lines.get(int(product["id"]))
        if line is None:
            raise ApiError(422, f"Order product {product['id']} does not belong to the order.")
        if int(product.get("quantity", line["quantity"])) < line["quantity_shipped"]:
            # Our choice: shipped items cannot be removed; delete the shipment first.
            raise ApiError(
                422,
                f"Order product {line['id']} has {line['quantity_shipped']} "
                "shipped; its quantity cannot go below that.",
            )
    ids = {a["id"] for a in order["addresses"]}
    for addr in body.get("shipping_addresses", []):
        if int(addr.get("id", -1)) not in ids:
            raise ApiError(
                422, "Each shipping address in a PUT needs the 'id' of an existing address."
            )


def apply_products(order: dict[str, Any], products: list[dict[str, Any]], next_id: Any) -> None:
    """PATCH semantics ([v2] order_Put.products): with id update, quantity 0 remove, else add."""
    for product in products:
        if "id" not in product:
            address_id = order["addresses"][0]["id"] if order["addresses"] else 0
            order["products"].append(
                records.new_line(next_id("line"), order["id"], address_id, product)
            )
            continue
        line = next(x for x in order["products"] if x["id"] == int(product["id"]))
        if int(product.get("quantity", line["quantity"])) == 0:
            order["products"].remove(line)
        else:
            records.update_line(line, product)


def apply_put(order: dict[str, Any], body: dict[str, Any], next_id: Any) -> None:
    for key in records.PUT_SCALARS & set(body):
        order[key] = body[key]
    if "status_id" in body:
        order["status_id"] = int(body["status_id"])
    if "billing_address" in body:
        order["billing_address"].update(
            records.address({**order["billing_address"], **body["billing_address"]})
        )
    for addr in body.get("shipping_addresses", []):
        target = next(a for a in order["addresses"] if a["id"] == int(addr["id"]))
        target.update({k: str(v) for k, v in addr.items() if k in records.ADDRESS_FIELDS})
        if "shipping_method" in addr:
            target["shipping_method"] = str(addr["shipping_method"])
    apply_products(order, body.get("products", []), next_id)
    if "is_deleted" in body:  # true archives, like DELETE (FACTS.md §3)
        order["is_deleted"] = bool(body["is_deleted"])
