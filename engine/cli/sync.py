"""CLI verbs that sync: apply (plan and explain: plan.py), demo, init; the options they share."""
from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from engine import config as configuration
from engine.cli import report_sync
from engine.cli.progress import Progress
from engine.cli.rules import parse_settings, set_option
from engine.connect.ports import DEFAULT_STORE
from engine.connect.session import check_plugins, open_sync
from engine.errors import RulesyncError
from engine.serve.webhooks import MAX_ID
from engine.sync import per_store
from engine.sync.summary import Summary

log = logging.getLogger("rulesync.apply")


class OrderId(click.IntRange):
    """Order ids as the ledger can hold them (SQLite's 64-bit integers): anything else, a larger
    one too, is a usage error, not an overflow when the query is made."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not an order id (a whole number from 1 to {MAX_ID})",
                      param, ctx)


ORDER_ID = OrderId(1, MAX_ID)


def order_id_argument(f: Any) -> Any:
    return click.argument("order_id", type=ORDER_ID)(f)


def state_option(f: Any) -> Any:
    # A plain string: click.Path would fold a URL's "//" into one slash.
    return click.option("--state", "state_path", metavar="PATH|URL",
                        help="The ledger and sync state: a SQLite file, or a postgresql:// URL.")(f)


def load_config(ctx: click.Context, state_path: str | None, sets: tuple[str, ...] = ()
                ) -> configuration.Config:
    return configuration.load(ctx.obj.get("config"), state=state_path,
                              settings=parse_settings(sets))


def store_option(f: Any) -> Any:
    return click.option("--store", "store_name", metavar="NAME",
                        help="Only this store of the configuration's `stores:`.")(f)


def load_store(ctx: click.Context, state_path: str | None, store_name: str | None
               ) -> configuration.Config:
    """The one store a command about one store's orders works on."""
    return load_config(ctx, state_path).only(store_name)


def push_current_option(f: Any) -> Any:
    return click.option(
        "--push-current", is_flag=True,
        help="Also push the present ledger state of the orders whose changes were held while "
             "push_order_info was off (needs it on).")(f)


@click.command()
@state_option
@store_option
@set_option
@push_current_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--queue", is_flag=True, help="Have the workers do it (distributed mode, "
              "`rulesync worker`) and wait for them; the same summary.")
@click.option("--timeout", type=click.FloatRange(1, None), metavar="SECONDS",
              help="With --queue: give up waiting after this long (the workers go on).")
@click.pass_context
def apply(ctx: click.Context, state_path: str | None, store_name: str | None,
          sets: tuple[str, ...], push_current: bool, as_json: bool, queue: bool,
          timeout: float | None) -> None:
    """Sync both directions. Exit 1 when an order failed (it waits in the retry set). With
    several stores, each store in turn (or --store NAME); exit 1 when any store failed."""
    config = load_config(ctx, state_path, sets)
    if queue:
        _apply_queued(config, store_name, sets, push_current, as_json, timeout)

    def run(store: configuration.Config) -> Summary:
        return _apply(ctx, store, push_current)

    if not config.stores:
        config.select(store_name)  # an unknown --store is refused, not ignored
        summary = run(config)
        click.echo(report_sync.apply_json(summary) if as_json else report_sync.apply_text(summary))
        raise SystemExit(1 if summary.counts["errors"] else 0)
    outcomes = per_store.run_each(chosen_stores(config, store_name), run)
    click.echo(per_store.as_json(outcomes) if as_json
               else per_store.text(outcomes, report_sync.apply_text))
    raise SystemExit(1 if any(o.failed for o in outcomes) else 0)


def chosen_stores(config: configuration.Config,
                  store_name: str | None) -> tuple[configuration.Config, ...]:
    """The stores a command runs on (--store's, else all). An unknown connector or state backend
    is one error before any store runs, not one per store: the configuration is wrong, not a
    store."""
    stores = config.select(store_name)
    for store in stores:
        check_plugins(store)
    return stores


def _apply_queued(config: configuration.Config, store_name: str | None, sets: tuple[str, ...],
                  push_current: bool, as_json: bool, timeout: float | None) -> None:
    if sets or push_current:
        raise RulesyncError("apply --queue: the workers sync with rulesync.yaml's settings; "
                            "--set and --push-current are for a single-process apply")
    from engine.distributed.queued import apply_queued

    outcomes = apply_queued(config, config.select(store_name), timeout)
    if not config.stores:
        outcome = outcomes[0]
        if outcome.summary is None:
            raise RulesyncError(outcome.error)
        summary = outcome.summary
        click.echo(report_sync.apply_json(summary) if as_json else report_sync.apply_text(summary))
        raise SystemExit(1 if summary.counts["errors"] else 0)
    click.echo(per_store.as_json(outcomes) if as_json
               else per_store.text(outcomes, report_sync.apply_text))
    raise SystemExit(1 if any(o.failed for o in outcomes) else 0)


def _apply(ctx: click.Context, config: configuration.Config, push_current: bool) -> Summary:
    with open_sync(config) as sync:
        with progress_for(ctx, "apply", config) as progress:
            summary = sync.run(progress=progress, push_current=push_current)
        stats = sync.store.stats()
        named = f"store {config.store_name}: " if config.store_name != DEFAULT_STORE else ""
        log.info("%sread %d store order(s) in %.1f s; store API: %d request(s), %d retried, %d "
                 "rate-limited", named, progress.read, progress.elapsed(),
                 stats.get("requests", 0), stats.get("retries", 0), stats.get("rate_limited", 0))
    return summary


def progress_for(ctx: click.Context, verb: str, config: configuration.Config) -> Progress:
    """A bar on a terminal (text logs, not --quiet); timed progress log lines otherwise."""
    bar = sys.stderr.isatty() and ctx.obj.get("log_format") == "text" \
        and not ctx.obj.get("quiet")
    named = f" (store {config.store_name})" if config.store_name != DEFAULT_STORE else ""
    return Progress(verb + named, bar=bar)


def invoked_as(there: Path | None = None) -> str:
    """How to type rulesync again from here (or from the folder `there`): `rulesync` when that is
    what runs on the PATH, otherwise the path the user typed (`.venv/bin/rulesync`), as seen from
    `there`, so printed hints work as printed."""
    typed = sys.argv[0]
    found = shutil.which("rulesync")
    if Path(typed).name != "rulesync" or (
            found and Path(found).resolve() == Path(typed).resolve()):
        return "rulesync"
    if there is not None and not Path(typed).is_absolute() and os.sep in typed:
        inside = there.absolute().is_relative_to(Path.cwd())  # else the full path reads better
        typed = os.path.relpath(typed, there) if inside else os.path.abspath(typed)
    return shlex.quote(typed)


@click.command()
@click.option("--orders", "count", default=30, show_default=True,
              help="How many orders the sandbox store starts with.")
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".rulesync/demo"), show_default=True,
              help="Where the demo keeps its ledger and state (started afresh each run).")
def demo(count: int, workdir: Path) -> None:
    """Sandbox store + seeded orders + both directions, no credentials."""
    from engine.cli import demo as demo_run

    demo_run.fresh_folder(workdir)
    raise SystemExit(demo_run.run(workdir, count, click.echo, program=invoked_as()))


@click.command("init")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@click.option("--install", metavar="REQUIREMENT", help="What the CI workflow installs "
              "(a pip requirement, e.g. 'bigcommerce-rulesync @ git+https://host/repo@TAG'); "
              "default: this version pinned by name, or the git commit it was installed from.")
def init_cmd(target: Path, force: bool, install: str | None) -> None:
    """Start a project: rulesync.yaml, copies of the rules and tests, pre-commit and CI."""
    from engine.cli.init import init, install_requirement, unreachable_warning

    try:
        requirement = install_requirement(install)
    except RulesyncError as e:
        raise click.BadParameter(str(e), param_hint="--install") from None
    for path in init(target, force=force, requirement=requirement):
        click.echo(f"wrote {path}")
    here = target.resolve() == Path.cwd().resolve()
    program = invoked_as(None if here else target)
    where = "" if here else f"cd {shlex.quote(str(target))} && "
    click.echo(f"next: edit rulesync.yaml, then `{where}{program} validate && {program} test`")
    click.echo(f"CI installs {requirement} (.github/workflows/rulesync.yml)")
    warning = None if install else unreachable_warning(requirement)
    if warning:
        click.echo(warning, err=True)
