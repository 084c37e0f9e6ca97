"""Jinja2 in a sandbox with strict undefined: parameter templates and `expr` conditions.

Everything is compiled once when a rule file loads, in the bounded sandbox of engine.language.sandbox.
Static checks walk the template's AST for variables other than event, state and settings, and for
attributes of those that do not exist.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from difflib import get_close_matches
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes

from engine.language.budget import TemplateTooBig, budgeted
from engine.language.catalog import EVENT_FIELDS, NESTED_FIELDS, STATE_FIELDS
from engine.language.sandbox import BoundedEnvironment, check_constants

ENV = BoundedEnvironment(undefined=StrictUndefined, autoescape=False)
VARIABLES = ("event", "state", "settings")


class TemplateProblem(Exception):
    """A template that cannot be compiled or names something unknown."""


class TemplateFailed(Exception):
    """A template or expression failed for one event; `origin` is where it is written."""

    def __init__(self, origin: str, cause: Exception) -> None:
        self.origin = origin
        self.detail = describe_failure(cause)
        super().__init__(f"{origin}: {self.detail}" if origin else self.detail)


def describe_failure(e: Exception) -> str:
    """One line: Jinja's own errors speak for themselves, others get their type (1/0, ...)."""
    if isinstance(e, TemplateError):
        return str(e)
    if isinstance(e, RecursionError):
        return "it recurses too deeply"
    return f"{type(e).__name__}: {e}"


def _run(fn: Callable[..., Any], origin: str) -> Callable[..., Any]:
    """`fn` with a fresh step budget per call, failing as TemplateFailed at `origin`."""
    bounded = budgeted(fn)

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return bounded(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the rule's own code failed, whatever it did
            raise TemplateFailed(origin, e) from None
    return run


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


def unlisted(path: list[str]) -> str | None:
    """Why `event.order.X` or `event.shipment.X` (`path` split at its dots) may be a typo: X
    is no key of the normalized order or shipment (catalog.NESTED_FIELDS); None when it is."""
    if len(path) < 3 or path[0] != "event" or path[1] not in NESTED_FIELDS:
        return None
    known = NESTED_FIELDS[path[1]]
    if path[2] in known:
        return None
    close = get_close_matches(path[2], known, n=1)
    return (f"'{'.'.join(path[:3])}' is no field of the normalized {path[1]} "
            f"(docs/formats.md){f': did you mean {close[0]!r}?' if close else ''}")


def _unlisted_in(ast: nodes.Template) -> list[str]:
    """`unlisted` for every `event.order.X` and `event.shipment.X` a template reads, once each.
    A dict's own method (`event.order.get('coupon', '')`) is no field; a field named like one
    (`event.shipment.items`) is that method in a template, so it is said how to read it."""
    found = []
    for node in ast.find_all(nodes.Getattr):
        inner = node.node
        if isinstance(inner, nodes.Getattr) and isinstance(inner.node, nodes.Name):
            path = [inner.node.name, inner.attr, node.attr]
            if path[0] == "event" and path[1] in NESTED_FIELDS and hasattr(dict, path[2]):
                if path[2] in NESTED_FIELDS[path[1]]:
                    found.append(f"'{'.'.join(path)}' is the dict's method {path[2]}() in a "
                                 f"template: write event.{path[1]}['{path[2]}'] for the field")
            elif (why := unlisted(path)) is not None:
                found.append(why)
    return list(dict.fromkeys(found))


def _parse(source: str, settings: Iterable[str], notes: list[str] | None) -> nodes.Template:
    """The checked AST of `source`; what may be a typo (`_unlisted_in`) goes to `notes`."""
    try:
        ast = ENV.parse(source)
    except TemplateSyntaxError as e:
        raise TemplateProblem(f"template syntax error: {e.message}") from None
    except Exception as e:  # noqa: BLE001 - e.g. nesting too deep or a 5000-digit number
        raise TemplateProblem(f"template cannot be read: {_reason(e)}") from None
    _check(ast, settings)
    if notes is not None:
        notes.extend(_unlisted_in(ast))
    try:
        check_constants(ast, ENV)
    except TemplateTooBig as e:
        raise TemplateProblem(str(e)) from None
    return ast


def _reason(e: Exception) -> str:
    return "nested too deeply" if isinstance(e, RecursionError) else f"{type(e).__name__}: {e}"


def compile_template(source: str, settings: Iterable[str], origin: str = "",
                     notes: list[str] | None = None) -> Callable[..., str]:
    """A parameter value template: renders to a string, within the sandbox's budget; `origin`
    (`file:line:col`) names it when it fails; warnings go to `notes`."""
    _parse(source, settings, notes)
    try:
        return _run(ENV.from_string(source).render, origin)
    except Exception as e:  # noqa: BLE001 - the compiler may still refuse what parsed
        raise TemplateProblem(f"template cannot be compiled: {_reason(e)}") from None


def compile_expression(source: str, settings: Iterable[str], origin: str = "",
                       notes: list[str] | None = None) -> Callable[..., Any]:
    """An `expr` condition: a Jinja2 expression evaluated to a value, within the budget."""
    _parse("{{ " + source + " }}", settings, notes)
    try:
        return _run(ENV.compile_expression(source, undefined_to_none=False), origin)
    except TemplateSyntaxError as e:
        raise TemplateProblem(f"expression syntax error: {e.message}") from None
    except Exception as e:  # noqa: BLE001 - as above
        raise TemplateProblem(f"expression cannot be compiled: {_reason(e)}") from None
