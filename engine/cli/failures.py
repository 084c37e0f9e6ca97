"""`rulesync failures list | retry ORDER | forget ORDER`: the retry set, through the state's
protocol (engine/connect/ports.py `RetrySet`; the SQL backends': engine/storage/retries.py)."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from engine.cli import report_sync
from engine.cli.rules import set_option
from engine.cli.sync import load_config, order_id_argument, state_option, store_option
from engine.config import Config
from engine.connect import session
from engine.connect.ports import DEFAULT_STORE, RetrySet
from engine.connect.session import open_sync
from engine.errors import ConfigError, RulesyncError

COLUMNS = ("order", "direction", "attempts", "first failed", "last failed", "next attempt",
           "reason")


@contextmanager
def _retry_set(config: Config) -> Iterator[RetrySet | None]:
    """The state's retry set, or None when there is no state file (nothing is created)."""
    if not session.state_exists(config.state):
        yield None
        return
    state = session.open_state(config.state, config.store_name)
    try:
        yield state.retries()
    finally:
        state.close()


def _waiting(config: Config, order_id: int) -> list[dict[str, Any]]:
    with _retry_set(config) as retries:
        return retries.entries(order_id) if retries else []


def _holding(config: Config, store_name: str | None, order_id: int) -> Config:
    """The store a command about one order of the retry set works on: --store, the only store
    configured, or else the one store whose retry set holds the order."""
    stores = config.select(store_name)
    holding = [s for s in stores if _waiting(s, order_id)] if len(stores) > 1 else stores
    if len(holding) > 1:
        raise ConfigError(f"order {order_id} waits in the retry set of {len(holding)} stores: "
                          f"say which with --store ({', '.join(s.store_name for s in holding)})")
    if not holding:
        raise RulesyncError(f"order {order_id} is not in the retry set of any of the "
                            f"{len(stores)} stores (see `rulesync failures list`)")
    return holding[0]


def _entries(config: Config, order_id: int) -> list[dict[str, Any]]:
    found = _waiting(config, order_id)
    if not found:
        raise RulesyncError(f"order {order_id} is not in the retry set of {session.shown(config.state)} "
                            "(see `rulesync failures list`)")
    return found


def _rows(entries: list[dict[str, Any]]) -> str:
    """The entries, one a row; with a store column when they come from several stores."""
    stores = any(e["store"] != DEFAULT_STORE for e in entries)
    return report_sync.table(("store",) * stores + COLUMNS, [
        (e["store"],) * stores + (e["order_id"], e["direction"], e["attempts"],
                                  e["first_failed_at"], e["last_failed_at"], e["next_attempt_at"],
                                  e["reason"]) for e in entries])


@click.group()
def failures() -> None:
    """Orders that failed and wait for a retry: list, retry now, or forget them."""


@failures.command("list")
@state_option
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the retry set as JSON.")
@click.pass_context
def list_failures(ctx: click.Context, state_path: str | None, store_name: str | None,
                  as_json: bool) -> None:
    """Every order in the retry set (of every store, unless --store): why it failed, how
    often, and when it is tried next."""
    entries, counts = [], {"waiting": 0, "due": 0}
    for store in load_config(ctx, state_path).select(store_name):
        with _retry_set(store) as retries:
            if retries:
                entries += retries.entries()
                for key, n in retries.counts(time.time()).items():
                    counts[key] += n
    if as_json:
        click.echo(json.dumps({"failures": entries, **counts}, indent=2))
    elif not entries:
        click.echo("no order waits for a retry")
    else:
        click.echo(_rows(entries))
        click.echo(f"{counts['waiting']} order(s) wait for a retry ({counts['due']} due now)")


@failures.command()
@order_id_argument
@state_option
@store_option
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def retry(ctx: click.Context, order_id: int, state_path: str | None, store_name: str | None,
          sets: tuple[str, ...], as_json: bool) -> None:
    """Retry ORDER now, whatever its backoff says. Exit 1 when it fails again."""
    config = _holding(load_config(ctx, state_path, sets), store_name, order_id)
    _entries(config, order_id)
    with open_sync(config) as sync:
        summary = sync.retry_now(order_id)
        left = sync.retries.entries(order_id)
    if as_json:
        click.echo(json.dumps({"order_id": order_id, "succeeded": not left, "failures": left,
                               "summary": summary.as_dict()}, indent=2, default=str))
    else:
        click.echo(report_sync.apply_text(summary))
        click.echo(f"order {order_id}: " + ("went through, no longer in the retry set" if not left
                                            else "failed again\n" + _rows(left)))
    raise SystemExit(1 if left else 0)


@failures.command()
@order_id_argument
@state_option
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print what was forgotten as JSON.")
@click.pass_context
def forget(ctx: click.Context, order_id: int, state_path: str | None, store_name: str | None,
           as_json: bool) -> None:
    """Stop retrying ORDER. A later change of the order in the store is still synced."""
    config = _holding(load_config(ctx, state_path), store_name, order_id)
    entries = _entries(config, order_id)
    with _retry_set(config) as retries:
        assert retries is not None
        retries.forget(order_id)
    if as_json:
        click.echo(json.dumps({"order_id": order_id, "forgotten": entries}, indent=2))
    else:
        click.echo(f"order {order_id}: forgotten, no longer retried\n" + _rows(entries))
