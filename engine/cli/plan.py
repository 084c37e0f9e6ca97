"""CLI verbs that look without syncing: plan (the sync `apply` would make, on a private copy of
the state) and explain (one order's decisions). Both reach the state, the store and the OMS only
through the composition root (engine/connect/session.py)."""
from __future__ import annotations

from pathlib import Path

import click

from engine.cli import report_sync
from engine.cli.rules import set_option
from engine.cli.sync import (
    chosen_stores,
    load_config,
    load_store,
    order_id_argument,
    progress_for,
    push_current_option,
    state_option,
    store_option,
)
from engine.config import Config
from engine.connect import session
from engine.errors import RulesyncError
from engine.sync import per_store
from engine.sync.summary import Summary


@click.command()
@state_option
@store_option
@set_option
@push_current_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_context
def plan(ctx: click.Context, state_path: str | None, store_name: str | None,
         sets: tuple[str, ...], push_current: bool, as_json: bool) -> None:
    """Show what `apply` would do, both directions, with each action's outcome. Reads the store
    as `apply` does; writes nothing, not even a missing state file. With several stores, each
    store's plan (or --store NAME's)."""
    config = load_config(ctx, state_path, sets)
    if not config.stores:
        config.select(store_name)  # an unknown --store is refused, not ignored
        summary = _plan(ctx, config, push_current)
        click.echo(report_sync.plan_json(summary) if as_json else report_sync.plan_text(summary))
        return
    chosen = chosen_stores(config, store_name)
    with session.plan_copy(config.state) as copy:  # one copy for every store's plan
        outcomes = per_store.run_each(
            chosen, lambda store: _plan(ctx, store, push_current, copy))
    click.echo(per_store.as_json(outcomes) if as_json
               else per_store.text(outcomes, report_sync.plan_text))
    raise SystemExit(1 if any(o.error for o in outcomes) else 0)


def _plan(ctx: click.Context, config: Config, push_current: bool,
          copy: Path | str | None = None) -> Summary:
    with progress_for(ctx, "plan", config) as progress:
        return session.plan(config, push_current=push_current, copy=copy, progress=progress)


@click.command()
@order_id_argument
@state_option
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@click.pass_context
def explain(ctx: click.Context, order_id: int, state_path: str | None, store_name: str | None,
            as_json: bool) -> None:
    """The decision history of one order. Exit 1 when rulesync knows nothing of it."""
    config = load_store(ctx, state_path, store_name)
    if not session.state_exists(config.state):
        raise RulesyncError(f"no state at {config.state}: run `rulesync apply` first")
    with session.opened(config, config.state) as (state, oms):
        decisions, history = state.decisions(order_id), oms.history(order_id)
    if not decisions and not history:
        raise RulesyncError(f"order {order_id}: no decision recorded and not in the ledger "
                            f"({session.shown(config.state)})")
    show = report_sync.explain_json if as_json else report_sync.explain_text
    click.echo(show(order_id, decisions, history))
