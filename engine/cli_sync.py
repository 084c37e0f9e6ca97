"""CLI verbs that sync: plan, apply, explain."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from connectors.ledger.ledger import Ledger
from engine import config as configuration
from engine import report_sync
from engine.cli_rules import parse_settings, set_option
from engine.session import open_sync
from engine.state import SqliteState


def state_option(f: Any) -> Any:
    return click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="The SQLite file of the ledger and sync state.")(f)


def load_config(ctx: click.Context, state_path: Path | None, sets: tuple[str, ...] = ()
                ) -> configuration.Config:
    return configuration.load(ctx.obj.get("config"), state=state_path,
                              settings=parse_settings(sets))


@click.command()
@state_option
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_context
def plan(ctx: click.Context, state_path: Path | None, sets: tuple[str, ...], as_json: bool) -> None:
    """Show what `apply` would do, both directions. Changes nothing, not even the watermark."""
    with open_sync(load_config(ctx, state_path, sets)) as sync:
        summary = sync.run(dry=True)
    click.echo(report_sync.plan_json(summary) if as_json else report_sync.plan_text(summary))


@click.command()
@state_option
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def apply(ctx: click.Context, state_path: Path | None, sets: tuple[str, ...], as_json: bool) -> None:
    """Sync both directions. Exit 1 when an action failed for good."""
    with open_sync(load_config(ctx, state_path, sets)) as sync:
        with _progress() as progress:
            summary = sync.run(dry=False, progress=progress)
    click.echo(report_sync.apply_json(summary) if as_json else report_sync.apply_text(summary))
    raise SystemExit(1 if summary.counts["errors"] else 0)


class _progress:
    """A counter on stderr while a long run reads orders, only when stderr is a terminal."""

    def __enter__(self) -> Callable[[int], None]:
        self.tty = sys.stderr.isatty()
        return self.show

    def show(self, n: int) -> None:
        if self.tty and n % 100 == 0:
            click.echo(f"\rorders read: {n}", err=True, nl=False)

    def __exit__(self, *exc: Any) -> None:
        if self.tty:
            click.echo("\r", err=True, nl=False)


@click.command()
@click.argument("order_id", type=int)
@state_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def explain(ctx: click.Context, order_id: int, state_path: Path | None, as_json: bool) -> None:
    """The decision history of one order."""
    config = load_config(ctx, state_path)
    state = SqliteState(config.state)
    with Ledger(config.state) as ledger:
        decisions, history = state.decisions(order_id), ledger.history(order_id)
    state.close()
    show = report_sync.explain_json if as_json else report_sync.explain_text
    click.echo(show(order_id, decisions, history))


@click.command()
@click.option("--orders", "count", default=30, show_default=True,
              help="How many orders the sandbox store starts with.")
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".rulesync/demo"), show_default=True,
              help="Where the demo keeps its ledger and state (started afresh each run).")
def demo(count: int, workdir: Path) -> None:
    """Sandbox store + seeded orders + both directions, no credentials."""
    from engine import demo as demo_run

    workdir.mkdir(parents=True, exist_ok=True)
    for leftover in workdir.glob("state.sqlite*"):
        leftover.unlink()
    raise SystemExit(demo_run.run(workdir, count, click.echo))


@click.command("init")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
def init_cmd(target: Path, force: bool) -> None:
    """Start a project: rulesync.yaml, copies of the rules and tests, pre-commit and CI."""
    from engine.init import init

    for path in init(target, force=force):
        click.echo(f"wrote {path}")
    click.echo("next: edit rulesync.yaml, then `rulesync validate rules && rulesync test rules`")
