"""`rulesync failures list | retry ORDER | forget ORDER`: the retry set (engine/retries.py)."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from engine import db, report_sync
from engine.cli_rules import set_option
from engine.cli_sync import load_config, order_id_argument, state_option
from engine.config import Config
from engine.errors import RulesyncError
from engine.retries import RetrySet
from engine.session import open_sync
from engine.state import SqlState

COLUMNS = ("order", "direction", "attempts", "first failed", "last failed", "next attempt",
           "reason")


@contextmanager
def _retry_set(config: Config) -> Iterator[RetrySet | None]:
    """The state file's retry set, or None when there is no state file (nothing is created)."""
    if not db.exists(config.state):
        yield None
        return
    state = SqlState(config.state)
    try:
        yield RetrySet(state)
    finally:
        state.close()


def _entries(config: Config, order_id: int) -> list[dict[str, Any]]:
    with _retry_set(config) as retries:
        found = retries.entries(order_id) if retries else []
    if not found:
        raise RulesyncError(f"order {order_id} is not in the retry set of {db.shown(config.state)} "
                            "(see `rulesync failures list`)")
    return found


def _rows(entries: list[dict[str, Any]]) -> str:
    return report_sync.table(COLUMNS, [
        (e["order_id"], e["direction"], e["attempts"], e["first_failed_at"], e["last_failed_at"],
         e["next_attempt_at"], e["reason"]) for e in entries])


@click.group()
def failures() -> None:
    """Orders that failed and wait for a retry: list, retry now, or forget them."""


@failures.command("list")
@state_option
@click.option("--json", "as_json", is_flag=True, help="Print the retry set as JSON.")
@click.pass_context
def list_failures(ctx: click.Context, state_path: str | None, as_json: bool) -> None:
    """Every order in the retry set: why it failed, how often, and when it is tried next."""
    with _retry_set(load_config(ctx, state_path)) as retries:
        entries = retries.entries() if retries else []
        counts = retries.counts(time.time()) if retries else {"waiting": 0, "due": 0}
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
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def retry(ctx: click.Context, order_id: int, state_path: str | None, sets: tuple[str, ...],
          as_json: bool) -> None:
    """Retry ORDER now, whatever its backoff says. Exit 1 when it fails again."""
    config = load_config(ctx, state_path, sets)
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
@click.option("--json", "as_json", is_flag=True, help="Print what was forgotten as JSON.")
@click.pass_context
def forget(ctx: click.Context, order_id: int, state_path: str | None, as_json: bool) -> None:
    """Stop retrying ORDER. A later change of the order in the store is still synced."""
    config = load_config(ctx, state_path)
    entries = _entries(config, order_id)
    with _retry_set(config) as retries:
        assert retries is not None
        retries.forget(order_id)
    if as_json:
        click.echo(json.dumps({"order_id": order_id, "forgotten": entries}, indent=2))
    else:
        click.echo(f"order {order_id}: forgotten, no longer retried\n" + _rows(entries))
