"""BigCommerce: REST client, normalizer, change feed and the sandbox store."""
from __future__ import annotations

from connectors.bigcommerce.changefeed import ChangeBatch, ChangeFeed, Cursor, OrderChange
from connectors.bigcommerce.client import BigCommerceClient
from connectors.bigcommerce.errors import (
    ApiError,
    FatalApiError,
    NotFoundError,
    RefusedRequestError,
    RetriableApiError,
)
from connectors.bigcommerce.normalize import (
    NormalizeError,
    normalize_order,
    normalize_shipment,
    status_labels,
)
from connectors.bigcommerce.policy import RetryPolicy
from connectors.bigcommerce.shipments import same_shipment

__all__ = [
    "ApiError", "BigCommerceClient", "ChangeBatch", "ChangeFeed", "Cursor", "FatalApiError",
    "NormalizeError", "NotFoundError", "OrderChange", "RefusedRequestError", "RetriableApiError",
    "RetryPolicy", "normalize_order", "normalize_shipment", "same_shipment", "status_labels",
]
