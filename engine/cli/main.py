"""The command line: one small function per verb. The library never prints; this module does."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from engine import DISTRIBUTION, __version__
from engine.errors import RulesyncError
from engine.logs import error_line, level_for, set_level, setup_logging

USAGE_EXIT = 2
BUG_EXIT = 3
EXIT_CODES = """\b
Exit codes: 0 ok; 1 a user or data error (invalid rules, configuration, a failed action, an
unknown order); 2 usage (an unknown option, a missing argument); 3 a bug in rulesync (rerun
with --traceback and report it); 130 interrupted.
Logging: -v/--verbose (twice for debug) and -q/--quiet work on every command; the environment
variable RULESYNC_LOG_LEVEL takes a level name (INFO) or number."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The configuration file (default: ./rulesync.yaml if present).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Log lines (and the final error line) for people or for "
              "machines.")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an unexpected error.")
@click.version_option(__version__, message=f"%(prog)s %(version)s ({DISTRIBUTION})")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, log_format: str, traceback: bool) -> None:
    """Keep order status in step between a BigCommerce store and an OMS, driven by YAML rules."""
    ctx.ensure_object(dict)
    ctx.obj.update({"config": config, "traceback": traceback, "log_format": log_format})
    setup_logging(log_format, level_for(ctx.obj.get("verbose", 0), ctx.obj.get("quiet", False)))


def _verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """-v and -q, accepted before or after the verb; they act as soon as they are read."""
    if not value:
        return
    root = ctx.find_root()
    root.ensure_object(dict)
    key = "quiet" if param.name == "quiet" else "verbose"
    root.obj[key] = (True if key == "quiet" else root.obj.get(key, 0) + value)
    level = level_for(root.obj.get("verbose", 0), root.obj.get("quiet", False))
    if level is not None and ctx is not root:  # the group's own callback sets it up otherwise
        set_level(level)


def verbosity_options() -> list[click.Option]:
    return [click.Option(["-v", "--verbose"], count=True, expose_value=False, is_eager=True,
                         callback=_verbosity, help="More log lines: INFO, twice for DEBUG."),
            click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, is_eager=True,
                         callback=_verbosity, help="Only errors on stderr (no progress lines).")]


def _add_verbosity(command: click.Command) -> None:
    command.params.extend(verbosity_options())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_verbosity(sub)


def main() -> None:
    """Entry point: map errors to exit codes (1 user error, 2 usage, 3 bug, 130 Ctrl-C)."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.UsageError as e:
        _usage(e)
    except click.ClickException as e:
        click.echo(error_line(e.format_message(), e.exit_code), err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except RulesyncError as e:
        click.echo(error_line(str(e), e.exit_code), err=True)
        sys.exit(e.exit_code)
    except Exception as e:  # a bug: one line and a hint, unless asked for the traceback
        if "--traceback" in sys.argv:
            raise
        click.echo(error_line(f"{type(e).__name__}: {e} (rerun with --traceback)", BUG_EXIT,
                              "internal error"), err=True)
        sys.exit(BUG_EXIT)


def _usage(e: click.UsageError) -> None:
    text = error_line(e.format_message(), USAGE_EXIT, "usage")
    if text.startswith("{"):
        click.echo(text, err=True)
    else:
        e.show()
    sys.exit(USAGE_EXIT)


def _register() -> None:
    from connectors.bigcommerce.sandbox.cli import sandbox
    from engine.cli.connectors import connectors
    from engine.cli.docs import docs
    from engine.cli.failures import failures
    from engine.cli.orders import orders
    from engine.cli.rules import eval_cmd, test_cmd, validate
    from engine.cli.serve import serve, webhooks
    from engine.cli.sync import apply, demo, explain, init_cmd, plan
    from engine.distributed.cli import beat, worker
    from engine.distributed.cli_status import status

    for command in (validate, test_cmd, eval_cmd, sandbox, plan, apply, explain, orders, demo,
                    init_cmd, serve, webhooks, docs, failures, connectors, worker, beat,
                    status):
        cli.add_command(command)
    _add_verbosity(cli)


_register()

if __name__ == "__main__":
    main()
