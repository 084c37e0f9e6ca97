"""`rulesync status`: distributed mode at a glance, from the state and the broker."""
from __future__ import annotations

import json
from typing import Any

import click

from engine.cli.sync import load_config, state_option
from engine.connect.session import open_state
from engine.distributed.settings import settings, shown


@click.command()
@state_option
@click.option("--store", "store_name", metavar="NAME", help="Only this store.")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
@click.pass_context
def status(ctx: click.Context, state_path: str | None, store_name: str | None, as_json: bool
           ) -> None:
    """Distributed mode at a glance: the broker's queues, the workers alive and, per store, the
    work waiting (webhook deliveries and change-feed slices), the age of the oldest, the last
    successful sync and the retry set. Exit 1 when the broker cannot be reached."""
    from engine.cli.report_sync import table
    from engine.distributed.status import (
        broker_queues,
        quota_use,
        store_status,
        workers_alive,
    )

    config = load_config(ctx, state_path)
    found = settings(config)
    stores = config.select(store_name)
    state = open_state(config.state, stores[0].store_name)
    try:
        view: dict[str, Any] = {"broker": {"url": shown(found.url),
                           "queues": broker_queues(found.url, [found.orders_queue,
                                                               found.feed_queue])},
                "workers": workers_alive(state),
                "stores": {s.store_name: {**store_status(state.for_store(s.store_name)),
                                          "quota": quota_use(s, state)} for s in stores}}
    finally:
        state.close()
    queues = view["broker"]["queues"]
    if as_json:
        click.echo(json.dumps(view, indent=2, default=str))
    else:
        click.echo(f"broker {view['broker']['url']}: " + (
            f"unreachable: {queues['error']}" if "error" in queues else "; ".join(
                f"{name} {q['messages']} message(s), {q['consumers']} consumer(s)"
                for name, q in queues.items())))
        click.echo(f"workers alive, by their heartbeats in the state: {len(view['workers'])}" +
                   (f" ({', '.join(view['workers'])})" if view["workers"] else
                    " (start `rulesync worker`)"))
        click.echo(table(("store", "waiting", "oldest", "last sync", "retry set", "run",
                          "quota left"), [
            (name, s["queue_depth"], f"{s['oldest_pending_seconds']} s", s["last_sync"] or "-",
             s["retry_set"], s["run"]["stage"] if s["run"] else "-", _quota(s["quota"]))
            for name, s in view["stores"].items()]))
        for name, s in view["stores"].items():
            if s["last_run_error"]:
                click.echo(f"store {name}: last run failed: {s['last_run_error']}")
    raise SystemExit(1 if "error" in queues else 0)


def _quota(found: dict[str, Any] | None) -> str:
    if not found:
        return "-"
    left = (f"{found['tokens_left']:g} of {found['tokens_at_most']} tokens "
            f"({found['requests']} per {found['window_seconds']:g} s)")
    return left + (" (paused)" if found["paused"] else "")
