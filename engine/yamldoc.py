"""Safe YAML reading that keeps where every node came from.

PyYAML's composer gives the node tree with marks; we build plain data from it ourselves so that
duplicate keys are errors (a typo in a rule file changes behaviour) and so that any JSON path,
such as a jsonschema error path, can be mapped back to a line and column.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from engine.problems import Path, Problem, json_path

_SCALARS = yaml.SafeLoader  # the safe constructor resolves scalar tags (int, bool, null, ...)


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

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, json_path(path), message)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(doc: Document, node: yaml.Node, path: Path, loader: yaml.SafeLoader) -> object:
    doc.values[path] = _pos(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[object, object] = {}
        for key_node, value_node in node.value:
            key = _build(doc, key_node, path + ("<key>",), loader)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                doc.problems.append(doc.problem(path, "mapping keys must be scalars"))
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
    return loader.construct_object(node, deep=True)


def read(file: str, text: str) -> Document:
    """Parse `text`; syntax errors, duplicate keys and an empty file become problems."""
    doc = Document(file)
    loader = _SCALARS(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        snippet = mark.get_snippet() if mark else None
        message = f"YAML syntax error: {e.problem or e.context}"
        if snippet:
            message += "\n" + snippet
        doc.problems.append(Problem(file, line, col, "$", message))
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
