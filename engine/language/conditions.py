"""Rule conditions: a small tree of matchers, compiled once into closures.

The same tree serves three readers: the interpreter (compiled closures over event, state and
settings), the trace (`why_not`, in words) and the static checks (`compile_partial`, three-valued
so that an `expr` escape hatch counts as "unknown" instead of hiding a shadowed rule).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import EvaluationError
from engine.language.catalog import STATUS_PATHS, status_label
from engine.language.problems import Path, json_path
from engine.language.templates import TemplateFailed

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
ROOTS = ("event", "state", "settings")
Test = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Match:
    path: str
    op: str
    value: Any
    where: Path


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class NotOf:
    part: Node


@dataclass(frozen=True)
class Expr:
    source: str
    where: Path
    fn: Callable[..., Any]


Node = Match | AllOf | AnyOf | NotOf | Expr


def parse(data: Mapping[str, Any], where: Path, compile_expr: Callable[[str, Path], Any]) -> Node:
    """Build the tree from schema-valid YAML data: several keys in one mapping mean all of them."""
    parts: list[Node] = []
    for key, value in data.items():
        here = where + (key,)
        if key in ("all", "any"):
            children = tuple(parse(c, here + (i,), compile_expr) for i, c in enumerate(value))
            parts.append(AllOf(children) if key == "all" else AnyOf(children))
        elif key == "not":
            parts.append(NotOf(parse(value, here, compile_expr)))
        elif key == "expr":
            parts.append(Expr(value, here, compile_expr(value, here)))
        elif isinstance(value, dict):
            parts.extend(Match(key, op, v, here + (op,)) for op, v in value.items())
        else:
            parts.append(Match(key, "equals", value, here))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _is_bool(v: Any) -> bool:
    return v is True or v is False


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from the numbers 0 and 1."""
    return a == b and _is_bool(a) == _is_bool(b)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not _is_bool(v)


OPS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda v, x: _same(v, x),
    "not_equals": lambda v, x: not _same(v, x),
    "in": lambda v, xs: any(_same(v, x) for x in xs),
    "not_in": lambda v, xs: not any(_same(v, x) for x in xs),
    "exists": lambda v, x: (v is not MISSING and v is not None) == x,
    "gt": lambda v, x: _number(v) and v > x,
    "gte": lambda v, x: _number(v) and v >= x,
    "lt": lambda v, x: _number(v) and v < x,
    "lte": lambda v, x: _number(v) and v <= x,
}


def getter(path: str, defaults: Mapping[str, Any]) -> Callable[..., Any]:
    """A fast reader of one dotted path; a setting falls back to the rule file's default."""
    root, *keys = path.split(".")
    slot = ROOTS.index(root)
    if root == "settings" and len(keys) == 1:
        name, default = keys[0], defaults.get(keys[0], MISSING)
        return lambda ev, st, se: se.get(name, default)
    if len(keys) == 1:
        (k,) = keys
        return (lambda ev, st, se: ev.get(k, MISSING), lambda ev, st, se: st.get(k, MISSING),
                lambda ev, st, se: se.get(k, MISSING))[slot]

    def deep(*ctx: Any) -> Any:
        value = ctx[slot]
        for k in keys:
            if not isinstance(value, Mapping) or k not in value:
                return MISSING
            value = value[k]
        return value
    return deep


def compile_test(node: Node | None, defaults: Mapping[str, Any]) -> Test:
    """Turn a condition tree into one closure over (event, state, settings)."""
    if node is None:
        return lambda ev, st, se: True
    if isinstance(node, Match):
        return _compile_match(node, getter(node.path, defaults))
    if isinstance(node, NotOf):
        inner = compile_test(node.part, defaults)
        return lambda ev, st, se: not inner(ev, st, se)
    if isinstance(node, Expr):
        return _compile_expr(node, defaults)
    parts = tuple(compile_test(p, defaults) for p in node.parts)
    if isinstance(node, AllOf):
        return lambda ev, st, se: all(p(ev, st, se) for p in parts)
    return lambda ev, st, se: any(p(ev, st, se) for p in parts)


def _compile_match(node: Match, get: Callable[..., Any]) -> Test:
    x = node.value
    if node.op == "equals" and not _is_bool(x) and isinstance(x, (str, int)):
        def equals(ev: Any, st: Any, se: Any) -> bool:
            v = get(ev, st, se)
            return v == x and v.__class__ is not bool  # the same as _same(v, x), faster
        return equals
    if node.op == "equals" and _is_bool(x):
        root, _, key = node.path.partition(".")
        if root == "state" and "." not in key:  # the common `state.imported: true`, one call less
            return lambda ev, st, se: st.get(key) is x
        return lambda ev, st, se: get(ev, st, se) is x
    op = OPS[node.op]
    return lambda ev, st, se: op(get(ev, st, se), x)


def _compile_expr(node: Expr, defaults: Mapping[str, Any]) -> Test:
    fn = node.fn

    def test(ev: Any, st: Any, se: Any) -> bool:
        try:
            return bool(fn(event=ev, state=st, settings={**defaults, **se}))
        except TemplateFailed as e:
            where = f"{e.origin}: " if e.origin else ""
            raise EvaluationError(f"{where}{json_path(node.where)}: expr {node.source!r} failed: "
                                  f"{e.detail}") from None
    return test


Partial = Callable[[Mapping[str, Any]], "bool | None"]


def compile_partial(node: Node | None, test: Callable[[Match], Callable[[Any], bool]]
                    ) -> Partial:
    """Three-valued truth of `node` for a partial assignment of paths to values, as a closure:
    a path absent from the assignment is not decided yet (MISSING says the path is missing), and
    an `expr` is never decided, so None means "cannot tell". `test(match)` gives each matcher's
    test of one value."""
    if node is None:
        return lambda values: True
    if isinstance(node, Match):
        path, check = node.path, test(node)
        return lambda values: check(values[path]) if path in values else None
    if isinstance(node, Expr):
        return lambda values: None
    if isinstance(node, NotOf):
        inner = compile_partial(node.part, test)

        def negated(values: Mapping[str, Any]) -> bool | None:
            result = inner(values)
            return None if result is None else not result
        return negated
    parts = tuple(compile_partial(p, test) for p in node.parts)
    decisive = isinstance(node, AnyOf)  # any: one True decides; all: one False decides

    def combined(values: Mapping[str, Any]) -> bool | None:
        unknown = False
        for part in parts:
            result = part(values)
            if result is decisive:
                return decisive
            if result is None:
                unknown = True
        return None if unknown else not decisive
    return combined


def matches(node: Node | None) -> list[Match]:
    """Every structured matcher in the tree."""
    if node is None or isinstance(node, Expr):
        return []
    if isinstance(node, Match):
        return [node]
    if isinstance(node, NotOf):
        return matches(node.part)
    return [m for p in node.parts for m in matches(p)]


def why_not(node: Node | None, ev: Any, st: Any, se: Any, defaults: Mapping[str, Any]) -> str:
    """In words, the first part of `node` that does not hold for this input ('' if it holds)."""
    if node is None or compile_test(node, defaults)(ev, st, se):
        return ""
    if isinstance(node, AllOf):
        return next(r for r in (why_not(p, ev, st, se, defaults) for p in node.parts) if r)
    if isinstance(node, Match):
        got = getter(node.path, defaults)(ev, st, se)
        return f"{node.path} is {_show(node.path, got)}, wants {node.op} {_show(node.path, node.value)}"
    if isinstance(node, Expr):
        return f"expr {node.source!r} is false"
    if isinstance(node, NotOf):
        return "the `not` condition holds"
    return "none of the `any` conditions holds"


def _show(path: str, value: Any) -> str:
    if path in STATUS_PATHS:
        if isinstance(value, list):
            return "[" + ", ".join(status_label(v) for v in value) + "]"
        return status_label(value) if not _is_bool(value) else repr(value)
    return "missing" if value is MISSING else repr(value)
