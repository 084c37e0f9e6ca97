"""The command line: one small function per verb. The library never prints; this module does."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.errors import RulesyncError
from engine.logs import redact, setup_logging

BUG_EXIT = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The configuration file (default: ./rulesync.yaml if present).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Log lines for people or for machines.")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an unexpected error.")
@click.version_option(package_name="rulesync")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, log_format: str, traceback: bool) -> None:
    """Keep order status in step between a BigCommerce store and an OMS, driven by YAML rules."""
    ctx.obj = {"config": config, "traceback": traceback}
    setup_logging(log_format)


def main() -> None:
    """Entry point: map errors to exit codes (1 user error, 3 bug, 130 Ctrl-C)."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except RulesyncError as e:
        click.echo(f"error: {redact(str(e))}", err=True)
        sys.exit(e.exit_code)
    except Exception as e:  # a bug: one line and a hint, unless asked for the traceback
        if "--traceback" in sys.argv:
            raise
        click.echo(f"internal error: {type(e).__name__}: {redact(str(e))} (rerun with --traceback)",
                   err=True)
        sys.exit(BUG_EXIT)


def _register() -> None:
    from connectors.bigcommerce.sandbox.cli import sandbox
    from engine.cli_docs import docs
    from engine.cli_orders import orders
    from engine.cli_rules import eval_cmd, test_cmd, validate
    from engine.cli_serve import serve, webhooks
    from engine.cli_sync import apply, demo, explain, init_cmd, plan

    for command in (validate, test_cmd, eval_cmd, sandbox, plan, apply, explain, orders, demo,
                    init_cmd, serve, webhooks, docs):
        cli.add_command(command)


_register()

if __name__ == "__main__":
    main()
