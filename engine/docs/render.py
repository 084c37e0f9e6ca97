"""Rendering the docs document with the Jinja2 templates shipped in `engine/docs/templates/`."""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from engine.docs.build import Document
from engine.docs.svg import layout
from engine.errors import RulesyncError

FORMATS = {"md": "docs.md.j2", "html": "docs.html.j2"}
OUTPUT_NAMES = {"md": "index.md", "html": "index.html"}
_CODE = re.compile(r"`([^`]+)`")


def md_cell(text: str) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def html_code(text: str) -> Markup:
    """Escape, then show `names` as code, as the Markdown does."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


@cache
def _environment(fmt: str) -> Environment:
    env = Environment(loader=PackageLoader("engine.docs", "templates"),
                      autoescape=fmt == "html", undefined=StrictUndefined,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(cell=md_cell, code=html_code)
    return env


def render(document: Document, fmt: str) -> str:
    template = _environment(fmt).get_template(FORMATS[fmt])
    svg = layout(document.diagram) if fmt == "html" else None
    return template.render(doc=document, mermaid=document.diagram.mermaid(), svg=svg)


def write(text: str, out: Path, fmt: str) -> Path:
    """Write the page as `index.md` / `index.html` in `out`, creating the folder."""
    target = out / OUTPUT_NAMES[fmt]
    try:
        out.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as e:
        raise RulesyncError(f"cannot write {target}: {e.strerror}") from None
    return target
