"""CLI verbs for rule files: validate, test, eval."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

import rules as shipped
from engine import report
from engine.catalog import EVENT_TYPES, NOT_IMPORTED_STATE, SHIPPED_VALUES
from engine.errors import RulesyncError
from engine.interpreter import evaluate
from engine.loader import discover, load_file, load_rulesets
from engine.session import check_settings
from engine.testcases import run

PATHS = click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))


def default_paths(paths: tuple[Path, ...]) -> tuple[Path, ...]:
    return paths or (shipped.BIGCOMMERCE,)


def parse_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`--set key=value` pairs; values read as YAML scalars (true, 3, text)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not key=value", param_hint="--set")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def set_option(f: Any) -> Any:
    return click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                        help="Override a setting for this run (repeatable).")(f)


@click.command()
@PATHS
@click.option("--format", "fmt", type=click.Choice(list(report.PROBLEM_REPORTERS)),
              default="text", show_default=True)
def validate(paths: tuple[Path, ...], fmt: str) -> None:
    """Check rule files (schema and meaning). Exit 0 valid, 1 invalid, 2 usage."""
    files = discover(default_paths(paths))
    if not files:
        raise RulesyncError("no rule files found")
    problems = [p for f in files for p in load_file(f).problems]
    click.echo(report.PROBLEM_REPORTERS[fmt](problems, len(files)))
    raise SystemExit(1 if problems else 0)


@click.command("test")
@PATHS
@click.option("--strict", is_flag=True, help="Also fail when a rule is exercised by no case.")
def test_cmd(paths: tuple[Path, ...], strict: bool) -> None:
    """Run the test cases kept beside rule files (*.tests.yaml)."""
    result = run(default_paths(paths))
    if not result.results:
        raise RulesyncError("no test cases found (files named *.tests.yaml)")
    click.echo(report.test_report(result))
    raise SystemExit(1 if result.failed or (strict and result.unexercised) else 0)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RulesyncError(f"cannot read {what} {path}: {e}") from None


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


@click.command("eval")
@click.argument("event_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--state", "state_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The ledger state of the order (JSON); default: never imported.")
@click.option("--rules", "rule_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Rule files or directories; default: the shipped rules.")
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def eval_cmd(event_file: Path, state_file: Path | None, rule_paths: tuple[Path, ...],
             sets: tuple[str, ...], as_json: bool) -> None:
    """Print the decision and trace for one event (normalized JSON, see README)."""
    event = _read_json(event_file, "event")
    if not isinstance(event, dict) or "type" not in event:
        raise RulesyncError(f"{event_file}: an event is a JSON object with a 'type'")
    state = _state(_read_json(state_file, "state"), state_file) if state_file else None
    rulesets = load_rulesets(default_paths(rule_paths))
    ruleset = next((r for r in rulesets if event["type"] in EVENT_TYPES[r.direction]), None)
    if ruleset is None:
        known = ", ".join(t for ts in EVENT_TYPES.values() for t in ts)
        raise RulesyncError(f"no rule file handles event type {event['type']!r} (known: {known})")
    settings = check_settings(rulesets, parse_settings(sets))
    decision = evaluate(ruleset, event, state, settings, trace=True)
    show = report.decision_json if as_json else report.decision_text
    click.echo(show(ruleset, event, decision))
