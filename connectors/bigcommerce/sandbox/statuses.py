"""The fixed order statuses 0-14 (FACTS.md §1; order_statuses.derived.json).

`order` is the control-panel display position from the example in
[v2] components.responses.orderStatusCollection_Resp; the schema does not declare it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Status:
    id: int
    name: str
    order: int
    system_description: str


STATUSES: tuple[Status, ...] = (
    Status(
        0,
        "Incomplete",
        0,
        "An incomplete order happens when a shopper reached the payment page, "
        "but did not complete the transaction.",
    ),
    Status(1, "Pending", 1, "Customer started the checkout process, but did not complete it."),
    Status(
        2,
        "Shipped",
        8,
        "Order has been shipped, but receipt has not been confirmed; "
        "seller has used the Ship Items action.",
    ),
    Status(
        3,
        "Partially Shipped",
        6,
        "Only some items in the order have been shipped, due to some "
        "products being pre-order only or other reasons.",
    ),
    Status(4, "Refunded", 11, "Seller has used the Refund action."),
    Status(
        5,
        "Cancelled",
        9,
        "Seller has cancelled an order, due to a stock inconsistency or other reasons.",
    ),
    Status(
        6,
        "Declined",
        10,
        "Seller has marked the order as declined for lack of manual payment, or other reasons.",
    ),
    Status(
        7,
        "Awaiting Payment",
        2,
        "Customer has completed checkout process, but payment has yet to be confirmed.",
    ),
    Status(
        8,
        "Awaiting Pickup",
        5,
        "Order has been pulled, and is awaiting customer pickup from a seller-specified location.",
    ),
    Status(
        9,
        "Awaiting Shipment",
        4,
        "Order has been pulled and packaged, and is awaiting collection from a shipping provider.",
    ),
    Status(
        10,
        "Completed",
        7,
        "Client has paid for their digital product and their file(s) are available for download.",
    ),
    Status(
        11,
        "Awaiting Fulfillment",
        3,
        "Customer has completed the checkout process and payment has been confirmed.",
    ),
    Status(
        12,
        "Manual Verification Required",
        13,
        "Order is on hold while some aspect needs to be manually confirmed.",
    ),
    Status(
        13,
        "Disputed",
        12,
        "Customer has initiated a dispute resolution process for the PayPal "
        "transaction that paid for the order.",
    ),
    Status(14, "Partially Refunded", 14, "Seller has partially refunded the order."),
)
BY_ID: dict[int, Status] = {s.id: s for s in STATUSES}
PENDING, SHIPPED, PARTIALLY_SHIPPED = 1, 2, 3


def status_body(status: Status, custom_label: str | None = None) -> dict[str, Any]:
    """GET /v2/order_statuses/{id} ([v2] components.schemas.orderStatus_Base plus `order`)."""
    return {
        "id": status.id,
        "name": status.name,
        "system_label": status.name,
        "custom_label": custom_label or status.name,
        "system_description": status.system_description,
        "order": status.order,
    }
