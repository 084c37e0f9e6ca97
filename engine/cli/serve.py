"""CLI verbs for real-time sync: serve, webhooks register|status|remove."""
from __future__ import annotations

import json
import logging
import signal
import threading
from dataclasses import replace
from functools import partial
from typing import Any

import click

from engine.cli.report_sync import table
from engine.cli.rules import set_option
from engine.cli.sync import load_config, load_store, state_option, store_option
from engine.config import Config
from engine.connect import session
from engine.connect.session import check_plugins, check_settings, rulesets_by_direction
from engine.errors import ConfigError
from engine.serve import hooks
from engine.serve.status_auth import ADMIN_TOKEN_ENV, admin_token
from engine.serve.status_page import claims
from engine.serve.webhooks import SECRET_HEADER

SECRET_ENV = "RULESYNC_WEBHOOK_SECRET"


def _secret(config: Config) -> str:
    secret = config.environ.get(SECRET_ENV, "")
    if len(secret) < 16:
        raise ConfigError(f"set {SECRET_ENV} to a random secret of 16 characters or more: "
                          "BigCommerce sends it back in a header with every delivery")
    return secret


def _finite(param: click.Parameter, value: float) -> float:
    if value != value:  # nan passes FloatRange's bounds
        raise click.BadParameter("not a number", param=param)
    return value


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; keep loopback behind a TLS proxy.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="0 picks a free port.")
@click.option("--path", "hook_path", default="/webhooks", show_default=True,
              help="The URL path webhook deliveries are posted to.")
@click.option("--poll-seconds", type=click.FloatRange(0.1, 86400), default=300.0,
              show_default=True, callback=lambda ctx, param, v: _finite(param, v),
              help="Catch-up poll of the change feed, for webhooks that never arrive.")
@click.option("--threads", type=click.IntRange(1, 1000), default=8, show_default=True,
              help="HTTP worker threads.")
@click.option("--queue", is_flag=True, help="Distributed mode: queue each delivery for the "
              "workers (`rulesync worker`) instead of applying it here.")
@state_option
@store_option
@set_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, hook_path: str, poll_seconds: float,
          threads: int, queue: bool, state_path: str | None, store_name: str | None,
          sets: tuple[str, ...]) -> None:
    """Receive BigCommerce webhooks and apply them from a durable queue. With several stores,
    one endpoint takes every store's deliveries (or --store NAME's), each store worked by its
    own worker thread. With --queue, the workers apply them (docs/distributed.md)."""
    from engine.serve.app import App
    from engine.serve.server import addresses, create_server
    from engine.serve.worker import Worker

    if not hook_path.startswith("/"):
        raise click.BadParameter(f"{hook_path!r} is not a URL path: begin it with / "
                                 f"(/{hook_path})", param_hint="--path")
    if claims(hook_path) or hook_path == "/healthz":
        raise click.BadParameter(f"{hook_path} belongs to the status page or /healthz",
                                 param_hint="--path")
    config = load_config(ctx, state_path, sets)
    if store_name is not None:
        config = replace(config, stores=config.select(store_name)) if config.stores else \
            config.only(store_name)
    secret = _secret(config)
    admin = admin_token(config.environ)
    relay = _relay(config, sets) if queue else None
    for store in config.each_store():
        # Invalid rules, an unknown setting or connector stop here, before anything listens
        # (not in a worker thread once deliveries are acknowledged).
        check_settings(rulesets_by_direction(store), store.settings, store.origins)
        check_plugins(store)
        store.token()
    # Bound before the state file is touched: a port in use changes nothing.
    app = App(config, hook_path, secret, SECRET_HEADER, admin)
    if relay is not None:
        from engine.distributed.status import queued_health, workers_alive

        by_name = {s.store_name: s for s in config.each_store()}
        app.queued(relay.wake.set, workers_alive,
                   lambda state: queued_health(state, by_name.get(state.store)))
    server = create_server(app, host=host, port=port,
                           threads=threads, path=hook_path, secret=secret, header=SECRET_HEADER)
    session.open_state(config.state).close()  # create the tables before threads race to
    stop = threading.Event()
    workers: list[threading.Thread] = [
        Worker(store, poll_seconds, stop, partial(app.state_failed, store.store_name))
        for store in config.each_store()] if relay is None else [relay]
    if relay is not None:
        relay.stop = stop
    for address, bound in addresses(server):
        address = f"[{address}]" if ":" in address else address
        click.echo(f"rulesync serve: listening on http://{address}:{bound}{hook_path} "
                   f"(health: /healthz)", err=True)
        click.echo(f"rulesync serve: status page http://{address}:{bound}/ (sign in with "
                   f"{ADMIN_TOKEN_ENV})" if admin else "rulesync serve: status page off (set "
                   f"{ADMIN_TOKEN_ENV} to a random token to turn it on)", err=True)

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(0)  # waitress's run() closes the server on SystemExit

    signal.signal(signal.SIGTERM, terminate)
    for worker in workers:
        worker.start()
    try:
        server.run()
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        logging.getLogger("rulesync.serve").info("stopped")


def _relay(config: Config, sets: tuple[str, ...]) -> Any:
    """serve --queue's relay to the broker; the schedules are beat's (`rulesync beat`)."""
    if sets:
        raise ConfigError("serve --queue: the workers sync with rulesync.yaml's settings; "
                          "--set is for serve without --queue")
    from engine.distributed.relay import Relay
    from engine.distributed.settings import settings

    return Relay(config, settings(config), threading.Event())


@click.group()
def webhooks() -> None:
    """The store's webhooks that feed `rulesync serve`."""


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@webhooks.command()
@click.argument("destination")
@store_option
@JSON_OPTION
@click.pass_context
def register(ctx: click.Context, destination: str, store_name: str | None, as_json: bool
             ) -> None:
    """Create (or re-activate) the hooks, sending to DESTINATION (https://host/webhooks)."""
    config = load_store(ctx, None, store_name)
    done = session.open_store(config).register_hooks(destination, SECRET_HEADER, _secret(config))
    click.echo(json.dumps([{"scope": scope, "hook": hook} for scope, hook in done], indent=2)
               if as_json else table(("scope", "hook"), done))


@webhooks.command()
@state_option
@store_option
@JSON_OPTION
@click.pass_context
def status(ctx: click.Context, state_path: str | None, store_name: str | None, as_json: bool
           ) -> None:
    """Show each hook: active or not, and when `serve` last received a delivery for it."""
    config = load_store(ctx, state_path, store_name)
    state = session.open_state(config.state, config.store_name) \
        if session.state_exists(config.state) else None
    try:
        found = hooks.status(session.open_store(config), state.inbox() if state else None)
    finally:
        if state is not None:
            state.close()
    if as_json:
        click.echo(json.dumps(found, indent=2))
    elif not found:
        click.echo("no rulesync hooks on this store: run `rulesync webhooks register URL`")
    else:
        click.echo(table(("id", "scope", "destination", "active", "last received"),
                         [(h["id"], h["scope"], h["destination"],
                           "yes" if h["is_active"] else "NO", h["last_received"] or "-")
                          for h in found]))


@webhooks.command()
@click.argument("destination", required=False)
@store_option
@JSON_OPTION
@click.pass_context
def remove(ctx: click.Context, destination: str | None, store_name: str | None, as_json: bool
           ) -> None:
    """Delete rulesync's hooks from the store: those sending to DESTINATION, or all of them."""
    removed = session.open_store(load_store(ctx, None, store_name)).remove_hooks(destination)
    click.echo(json.dumps({"removed": removed}, indent=2, default=str) if as_json
               else f"removed {len(removed)} hook(s)")
