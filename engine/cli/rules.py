"""CLI verbs for rule files: validate, test, eval."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

import rules as shipped
from engine import config as configuration
from engine.cli import report
from engine.config import Config
from engine.connect.session import check_settings
from engine.errors import RulesyncError
from engine.language.catalog import (
    EVENT_TYPES,
    NOT_IMPORTED_STATE,
    SHIPPED_VALUES,
    event_problems,
)
from engine.language.interpreter import evaluate
from engine.language.loader import discover, load_file, load_rulesets
from engine.language.problems import sort
from engine.language.testcases import beside, run
from engine.language.yamldoc import read
from engine.logs import error_line

PATHS = click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))


def configured(ctx: click.Context, sets: tuple[str, ...] = ()) -> tuple[Config, str]:
    """The configuration, and a phrase naming where its rules come from."""
    config = configuration.load(ctx.obj.get("config"), settings=parse_settings(sets))
    if any(store.rules != (shipped.BIGCOMMERCE,) for store in config.each_store()):
        return config, f"the rules {config.file} configures"
    return config, "the shipped rules" + (f": {config.file} names none" if config.file else
                                          ": no rulesync.yaml here")


def rule_paths(ctx: click.Context, paths: tuple[Path, ...]) -> tuple[tuple[Path, ...], str | None]:
    """The paths given, or else the rules rulesync.yaml configures (the shipped ones without)."""
    if paths:
        return paths, None
    config, source = configured(ctx)
    # Every store's rules, each file once: a store may have rules of its own (`stores:`).
    return tuple(dict.fromkeys(p for store in config.each_store() for p in store.rules)), source


def parse_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`--set key=value` pairs; values read as YAML scalars (true, 3, text)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not key=value", param_hint="--set")
        doc = read("--set", value) if value.strip() else None
        if doc is not None and doc.problems:  # the same bounded reader as the files
            raise click.BadParameter(f"'{pair}': {doc.problems[0].message.splitlines()[0]}",
                                     param_hint="--set")
        out[key.strip()] = doc.data if doc is not None else ""
    return out


def set_option(f: Any) -> Any:
    return click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                        help="Override a setting for this run (repeatable).")(f)


def format_options(f: Any) -> Any:
    f = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(f)
    return click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]),
                        help="text (the default), json, or github (GitHub Actions "
                        "annotations).")(f)


def output_format(fmt: str | None, as_json: bool) -> str:
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} disagree: give one")
    return "json" if as_json else fmt or "text"


@click.command()
@PATHS
@format_options
@click.option("--strict", is_flag=True,
              help="Treat warnings (such as whole-file checks that did not finish) as errors.")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...], fmt: str | None, as_json: bool,
             strict: bool) -> None:
    """Check rule files (schema and meaning): PATHS, or else the rules rulesync.yaml configures.

    Exit 0 valid, 1 invalid, 2 usage."""
    show = report.PROBLEM_REPORTERS[output_format(fmt, as_json)]
    targets, source = rule_paths(ctx, paths)
    files = discover(targets)
    if not files:
        raise RulesyncError(f"no rule files found in {', '.join(map(str, targets))}")
    problems = []
    for loaded in map(load_file, files):
        warnings = [replace(w, severity="error") for w in loaded.warnings] if strict \
            else loaded.warnings
        problems += sort(loaded.problems + warnings)
    click.echo(show(problems, report.Checked(tuple(map(str, files)), source)))
    raise SystemExit(1 if any(p.severity == "error" for p in problems) else 0)


@click.command("test")
@PATHS
@click.option("--strict", is_flag=True, help="Also fail when a rule is exercised by no case.")
@format_options
@click.pass_context
def test_cmd(ctx: click.Context, paths: tuple[Path, ...], strict: bool, fmt: str | None,
             as_json: bool) -> None:
    """Run the test cases (*.tests.yaml) in PATHS, or else beside the configured rules."""
    shown = output_format(fmt, as_json)
    targets, source = rule_paths(ctx, paths)
    result = run(paths or beside(targets))
    if result.unloadable and shown == "text":  # one error line each, as for any invalid file
        *first, last = result.unloadable
        for problem in first:
            click.echo(error_line(str(problem), 1), err=True)
        raise RulesyncError(str(last))
    if not result.results and not result.unloadable:
        raise RulesyncError(f"no test cases found in {', '.join(map(str, targets))} "
                            "(files named *.tests.yaml)")
    click.echo(report.TEST_REPORTERS[shown](result, source))
    failed = result.failed or result.unloadable or (strict and result.unexercised)
    raise SystemExit(1 if failed else 0)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RulesyncError(f"cannot read {what} {path}: {e}") from None
    except RecursionError:
        raise RulesyncError(f"cannot read {what} {path}: nested too deeply") from None


def _state(given: Any, path: Path) -> dict[str, Any]:
    """A state file is merged over the never-imported state, as in test cases; typos refused."""
    if not isinstance(given, dict):
        raise RulesyncError(f"{path}: a state is a JSON object (see README, 'Events and state')")
    unknown = sorted(set(given) - set(NOT_IMPORTED_STATE))
    if unknown:
        raise RulesyncError(f"{path}: unknown state field '{unknown[0]}' "
                            f"(known: {', '.join(NOT_IMPORTED_STATE)})")
    for name, value in given.items():
        if name == "shipped" and value not in SHIPPED_VALUES:
            raise RulesyncError(f"{path}: shipped must be one of {', '.join(SHIPPED_VALUES)}")
        if name != "shipped" and not isinstance(value, bool):
            raise RulesyncError(f"{path}: {name} must be true or false, not {value!r}")
    return {**NOT_IMPORTED_STATE, **given}


def _refuse_state(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None:
        raise click.BadParameter("--state is the SQLite state file in every command; give the "
                                 "order's JSON state with --order-state", param_hint="--state")


@click.command("eval")
@click.argument("event_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--order-state", "state_file",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The ledger state of the order (JSON, see README); default: never imported.")
@click.option("--state", hidden=True, expose_value=False, callback=_refuse_state)
@click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Rule files or directories (repeatable); default: the rules rulesync.yaml "
              "configures, or the shipped ones.")
@set_option
@click.option("--store", "store_name", metavar="NAME",
              help="With several stores (rulesync.yaml's `stores:`), this store's rules and "
              "settings; without it, the top-level ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.pass_context
def eval_cmd(ctx: click.Context, event_file: Path, state_file: Path | None,
             rule_files: tuple[Path, ...], sets: tuple[str, ...], store_name: str | None,
             as_json: bool) -> None:
    """Print the decision and trace for one event (normalized JSON, see README)."""
    # The configuration first: the secrets it names are redacted from the errors below too.
    config = None if rule_files else configured(ctx, sets)[0]
    event = _read_json(event_file, "event")
    if not isinstance(event, dict) or "type" not in event:
        raise RulesyncError(f"{event_file}: an event is a JSON object with a 'type'")
    if problems := event_problems(event):
        raise RulesyncError(f"{event_file}: {'; '.join(why for _, why in problems)} "
                            "(docs/formats.md, Events)")
    state = _state(_read_json(state_file, "state"), state_file) if state_file else None
    if config is None:  # settings from rulesync.yaml belong to its rules, not to the files given
        if store_name is not None:
            raise click.BadParameter("a store's rules are its configured ones: give --store "
                                     "or --rules, not both", param_hint="--store")
        rulesets = load_rulesets(rule_files)
        settings = check_settings(rulesets, parse_settings(sets))
    else:
        if store_name is not None:
            config = config.select(store_name)[0]  # that store's rules and settings
        rulesets = load_rulesets(config.rules)
        settings = check_settings(rulesets, config.settings, config.origins)
    ruleset = next((r for r in rulesets if event["type"] in EVENT_TYPES[r.direction]), None)
    if ruleset is None:
        known = ", ".join(t for ts in EVENT_TYPES.values() for t in ts)
        raise RulesyncError(f"no rule file handles event type {event['type']!r} (known: {known})")
    decision = evaluate(ruleset, event, state, settings, trace=True)
    show = report.decision_json if as_json else report.decision_text
    click.echo(show(ruleset, event, decision))
