"""v2 order endpoints ([v2] paths./orders*, /order_statuses*); time from store_information.v2."""

from __future__ import annotations

from typing import Any

from .errors import ApiError, not_found
from .query import page_of, paging
from .routing import Request, Response, json_or_204, route
from .statuses import BY_ID, STATUSES, status_body

INCLUDES = {"consignments", "consignments.line_items", "fees"}


def _include(req: Request) -> frozenset[str]:
    """`include` ([v2] components.parameters.order_includes); consignments need the object form."""
    wanted = frozenset(x for x in req.query.get("include", "").split(",") if x)
    if wanted - INCLUDES:
        raise ApiError(400, f"Unknown include '{sorted(wanted - INCLUDES)[0]}'.")
    if (
        wanted & {"consignments", "consignments.line_items"}
        and req.query.get("consignment_structure") != "object"
    ):
        # The legacy array form is not in the spec schema; the sandbox serves only the object form.
        raise ApiError(400, "include=consignments needs consignment_structure=object.")
    return wanted


def _order(req: Request, order_id: int, include: frozenset[str]) -> dict[str, Any]:
    body = req.store.order(order_id, include)
    if "fees" in include:
        body["fees"] = []  # the sandbox has no fees
    return body


@route("GET", "/v2/time")
def get_time(req: Request) -> Response:
    return Response(200, {"time": req.store.now()})


@route("GET", "/v2/order_statuses")
def list_statuses(req: Request) -> Response:
    labels = req.store.labels()
    return Response(200, [status_body(s, labels.get(s.id)) for s in STATUSES])


@route("GET", "/v2/order_statuses/{status_id}")
def get_status(req: Request) -> Response:
    status = BY_ID.get(req.args["status_id"])
    if status is None:
        raise not_found(f"order status {req.args['status_id']}")
    return Response(200, status_body(status, req.store.labels().get(status.id)))


@route("GET", "/v2/orders")
def list_orders(req: Request) -> Response:
    paging(req.query)  # 400/413 before anything else
    include = _include(req)
    ids = page_of(req.store.order_ids(req.query), req.query)
    return json_or_204([_order(req, i, include) for i in ids])


@route("GET", "/v2/orders/count")
def count_orders(req: Request) -> Response:
    """[v2] components.schemas.ordersCount_Full: per-status counts in display order, total."""
    counts = req.store.status_counts(req.query)
    labels = req.store.labels()
    statuses = []
    for status in sorted(STATUSES, key=lambda s: s.order):
        body = status_body(status, labels.get(status.id))
        del body["order"]
        statuses.append({**body, "count": counts.get(status.id, 0), "sort_order": status.order})
    return Response(200, {"statuses": statuses, "count": sum(counts.values())})


@route("POST", "/v2/orders")
def create_order(req: Request) -> Response:
    # [v2] paths./orders.post lists 200; the brief for this sandbox and BigCommerce's
    # status-code guide use 201 Created for a POST that creates. Clients should accept both.
    return Response(201, req.store.create_order(req.body))


@route("DELETE", "/v2/orders")
def delete_all_orders(req: Request) -> Response:
    # [v2] paths./orders.delete archives ALL orders (FACTS.md §3: "never call it"). The safe
    # choice for a test double is to refuse it, so a client bug shows up instead of wiping data.
    raise ApiError(405, "DELETE /v2/orders (archive all orders) is refused by the sandbox.")


@route("GET", "/v2/orders/{id}")
def get_order(req: Request) -> Response:
    return Response(200, _order(req, req.args["id"], _include(req)))


@route("PUT", "/v2/orders/{id}")
def update_order(req: Request) -> Response:
    return Response(200, req.store.update_order(req.args["id"], req.body))


@route("DELETE", "/v2/orders/{id}")
def archive_order(req: Request) -> Response:
    req.store.archive_order(req.args["id"])
    return Response(204)


def _one(items: list[dict[str, Any]], item_id: int, what: str) -> Response:
    for item in items:
        if item["id"] == item_id:
            return Response(200, item)
    raise not_found(f"{what} {item_id}")


@route("GET", "/v2/orders/{id}/products")
def list_products(req: Request) -> Response:
    return json_or_204(page_of(req.store.sub_resources(req.args["id"], "products"), req.query))


@route("GET", "/v2/orders/{id}/products/{product_id}")
def get_product(req: Request) -> Response:
    items = req.store.sub_resources(req.args["id"], "products")
    return _one(items, req.args["product_id"], "order product")


@route("GET", "/v2/orders/{id}/shipping_addresses")
def list_addresses(req: Request) -> Response:
    return json_or_204(page_of(req.store.sub_resources(req.args["id"], "addresses"), req.query))


@route("GET", "/v2/orders/{id}/shipping_addresses/{address_id}")
def get_address(req: Request) -> Response:
    items = req.store.sub_resources(req.args["id"], "addresses")
    return _one(items, req.args["address_id"], "shipping address")


@route("GET", "/v2/orders/{id}/shipments")
def list_shipments(req: Request) -> Response:
    return json_or_204(page_of(req.store.sub_resources(req.args["id"], "shipments"), req.query))


@route("GET", "/v2/orders/{id}/shipments/count")
def count_shipments(req: Request) -> Response:
    return Response(200, {"count": len(req.store.sub_resources(req.args["id"], "shipments"))})


@route("GET", "/v2/orders/{id}/shipments/{shipment_id}")
def get_shipment(req: Request) -> Response:
    items = req.store.sub_resources(req.args["id"], "shipments")
    return _one(items, req.args["shipment_id"], "shipment")


@route("POST", "/v2/orders/{id}/shipments")
def create_shipment(req: Request) -> Response:
    return Response(201, req.store.create_shipment(req.args["id"], req.body))


@route("PUT", "/v2/orders/{id}/shipments/{shipment_id}")
def update_shipment(req: Request) -> Response:
    return Response(
        200, req.store.update_shipment(req.args["id"], req.args["shipment_id"], req.body)
    )


@route("DELETE", "/v2/orders/{id}/shipments/{shipment_id}")
def delete_shipment(req: Request) -> Response:
    req.store.delete_shipment(req.args["id"], req.args["shipment_id"])
    return Response(204)


@route("DELETE", "/v2/orders/{id}/shipments")
def delete_shipments(req: Request) -> Response:
    """Deletes all shipments of ONE order ([v2] paths./orders/{order_id}/shipments.delete)."""
    req.store.delete_shipment(req.args["id"], None)
    return Response(204)
