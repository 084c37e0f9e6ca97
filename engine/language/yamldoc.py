"""Safe YAML reading that keeps where every node came from.

PyYAML's composer gives the node tree with marks; we build plain data from it ourselves so that
duplicate keys are errors (a typo in a rule file changes behaviour) and so that any JSON path,
such as a jsonschema error path, can be mapped back to a line and column.

Aliases share one node, so a few bytes of chained anchors can stand for billions of values and
`&a [*a]` for an endless one. The composer below counts what every alias adds and how deep the
data nests while it reads, and refuses the document at the offending alias before any of it is
built; tags other than plain YAML data are refused at the tag.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.language.problems import Path, Problem, json_path

MAX_ALIASED = 10_000  # values that aliases may add to a document once expanded
MAX_DEPTH = 64        # nesting of mappings and sequences, aliases expanded
_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_YAML + t for t in ("null", "bool", "int", "float", "str", "timestamp", "binary")}
_COLLECTION_TAGS: dict[type, str] = {yaml.MappingNode: _YAML + "map",
                                     yaml.SequenceNode: _YAML + "seq"}


@dataclass
class Document:
    """Data read from a YAML file, with the position of every value and mapping key."""

    file: str
    data: object = None
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column of the value at `path` (or of its key), else of the nearest parent."""
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def problem(self, path: Path, message: str, *, key: bool = False,
                severity: str = "error") -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, json_path(path), message, severity)


class _Refused(yaml.composer.ComposerError):
    """A document that is well-formed YAML but too big or deep once its aliases are expanded."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(None, None, message, mark)


class _Loader(yaml.SafeLoader):
    """The safe loader with a budget: every node read learns its expanded size and height."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.aliased = 0  # values added by aliases so far
        self.depth = 0
        self.measured: dict[int, tuple[int, int]] = {}  # id(node) -> (size, height) expanded

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self.measured:  # still being read
                raise _Refused(f"alias *{event.anchor} refers to a value that contains it "
                               "(the data would never end)", event.start_mark)
            node = super().compose_node(parent, index)  # an unknown anchor is PyYAML's error
            size, height = self.measured[id(node)]
            self.aliased += size
            if self.aliased > MAX_ALIASED:
                raise _Refused(f"aliases expand this document by more than {MAX_ALIASED} "
                               f"values (alias *{event.anchor}); write the data out",
                               event.start_mark)
            self._check_depth(self.depth + height, event)
            return node
        self.depth += 1
        self._check_depth(self.depth, event)
        node = super().compose_node(parent, index)
        self.depth -= 1
        children = (node.value if isinstance(node, yaml.SequenceNode)
                    else [n for pair in node.value for n in pair]
                    if isinstance(node, yaml.MappingNode) else [])
        sizes = [self.measured[id(c)] for c in children]
        self.measured[id(node)] = (1 + sum(size for size, _ in sizes),
                                   1 + max((height for _, height in sizes), default=0))
        return node

    def _check_depth(self, depth: int, event: Any) -> None:
        if depth > MAX_DEPTH:
            raise _Refused(f"the data nests deeper than {MAX_DEPTH} levels", event.start_mark)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(doc: Document, node: yaml.Node, path: Path, loader: yaml.SafeLoader) -> object:
    doc.values[path] = _pos(node)
    bad_tag = _bad_tag(node)
    if bad_tag:  # reported once at the tag; the value is read as if it had none
        where = path[:-1] if path[-1:] == ("<key>",) else path
        doc.problems.append(Problem(doc.file, *_pos(node), json_path(where), bad_tag))
        if isinstance(node, yaml.ScalarNode):
            return node.value
    if isinstance(node, yaml.MappingNode):
        out: dict[object, object] = {}
        for key_node, value_node in node.value:
            key = _build(doc, key_node, path + ("<key>",), loader)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                doc.problems.append(doc.problem(path, "mapping keys must be scalars"))
                continue
            if not isinstance(key, str):  # YAML reads `5:`, `true:`, `~:` as a number, ...
                doc.problems.append(Problem(
                    doc.file, *_pos(key_node), json_path(path),
                    f"key {key_node.value!r} must be text: put it in quotes ('{key_node.value}')"))
                continue
            if key in out:
                first = doc.keys[path + (key,)]
                doc.problems.append(Problem(doc.file, *_pos(key_node), json_path(path + (key,)),
                                            f"duplicate key '{key}' (first defined at line {first[0]})"))
                continue
            doc.keys[path + (key,)] = _pos(key_node)
            out[key] = _build(doc, value_node, path + (key,), loader)
        doc.values.pop(path + ("<key>",), None)
        doc.values[path] = _pos(node)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(doc, item, path + (i,), loader) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except Exception as e:  # noqa: BLE001 - any scalar PyYAML cannot convert is the file's problem
        reason = str(e).split("\n")[0] if isinstance(e, yaml.YAMLError) else str(e)
        doc.problems.append(Problem(doc.file, *_pos(node), json_path(path),
                                    f"cannot read {node.value[:40]!r} as {_short(node.tag)}: "
                                    f"{reason}"))
        return node.value


def _short(tag: str) -> str:
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


def _bad_tag(node: yaml.Node) -> str:
    if node.tag == _YAML + "merge":
        return "merge keys ('<<') are not supported: write the keys out"
    wanted = _COLLECTION_TAGS.get(type(node))
    if (node.tag != wanted) if wanted else (node.tag not in _SCALAR_TAGS):
        return f"unsupported YAML tag '{_short(node.tag)}': only plain data is read here"
    return ""


def decode(file: str, raw: bytes) -> tuple[str, list[Problem]]:
    """The text of a UTF-8 file, or a problem at the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as e:
        line_start = raw.rfind(b"\n", 0, e.start) + 1
        line = raw.count(b"\n", 0, e.start) + 1
        col = len(raw[line_start:e.start].decode("utf-8", "replace")) + 1
        return "", [Problem(file, line, col, "$", f"not UTF-8: {e.reason} "
                            f"(byte 0x{raw[e.start]:02x}); save the file as UTF-8")]


def read(file: str, text: str) -> Document:
    """Parse `text`; syntax errors, duplicate keys and an empty file become problems."""
    doc = Document(file)
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as e:  # a character YAML does not allow, found up front
        doc.problems.append(_reader_problem(file, text, e))
        return doc
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        snippet = mark.get_snippet() if mark and not isinstance(e, _Refused) else None
        message = (str(e.problem) if isinstance(e, _Refused)
                   else f"YAML syntax error: {e.problem or e.context}")
        if snippet:
            message += "\n" + snippet
        doc.problems.append(Problem(file, line, col, "$", message))
        return doc
    except yaml.reader.ReaderError as e:
        doc.problems.append(_reader_problem(file, text, e))
        return doc
    except yaml.YAMLError as e:
        doc.problems.append(Problem(file, 1, 1, "$", f"YAML error: {e}"))
        return doc
    finally:
        loader.dispose()
    if node is None:
        doc.problems.append(Problem(file, 1, 1, "$", "the file is empty"))
        return doc
    doc.data = _build(doc, node, (), loader)
    return doc


def _reader_problem(file: str, text: str, e: yaml.reader.ReaderError) -> Problem:
    at = min(max(e.position, 0), len(text))
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    what = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
    return Problem(file, line, col, "$", f"YAML error: unacceptable character {what}: {e.reason}")
