"""The command line: one small function per verb. The library never prints; this module does."""
from __future__ import annotations

import sys

import click

from engine.errors import RulesyncError

BUG_EXIT = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--traceback", is_flag=True, help="Show the full traceback of an unexpected error.")
@click.version_option(package_name="rulesync")
@click.pass_context
def cli(ctx: click.Context, traceback: bool) -> None:
    """Keep order status in step between a BigCommerce store and an OMS, driven by YAML rules."""
    ctx.obj = {"traceback": traceback}


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
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except Exception as e:  # a bug: one line and a hint, unless asked for the traceback
        if "--traceback" in sys.argv:
            raise
        click.echo(f"internal error: {type(e).__name__}: {e} (rerun with --traceback)", err=True)
        sys.exit(BUG_EXIT)


def _register() -> None:
    from connectors.bigcommerce.sandbox.cli import sandbox
    from engine.cli_rules import eval_cmd, test_cmd, validate

    for command in (validate, test_cmd, eval_cmd, sandbox):
        cli.add_command(command)


_register()
