"""The command line: one small function per verb. The library never prints; this module does."""
from __future__ import annotations

import importlib
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
variable RULESYNC_LOG_LEVEL takes a level name (INFO) or number. --config FILE, too, goes before
or after the verb."""


CONFIG_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
CONFIG_HELP = "The configuration file (default: ./rulesync.yaml if present)."

# Each verb's module is imported only when that verb runs (or --help lists them all): a command
# pays for its own imports, not every other command's.
COMMANDS = {
    "validate": "engine.cli.rules:validate", "test": "engine.cli.rules:test_cmd",
    "eval": "engine.cli.rules:eval_cmd", "sandbox": "connectors.bigcommerce.sandbox.cli:sandbox",
    "plan": "engine.cli.plan:plan", "apply": "engine.cli.sync:apply",
    "explain": "engine.cli.plan:explain", "orders": "engine.cli.orders:orders",
    "demo": "engine.cli.sync:demo", "init": "engine.cli.sync:init_cmd",
    "serve": "engine.cli.serve:serve", "webhooks": "engine.cli.serve:webhooks",
    "docs": "engine.cli.docs:docs", "failures": "engine.cli.failures:failures",
    "connectors": "engine.cli.connectors:connectors", "worker": "engine.distributed.cli:worker",
    "beat": "engine.distributed.cli:beat", "status": "engine.distributed.cli_status:status",
}


# Verbs that read no rulesync.yaml (they make their own, or need none): no --config after them.
WITHOUT_CONFIG = {"sandbox", "demo", "init", "connectors"}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, name = COMMANDS[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module), name)
            _add_common_options(command, config=cmd_name not in WITHOUT_CONFIG)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


def _config(ctx: click.Context, param: click.Parameter, values: tuple[Path, ...]) -> None:
    """--config after the verb: the same file as before it (read by the group first), however
    often it is given."""
    root = ctx.find_root()
    root.ensure_object(dict)
    for value in values:
        given = root.obj.get("config")
        if given is not None and Path(given).resolve() != value.resolve():
            raise click.BadParameter(f"given twice, {given} and {value}: give one", ctx, param)
        root.obj["config"] = value


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_CODES)
@click.option("--config", type=CONFIG_FILE, multiple=True, expose_value=False, callback=_config,
              help=CONFIG_HELP)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Log lines (and the final error line) for people or for "
              "machines.")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an unexpected error.")
@click.version_option(__version__, message=f"%(prog)s %(version)s ({DISTRIBUTION})")
@click.pass_context
def cli(ctx: click.Context, log_format: str, traceback: bool) -> None:
    """Keep order status in step between a BigCommerce store and an OMS, driven by YAML rules."""
    ctx.ensure_object(dict)
    ctx.obj.setdefault("config", None)  # --config's callback put it there when given
    ctx.obj.update({"traceback": traceback, "log_format": log_format})
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


def config_option() -> click.Option:
    return click.Option(["--config"], type=CONFIG_FILE, multiple=True, expose_value=False,
                        callback=_config, help=CONFIG_HELP)


def _add_common_options(command: click.Command, *, config: bool = True) -> None:
    """-v/-q on every command and group, and --config on those that read rulesync.yaml, so they
    work on either side of a verb."""
    command.params.extend(verbosity_options())
    if config and not any(p.name == "config" for p in command.params):  # the root has its own
        command.params.append(config_option())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_common_options(sub, config=config)


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


_add_common_options(cli)

if __name__ == "__main__":
    main()
