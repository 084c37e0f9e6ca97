"""`rulesync connectors`: the store connectors, OMS connectors and state backends installed."""
from __future__ import annotations

import json
from typing import Any

import click

from engine.cli.report_sync import table
from engine.connect import registry


def _rows() -> list[dict[str, Any]]:
    rows = []
    for entry in registry.every():
        try:
            summary = entry.load().summary
        except Exception as e:  # a broken third-party plugin is listed, not fatal to the list
            summary = f"cannot load: {type(e).__name__}: {e}"
        rows.append({"kind": entry.kind, "name": entry.name,
                     "default": registry.DEFAULTS.get(entry.kind) == entry.name,
                     "package": entry.package, "object": entry.value, "summary": summary})
    return rows


@click.command("connectors")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def connectors(as_json: bool) -> None:
    """List the store connectors, OMS connectors and state backends installed, and the package
    and object each comes from. rulesync.yaml picks them by name: store.connector, oms.connector,
    and the state location's URL scheme."""
    rows = _rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(table(("kind", "name", "package", "object", "what"),
                     [(r["kind"], r["name"] + (" (default)" if r["default"] else ""),
                       r["package"], r["object"], r["summary"]) for r in rows]))
