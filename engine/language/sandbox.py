"""Jinja2's sandbox with a budget, so that no template or `expr` can hang or exhaust memory.

Jinja2's sandbox stops attribute tricks but not size: `'a' * 2000000000`, `x ** 99999999` or a
few nested loops run for minutes, and constant expressions are even evaluated while compiling,
so `validate` hung too. Here the operators that can grow a value are intercepted, `~` and loops
are routed through bounded helpers by rewriting the template's tree before it is compiled, and
method calls and filters are sized before they run (engine.language.budget has the limits). Intercepted
operators are never folded at compile time, so compiling is always cheap; `check_constants`
still refuses an operator on constants that is over the limits, for `validate` to report.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jinja2 import nodes
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from engine.language.budget import (
    FILTER_CHECKS,
    bounded_output,
    bounded_range,
    charge,
    check_binop,
    check_method,
    checked,
    concat,
    steps_over,
)


def _guard_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    check = FILTER_CHECKS.get(name)
    offset = 1 if getattr(fn, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(fn)  # keeps jinja_pass_arg, so Jinja still passes the context it wants
    def guarded(*args: Any, **kwargs: Any) -> Any:
        charge(1)
        if check is not None and len(args) > offset:
            value = check(*args[offset:], **kwargs)
            args = (*args[:offset], value, *args[offset + 1:])
        return checked(fn(*args, **kwargs))
    return guarded


class _Bound(NodeTransformer):
    """Routes `~` and every loop's iterable through the bounded helpers."""

    def __init__(self, env: BoundedEnvironment) -> None:
        self.env = env

    def _filter(self, node: nodes.Node, name: str) -> nodes.Filter:
        out = nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)
        out.set_environment(self.env)
        return out

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.List(node.nodes, lineno=node.lineno)
        parts.set_environment(self.env)
        return self._filter(parts, "_rulesync_concat")

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._filter(node.iter, "_rulesync_steps")
        return node


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})
    concat = staticmethod(bounded_output)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = bounded_range
        self.globals.pop("lipsum", None)  # lipsum(n) writes n paragraphs
        self.filters = {name: _guard_filter(name, fn) for name, fn in self.filters.items()}
        self.filters["_rulesync_concat"] = concat
        self.filters["_rulesync_steps"] = steps_over

    def _generate(self, source: nodes.Template, *args: Any, **kwargs: Any) -> str:
        return super()._generate(_Bound(self).visit(source), *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return checked(self.binop_table[operator](left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        charge(1)
        target = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by the sandbox
        owner = getattr(target, "__self__", None)
        if isinstance(owner, (str, bytes, int)) and hasattr(target, "__name__"):
            args = check_method(owner, target.__name__, args)
        elif isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
            args = (steps_over(args[0]), *args[1:])
        return checked(super().call(__context, __obj, *args, **kwargs))


def check_constants(ast: nodes.Template, env: BoundedEnvironment) -> None:
    """Raise TemplateTooBig for an operator on constants that would be over the limits, such as
    `'a' * 2000000000`, so that `validate` says so before any event is seen."""
    ctx = nodes.EvalContext(env)
    for node in ast.find_all(nodes.BinExpr):
        try:
            _fold(node, ctx, env)
        except nodes.Impossible:
            pass


def _fold(node: nodes.Expr, ctx: nodes.EvalContext, env: BoundedEnvironment) -> Any:
    if isinstance(node, nodes.BinExpr) and node.operator in env.intercepted_binops:
        left, right = _fold(node.left, ctx, env), _fold(node.right, ctx, env)
        check_binop(node.operator, left, right)
        try:
            return env.binop_table[node.operator](left, right)
        except Exception:  # noqa: BLE001 - 1/0 and the like are the render's to report
            raise nodes.Impossible() from None
    return node.as_const(ctx)
