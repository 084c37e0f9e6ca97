"""Extract the response schemas the sandbox must honour from the BigCommerce OpenAPI files.

Usage: python scripts/derive_bc_schemas.py REFERENCE_DIR [OUT_JSON]
REFERENCE_DIR holds orders.v2.oas2.yml and webhooks.v3.yml (bigcommerce/docs snapshot).
OUT_JSON defaults to connectors/bigcommerce/sandbox/spec_schemas.json.

Each schema is self-contained JSON Schema (draft 2020-12): $refs are inlined, and two OpenAPI 3.0
quirks are translated:
- `nullable: true` becomes a type list with "null" (JSON Schema has no `nullable`).
- `oneOf` becomes `anyOf`: the spec's alternatives overlap. The *_Resource link schemas declare
  no required properties, so a full object also matches them, and oneOf would reject valid
  bodies (e.g. [v2] order_RespOnly.properties.consignments with consignment_structure=object,
  [v2] shippingConsignment_Get line_items with full orderProducts).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

DROP = {
    "example",
    "examples",
    "x-examples",
    "description",
    "x-internal",
    "title",
    "x-tags",
    "readOnly",
    "deprecated",
}
V2 = "orders.v2.oas2.yml"
WH = "webhooks.v3.yml"
# name in the output -> (spec file, JSON pointer of the schema)
WANTED = {
    "v2.orders": (
        V2,
        "/components/responses/orderCollection_Resp/content/application~1json/schema",
    ),
    "v2.order": (V2, "/components/responses/order_Resp/content/application~1json/schema"),
    "v2.orders_count": (
        V2,
        "/components/responses/ordersCount_Resp/content/application~1json/schema",
    ),
    "v2.products": (
        V2,
        "/components/responses/orderProductsCollection_Resp/content/application~1json/schema",
    ),
    "v2.product": (
        V2,
        "/components/responses/orderProductLineItem_Resp/content/application~1json/schema",
    ),
    "v2.shipping_addresses": (
        V2,
        "/components/responses/orderShippingAddressCollection_Resp/content/application~1json/schema",
    ),
    "v2.shipping_address": (
        V2,
        "/components/responses/orderShippingAddress_Resp/content/application~1json/schema",
    ),
    "v2.shipments": (
        V2,
        "/components/responses/orderShipmentCollection_Resp/content/application~1json/schema",
    ),
    "v2.shipment": (
        V2,
        "/components/responses/orderShipment_Resp/content/application~1json/schema",
    ),
    "v2.count": (V2, "/components/responses/orderCount_Resp/content/application~1json/schema"),
    "v2.order_statuses": (
        V2,
        "/components/responses/orderStatusCollection_Resp/content/application~1json/schema",
    ),
    "v2.order_status": (
        V2,
        "/components/responses/orderStatus_Resp/content/application~1json/schema",
    ),
    "v2.error": (V2, "/components/responses/404_Resp/content/application~1json/schema"),
    "v3.hooks": (WH, "/components/responses/webhooks_Resp/content/application~1json/schema"),
    "v3.hook": (WH, "/components/responses/webhook_Resp/content/application~1json/schema"),
    "v3.hook_created": (WH, "/paths/~1hooks/post/responses/200/content/application~1json/schema"),
    "v3.error": (WH, "/components/schemas/error_Full"),
    "v3.error_detailed": (WH, "/components/schemas/errorDetailed_Full"),
    "webhook.store_order_created": (WH, "/components/schemas/store_order_created"),
    "webhook.store_order_updated": (WH, "/components/schemas/store_order_updated"),
    "webhook.store_order_archived": (WH, "/components/schemas/store_order_archived"),
    "webhook.store_order_statusUpdated": (WH, "/components/schemas/store_order_statusUpdated"),
    "webhook.store_shipment_created": (WH, "/components/schemas/store_shipment_created"),
    "webhook.store_shipment_updated": (WH, "/components/schemas/store_shipment_updated"),
    "webhook.store_shipment_deleted": (WH, "/components/schemas/store_shipment_deleted"),
}
# Not in the copied specs: GET /v2/time is defined in reference/store_information.v2.yml, which
# was not copied (FACTS.md §2). Written by hand from FACTS.md: `{time}` epoch seconds.
EXTRA = {
    "v2.time": {"type": "object", "required": ["time"], "properties": {"time": {"type": "integer"}}}
}


def pointer(doc: Any, path: str) -> Any:
    for part in path.lstrip("/").split("/"):
        doc = doc[part.replace("~1", "/").replace("~0", "~")]
    return doc


def translate(node: Any, doc: Any, seen: tuple[str, ...] = ()) -> Any:
    """Inline $refs (same file only), translate nullable and oneOf, drop documentation keys."""
    if isinstance(node, list):
        return [translate(x, doc, seen) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise ValueError(f"recursive $ref {ref}")
        return translate(pointer(doc, ref[1:]), doc, (*seen, ref))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROP or key == "nullable":
            continue
        if key == "properties":  # property names are data, not keywords: never drop them
            out[key] = {name: translate(v, doc, seen) for name, v in value.items()}
        else:
            out["anyOf" if key == "oneOf" else key] = translate(value, doc, seen)
    if node.get("nullable"):
        if "type" in out:
            out["type"] = (
                [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
            )
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def derive(reference: Path) -> dict[str, Any]:
    docs = {
        name: yaml.safe_load((reference / name).read_text(encoding="utf-8")) for name in (V2, WH)
    }
    schemas: dict[str, Any] = {}
    for name, (spec, path) in WANTED.items():
        schema = translate(pointer(docs[spec], path), docs[spec])
        schemas[name] = {"$comment": f"{spec} {path}", **schema}
    schemas.update(EXTRA)
    return {
        "$comment": "Generated by scripts/derive_bc_schemas.py from the bigcommerce/docs "
        "snapshot (FACTS.md); do not edit by hand.",
        "schemas": schemas,
    }


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    out = (
        Path(argv[1])
        if len(argv) > 1
        else (
            Path(__file__).resolve().parent.parent
            / "connectors/bigcommerce/sandbox/spec_schemas.json"
        )
    )
    out.write_text(
        json.dumps(derive(Path(argv[0])), indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"wrote {len(WANTED) + len(EXTRA)} schemas to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
