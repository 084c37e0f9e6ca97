"""Jinja2 in a sandbox with strict undefined: parameter templates and `expr` conditions.

Everything is compiled once when a rule file loads. Static checks walk the template's AST for
variables other than event, state and settings, and for attributes of those that do not exist.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.catalog import EVENT_FIELDS, STATE_FIELDS

ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
VARIABLES = ("event", "state", "settings")


class TemplateProblem(Exception):
    """A template that cannot be compiled or names something unknown."""


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _check(ast: nodes.Template, settings: Iterable[str]) -> None:
    unknown = sorted(meta.find_undeclared_variables(ast) - set(VARIABLES))
    if unknown:
        raise TemplateProblem(f"unknown variable '{unknown[0]}' (known: {', '.join(VARIABLES)})")
    known = {"event": EVENT_FIELDS, "state": STATE_FIELDS, "settings": frozenset(settings)}
    for node in ast.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name in known:
            if node.attr not in known[node.node.name]:
                names = ", ".join(sorted(known[node.node.name])) or "none declared"
                raise TemplateProblem(
                    f"unknown variable '{node.node.name}.{node.attr}' (known: {names})")


def _parse(source: str, settings: Iterable[str]) -> nodes.Template:
    try:
        ast = ENV.parse(source)
    except TemplateSyntaxError as e:
        raise TemplateProblem(f"template syntax error: {e.message}") from None
    _check(ast, settings)
    return ast


def compile_template(source: str, settings: Iterable[str]) -> Callable[..., str]:
    """A parameter value template: renders to a string."""
    _parse(source, settings)
    return ENV.from_string(source).render


def compile_expression(source: str, settings: Iterable[str]) -> Callable[..., Any]:
    """An `expr` condition: a Jinja2 expression evaluated to a value."""
    _parse("{{ " + source + " }}", settings)
    try:
        return ENV.compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError as e:
        raise TemplateProblem(f"expression syntax error: {e.message}") from None
