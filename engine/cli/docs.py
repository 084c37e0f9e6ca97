"""CLI verb `docs`: the configured rule files as the help article's tables, for people."""
from __future__ import annotations

from pathlib import Path

import click

from engine import config as configuration
from engine.connect.session import check_settings
from engine.docs.build import Places, build
from engine.docs.render import FORMATS, render, write
from engine.language.loader import load_rulesets


@click.command("docs")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="md", show_default=True,
              help="Markdown (tables and a Mermaid diagram) or one self-contained HTML page.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Write index.md / index.html into this folder instead of printing.")
@click.option("--store", metavar="NAME",
              help="The store whose rules and settings to show (rulesync.yaml's `stores:`); "
                   "without it, the top-level rules and settings.")
@click.pass_context
def docs(ctx: click.Context, fmt: str, out: Path | None, store: str | None) -> None:
    """Render the configured rule files as tables, one row per rule, with a state diagram."""
    config = configuration.load(ctx.obj.get("config"))
    if store is not None:
        config = config.select(store)[0]  # that store's rules and settings
    rulesets = load_rulesets(config.rules)
    settings = check_settings(rulesets, config.settings, config.origins)
    cwd = Path.cwd()
    roots = (config.file.parent,) if config.file else ()
    document = build(rulesets, settings, Places(project=cwd, output=out or cwd, roots=roots))
    text = render(document, fmt)
    if out is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {write(text, out, fmt)}")
