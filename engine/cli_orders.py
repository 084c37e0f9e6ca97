"""`rulesync orders`: look at the ledger and make the OMS-side changes outbound rules push."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from connectors.ledger.ledger import Ledger
from engine.cli_sync import load_config, state_option
from engine.errors import RulesyncError
from engine.report_sync import ledger_table

ORIGIN = "user"  # a ledger user: these changes are what outbound rules push to the store


def _ledger(ctx: click.Context, state_path: Path | None) -> Ledger:
    config = load_config(ctx, state_path)
    if not config.state.exists():
        raise RulesyncError(f"no ledger at {config.state}: run `rulesync apply` first")
    return Ledger(config.state)


@click.group()
def orders() -> None:
    """The ledger's orders."""


@orders.command("list")
@state_option
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_orders(ctx: click.Context, state_path: Path | None, limit: int, as_json: bool) -> None:
    """List ledger orders."""
    with _ledger(ctx, state_path) as ledger:
        found = ledger.list_orders(limit=limit)
    if as_json:
        click.echo(json.dumps([o.as_dict() for o in found], indent=2, default=str))
        return
    click.echo(ledger_table(found))


@orders.command()
@click.argument("order_id", type=int)
@state_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, order_id: int, state_path: Path | None, as_json: bool) -> None:
    """Show one ledger order."""
    with _ledger(ctx, state_path) as ledger:
        order = ledger.get(order_id)
    if order is None:
        raise RulesyncError(f"order {order_id} is not in the ledger")
    data = order.as_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    state = data["state"]
    click.echo(f"order {order_id}: " + ", ".join(
        [k for k in ("billed", "paid", "packed", "closed", "void", "refunded") if state[k]]
        + [f"shipped {state['shipped']}"]))
    for item in data["line_items"]:
        click.echo(f"  {item['sku']}: {item.get('quantity')} x {item.get('name', '')}")
    for s in data["shipments"]:
        items = ", ".join(f"{i['sku']}={i['quantity']}" for i in s["items"])
        click.echo(f"  shipment {s['id']}: {s['carrier']} {s['tracking_number']} ({items})")
    for w in data["warnings"]:
        click.echo(f"  warning: {w}")


def _flag_command(name: str, method: Callable[..., bool], doc: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("order_id", type=int)
    @state_option
    @click.option("--note", default="", help="A note kept in the order's history.")
    @click.pass_context
    def command(ctx: click.Context, order_id: int, state_path: Path | None, note: str) -> None:
        with _ledger(ctx, state_path) as ledger:
            changed = method(ledger, order_id, origin=ORIGIN, note=note)
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
@click.argument("order_id", type=int)
@click.option("--tracking", required=True, help="The tracking number.")
@click.option("--carrier", required=True, help="The carrier, e.g. ups, usps, fedex, dhl.")
@click.option("--item", "items", multiple=True, metavar="SKU=QTY",
              help="Units to ship (repeatable); default: everything not yet shipped.")
@state_option
@click.pass_context
def ship(ctx: click.Context, order_id: int, tracking: str, carrier: str, items: tuple[str, ...],
         state_path: Path | None) -> None:
    """Record a shipment in the ledger."""
    with _ledger(ctx, state_path) as ledger:
        made = ledger.ship(order_id, tracking, carrier, _items(items), origin=ORIGIN)
    shipped = ", ".join(f"{i['sku']}={i['quantity']}" for i in made["items"])
    click.echo(f"order {order_id}: shipment {made['id']} recorded ({shipped})")

