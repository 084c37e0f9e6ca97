"""`rulesync sandbox`: run the sandbox store until Ctrl-C.

Register it with `cli.add_command(sandbox)`.
"""

from __future__ import annotations

import os
import threading

import click

from . import Sandbox

DEFAULT_TOKEN = "sandbox-token"


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--store-hash", default="sandbox", show_default=True,
    help="The store hash in the API paths (/stores/HASH/v2/...).",
)
@click.option(
    "--token",
    envvar="BIGCOMMERCE_ACCESS_TOKEN",
    default=DEFAULT_TOKEN,
    show_default="$BIGCOMMERCE_ACCESS_TOKEN or sandbox-token",
    help="The X-Auth-Token the sandbox accepts.",
)
@click.option(
    "--seed", "seed_orders", default=0, show_default=True, help="Sample orders to create."
)
@click.option(
    "--seed-shipped", type=click.FloatRange(0, 1), default=None,
    help="Fraction of the sample orders that are shipped (default: those in statuses 2 and 3).",
)
@click.option(
    "--data-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON file to load the store from and save it to after every change.",
)
@click.option("--quota", type=int, default=None, help="Requests per window (default: unlimited).")
@click.option(
    "--window-ms", default=30000, show_default=True, help="The rate-limit window of --quota."
)
@click.option(
    "--fault-rate", default=0.0, show_default=True, help="Fraction of API requests that fail."
)
@click.option(
    "--latency-ms", default=0, show_default=True, help="Delay added to every API request."
)
@click.option(
    "--fault-seed", default=0, show_default=True,
    help="Seed of the fault injection, so a faulty run can be repeated.",
)
def sandbox(
    host: str,
    port: int,
    store_hash: str,
    token: str,
    seed_orders: int,
    seed_shipped: float | None,
    data_file: str | None,
    quota: int | None,
    window_ms: int,
    fault_rate: float,
    latency_ms: int,
    fault_seed: int,
) -> None:
    """Serve a local BigCommerce sandbox store until Ctrl-C."""
    sb = Sandbox(
        host=host,
        port=port,
        store_hash=store_hash,
        token=token,
        seed_orders=seed_orders,
        seed_shipped=seed_shipped,
        quota=quota,
        window_ms=window_ms,
        fault_rate=fault_rate,
        latency_ms=latency_ms,
        fault_seed=fault_seed,
        data_file=data_file,
    )
    try:
        sb.start()
    except OSError as e:  # a port in use is the user's to fix, not a crash
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {e.strerror} (give another --port, or 0 for a free one)"
        ) from None
    try:  # a Ctrl-C from here on, even while the lines below print, stops it cleanly
        click.echo(f"BigCommerce sandbox serving at {sb.base_url}")
        click.echo("Point rulesync at it with:")
        click.echo(f"  export BIGCOMMERCE_API_URL={sb.base_url}")
        click.echo(f"  export BIGCOMMERCE_STORE_HASH={store_hash}")
        if os.environ.get("BIGCOMMERCE_ACCESS_TOKEN") == token:
            click.echo("  BIGCOMMERCE_ACCESS_TOKEN is set in this shell; the sandbox accepts it.")
        elif token == DEFAULT_TOKEN:  # the well-known default guards nothing: said as it is
            click.echo(f"  export BIGCOMMERCE_ACCESS_TOKEN={DEFAULT_TOKEN}")
        else:
            click.echo("  export BIGCOMMERCE_ACCESS_TOKEN=...  (the --token value; not shown)")
        click.echo("Press Ctrl-C to stop.", nl=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("Stopping the sandbox.")
    finally:
        sb.stop()


if __name__ == "__main__":
    sandbox()
