"""Size and step limits for what a template builds, checked before it is built.

Every value a template builds is bounded where it is built: the operators that can grow a value
(`*`, `**`, `%`, `+`), the str/bytes/int methods and the filters that can multiply their input
are sized before they run, and each render or expression gets a step budget (loop iterations,
calls, and size built) and an output limit. engine.language.sandbox wires these into Jinja2.
"""
from __future__ import annotations

import itertools
import math
import re
import string
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2.sandbox import SecurityError

LIMIT = 100_000        # characters or items of any value a template builds, and of its output
MAX_STEPS = 20_000     # loop iterations and calls per render (building values costs steps too)
MAX_INT_BITS = 14_000  # about 4200 digits, below what Python will print
_SIZED = (str, bytes, list, tuple, dict, set, frozenset)
_steps: ContextVar[list[int] | None] = ContextVar("template_steps", default=None)


class TemplateTooBig(SecurityError):
    """A template tried to build, loop or print more than its budget allows."""


def charge(steps: int) -> None:
    budget = _steps.get()
    if budget is not None:
        budget[0] -= steps
        if budget[0] < 0:
            raise TemplateTooBig(f"the template takes more than {MAX_STEPS} steps "
                                 "(loop iterations, calls and values built)")


def room(size: int, what: str = "a value") -> None:
    if size > LIMIT:
        raise TemplateTooBig(f"the template builds {what} of {size} characters or items "
                             f"(the limit is {LIMIT})")


def _bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateTooBig(f"the template builds an integer of about {bits} bits "
                             f"(the limit is {MAX_INT_BITS})")


def checked(value: Any) -> Any:
    """A value just built: within the limits, and its size charged to the budget."""
    if isinstance(value, _SIZED):
        room(len(value))
        charge(1 + len(value) // 1024)
    elif isinstance(value, int):
        _bits(value.bit_length())
    return value


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _width(number: str) -> None:
    if number and (len(number) > 6 or int(number) > LIMIT):
        raise TemplateTooBig(f"format width or precision {number[:12]} is over the limit of "
                             f"{LIMIT}")


_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?.", re.S)


def check_percent(fmt: str | bytes) -> None:
    """`fmt % args`: a width such as `%0999999999d` would build a giant string."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    for width, precision in _PERCENT.findall(text):
        if "*" in (width, precision):
            raise TemplateTooBig("'*' widths are not allowed in templates; write the number")
        _width(width)
        _width(precision)


def check_format(fmt: str) -> None:
    """`fmt.format(...)`: widths in the format specs, and no nested `{}` widths."""
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if spec and "{" in spec:
            raise TemplateTooBig("nested '{}' in a format spec are not allowed in templates")
        for number in re.findall(r"\d+", spec or ""):
            _width(number)


def check_binop(op: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be over the limits, before computing it."""
    a, b = _count(left), _count(right)
    if op == "*":
        if a is not None and b is not None:
            _bits(a.bit_length() + b.bit_length())
        elif isinstance(left, _SIZED) and b is not None:
            room(len(left) * max(b, 0))
        elif isinstance(right, _SIZED) and a is not None:
            room(len(right) * max(a, 0))
    elif op == "**" and a is not None and b is not None and b > 0 and abs(a) > 1:
        _bits(int(b * math.log2(abs(a))) + 1)
    elif op == "%" and isinstance(left, (str, bytes)):
        check_percent(left)
    elif op == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED):
        room(len(left) + len(right))


def _first(items: Iterable[Any]) -> list[Any]:
    """At most LIMIT + 1 items of an iterable, so that a join can be sized before it runs."""
    out = list(itertools.islice(items, LIMIT + 1))
    room(len(out), "a list")
    return out


def _joined(sep: str | bytes, items: list[Any]) -> None:
    size = sum(len(x) if isinstance(x, _SIZED) else len(str(x)) for x in items)
    room(size + len(sep) * max(len(items) - 1, 0))


def check_method(owner: Any, name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Checks for the str/bytes/int methods that can multiply their input."""
    if name in ("center", "ljust", "rjust", "zfill") and args and _count(args[0]) is not None:
        room(args[0])
    elif name == "expandtabs" and isinstance(owner, (str, bytes)):
        tab = _count(args[0]) if args else 8
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        room(len(owner) + tabs * (tab or 0))
    elif name == "replace" and len(args) >= 2 and isinstance(owner, (str, bytes)):
        room(_replaced(owner, args[0], args[1], args[2] if len(args) > 2 else -1))
    elif name == "join" and isinstance(owner, (str, bytes)) and args:
        items = _first(args[0])
        _joined(owner, items)
        return (items, *args[1:])
    elif name in ("format", "format_map") and isinstance(owner, str):
        check_format(owner)
    elif name == "translate" and isinstance(owner, str) and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        room(len(owner) * longest)
    elif name == "to_bytes" and args and _count(args[0]) is not None:
        room(args[0])
    return args


def _replaced(s: Any, old: Any, new: Any, count: Any) -> int:
    if not isinstance(old, type(s)) or not isinstance(new, type(s)):
        return len(s)
    hits = len(s) + 1 if not old else s.count(old)
    if _count(count) is not None and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(len(new) - len(old), 0)


def steps_over(items: Iterable[Any]) -> Iterator[Any]:
    """A loop's iterable, one step of the budget per item."""
    for item in items:
        charge(1)
        yield item


def concat(parts: list[Any]) -> str:
    """`a ~ b ~ c`, bounded."""
    texts = [str(p) for p in parts]
    room(sum(map(len, texts)))
    return "".join(texts)


def bounded_output(pieces: Iterable[str]) -> str:
    """The output of a render (and of macros and blocks): at most LIMIT characters."""
    out, size = [], 0
    for piece in pieces:
        size += len(piece)
        if size > LIMIT:
            raise TemplateTooBig(f"the template output is longer than {LIMIT} characters")
        out.append(piece)
    return "".join(out)


def bounded_range(*args: int) -> range:
    r = range(*args)
    room(len(r), "a range")
    return r


# Filters that can multiply their input: a check on (value, *args, **kwargs) before they run,
# which may hand back a materialized value (join, sum) so that it is read only once.
def _f_center(value: Any, width: Any = 80, *_: Any, **__: Any) -> Any:
    room(_count(width) or 0)
    return value


def _f_indent(s: Any, width: Any = 4, *_: Any, **__: Any) -> Any:
    per_line = len(width) if isinstance(width, str) else (_count(width) or 0)
    room(len(str(s)) + (str(s).count("\n") + 1) * per_line)
    return s


def _f_format(value: Any, *_: Any, **__: Any) -> Any:
    check_percent(str(value))
    return value


def _f_replace(s: Any, old: Any = "", new: Any = "", count: Any = None, *_: Any, **__: Any) -> Any:
    text = str(s)
    room(_replaced(text, str(old), str(new), -1 if count is None else count))
    return s


def _f_join(value: Any, d: Any = "", *_: Any, **__: Any) -> Any:
    items = _first(value)
    _joined(str(d), items)
    return items


def _f_slice(value: Any, slices: Any = 1, *_: Any, **__: Any) -> Any:
    room(_count(slices) or 0, "a list")
    return value


def _f_batch(value: Any, linecount: Any = 1, fill_with: Any = None, *_: Any, **__: Any) -> Any:
    if fill_with is not None:
        room(_count(linecount) or 0, "a list")
    return value


def _f_wordwrap(s: Any, width: Any = 79, brk: Any = True, wrapstring: Any = None, *_: Any,
                **kw: Any) -> Any:
    wrap = kw.get("wrapstring", wrapstring)
    if wrap:
        room(len(str(s)) * (len(str(wrap)) + 1))
    return s


def _f_tojson(value: Any, indent: Any = None, *_: Any, **kw: Any) -> Any:
    room(_count(kw.get("indent", indent)) or 0)
    return value


def _f_sum(iterable: Any, attribute: Any = None, start: Any = 0, *_: Any, **kw: Any) -> Any:
    if not isinstance(kw.get("start", start), (int, float)):
        items = _first(iterable)
        room(sum(len(x) for x in items if isinstance(x, _SIZED)))
        return items
    return iterable


FILTER_CHECKS: dict[str, Callable[..., Any]] = {
    "center": _f_center, "indent": _f_indent, "format": _f_format, "replace": _f_replace,
    "join": _f_join, "slice": _f_slice, "batch": _f_batch, "wordwrap": _f_wordwrap,
    "tojson": _f_tojson, "sum": _f_sum}


def budgeted(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` (a template's render or an expression) with a fresh step budget per call."""
    def run(*args: Any, **kwargs: Any) -> Any:
        token = _steps.set([MAX_STEPS])
        try:
            return fn(*args, **kwargs)
        finally:
            _steps.reset(token)
    return run
