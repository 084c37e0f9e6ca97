"""`rulesync orders`: look at the ledger and make the OMS-side changes outbound rules push."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from connectors.ledger.ledger import Ledger
from engine.cli.report_sync import ledger_table
from engine.cli.sync import load_config, order_id_argument, state_option, store_option
from engine.connect.ports import DEFAULT_STORE
from engine.errors import RulesyncError
from engine.serve.webhooks import MAX_ID
from engine.storage import db

ORIGIN = "user"  # a ledger user: these changes are what outbound rules push to the store
NOTE_OPTION = click.option("--note", default="", help="A note kept in the order's history.")


def _ledger(ctx: click.Context, state_path: str | None, store_name: str | None, *,
            every: bool = False) -> Ledger:
    """The ledger, as the store's (--store, or the only one); `every`: any store will do."""
    config = load_config(ctx, state_path)
    config = config.each_store()[0] if every else config.only(store_name)
    if not db.exists(config.state):
        raise RulesyncError(f"no ledger at {config.state}: run `rulesync apply` first")
    return Ledger(config.state, config.store_name)


@click.group()
def orders() -> None:
    """The ledger's orders."""


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


@orders.command("list")
@state_option
@store_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(0, MAX_ID),
              help="At most this many orders, lowest ids first; 0 lists them all.")
@JSON_OPTION
@click.pass_context
def list_orders(ctx: click.Context, state_path: str | None, store_name: str | None, limit: int,
                as_json: bool) -> None:
    """List ledger orders (of every store, unless --store), and say how many more lie past
    --limit."""
    every = store_name is None
    with _ledger(ctx, state_path, store_name, every=every) as ledger:
        total = ledger.count_orders(every_store=every)
        found = ledger.list_orders(limit=limit or max(total, 1), every_store=every)
    more = total - len(found)
    if as_json:
        click.echo(_json({"orders": [o.as_dict() for o in found], "total": total, "more": more}))
        return
    click.echo(ledger_table(found, stores=every and any(o.store != DEFAULT_STORE for o in found)))
    click.echo(f"{len(found)} of {total} order(s)" + (
        f"; {more} more past --limit {limit} (--limit 0 lists all)" if more else ""))


@orders.command()
@order_id_argument
@state_option
@store_option
@JSON_OPTION
@click.pass_context
def show(ctx: click.Context, order_id: int, state_path: str | None, store_name: str | None,
         as_json: bool) -> None:
    """Show one ledger order: state, customer, shipping address, items, shipments. With
    several stores, --store may be left out when only one store has the order."""
    config = load_config(ctx, state_path)
    if store_name is None and config.stores and db.exists(config.state):
        with Ledger(config.state) as ledger:
            having = ledger.stores_of(order_id)
        store_name = having[0] if len(having) == 1 else None
    with _ledger(ctx, state_path, store_name) as ledger:
        order = ledger.get(order_id)
    if order is None:
        raise RulesyncError(f"order {order_id} is not in the ledger")
    data = order.as_dict()
    click.echo(_json(data) if as_json else order_text(data))


def _address(a: dict[str, Any] | None) -> str:
    if not a:
        return "-"
    name = " ".join(x for x in (a.get("first_name"), a.get("last_name")) if x)
    region = " ".join(x for x in (a.get("state"), a.get("zip")) if x)
    parts = (name, a.get("company"), a.get("street_1"), a.get("street_2"), a.get("city"), region,
             a.get("country_iso2") or a.get("country"))
    return ", ".join(str(x) for x in parts if x)


def order_text(data: dict[str, Any]) -> str:
    state, customer = data["state"], data["customer"] or {}
    lines = [f"order {data['order_id']}: " + ", ".join(
        [k for k in ("billed", "paid", "packed", "closed", "void", "refunded") if state[k]]
        + [f"shipped {state['shipped']}"])]
    who = " ".join(x for x in (customer.get("first_name"), customer.get("last_name")) if x)
    contact = " ".join(x for x in (customer.get("email") and f"<{customer['email']}>",
                                   customer.get("phone")) if x)
    lines.append(f"  customer: {' '.join(x for x in (who, contact) if x) or '-'}")
    lines.append(f"  ship to:  {_address(data['shipping_address'])}")
    lines.append(f"  total:    {data['totals'].get('total_inc_tax', '-')} "
                 f"{data['totals'].get('currency', '')}".rstrip())
    lines += [f"  {i['sku']}: {i.get('quantity')} x {i.get('name', '')}" for i in data["line_items"]]
    for s in data["shipments"]:
        items = ", ".join(f"{i['sku']}={i['quantity']}" for i in s["items"])
        lines.append(f"  shipment {s['id']}: {s['carrier']} {s['tracking_number'] or '(no tracking)'}"
                     f" ({items})")
    lines += [f"  warning: {w}" for w in data["warnings"]]
    return "\n".join(lines)


def _flag_command(name: str, method: Callable[..., bool], doc: str) -> click.Command:
    @click.command(name, help=doc)
    @order_id_argument
    @state_option
    @store_option
    @NOTE_OPTION
    @JSON_OPTION
    @click.pass_context
    def command(ctx: click.Context, order_id: int, state_path: str | None,
                store_name: str | None, note: str, as_json: bool) -> None:
        with _ledger(ctx, state_path, store_name) as ledger:
            changed = method(ledger, order_id, origin=ORIGIN, note=note)
        if as_json:
            click.echo(_json({"order_id": order_id, "change": name, "recorded": changed}))
            return
        click.echo(f"order {order_id}: {name} " + ("recorded" if changed else "(already so)"))
    return command


FLAG_COMMANDS = (("pay", Ledger.mark_paid, "Mark an order paid."),
                 ("pack", Ledger.mark_packed, "Mark an order packed."),
                 ("close", Ledger.close_order, "Close an order."),
                 ("void", Ledger.void, "Void an order."),
                 ("refund", Ledger.refund, "Refund an order."))
for spec in FLAG_COMMANDS:
    orders.add_command(_flag_command(*spec))


def _items(pairs: tuple[str, ...]) -> dict[str, int] | None:
    out: dict[str, int] = {}
    for pair in pairs:
        sku, sep, qty = pair.rpartition("=")
        if not sep or not sku or not qty.isdigit() or int(qty) < 1:
            raise click.BadParameter(f"'{pair}' is not SKU=QTY", param_hint="--item")
        out[sku] = out.get(sku, 0) + int(qty)
    return out or None


@orders.command()
@order_id_argument
@click.option("--tracking", default="", help="The tracking number (required unless --no-tracking).")
@click.option("--no-tracking", is_flag=True, help="Ship without a tracking number, on purpose.")
@click.option("--carrier", required=True, help="The carrier, e.g. ups, usps, fedex, dhl.")
@click.option("--item", "items", multiple=True, metavar="SKU=QTY",
              help="Units to ship (repeatable); default: everything not yet shipped.")
@state_option
@store_option
@NOTE_OPTION
@JSON_OPTION
@click.pass_context
def ship(ctx: click.Context, order_id: int, tracking: str, no_tracking: bool, carrier: str,
         items: tuple[str, ...], state_path: str | None, store_name: str | None, note: str,
         as_json: bool) -> None:
    """Record a shipment in the ledger."""
    tracking = tracking.strip()
    if bool(tracking) == no_tracking:
        raise click.UsageError("give --tracking NUMBER, or --no-tracking to ship without one"
                               if not tracking else "--tracking and --no-tracking exclude each other")
    parsed = _items(items)
    with _ledger(ctx, state_path, store_name) as ledger:
        made = ledger.ship(order_id, tracking, carrier, parsed, origin=ORIGIN, note=note)
    if as_json:
        click.echo(_json({"order_id": order_id, "shipment": made}))
        return
    shipped = ", ".join(f"{i['sku']}={i['quantity']}" for i in made["items"])
    click.echo(f"order {order_id}: shipment {made['id']} recorded ({shipped})")

