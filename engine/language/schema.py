"""The JSON Schema of rule files (shipped inside the package) and readable schema problems.

jsonschema is imported on the first validation, not with this module: its import takes about
0.15 s of CPU, which a command that reads no configuration file and only the shipped rules
(engine/language/loader.py skips their schema pass) never pays.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

import rules
from engine.language.problems import Problem
from engine.language.yamldoc import Document

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

SUPPORTED_VERSIONS = (1,)


@cache
def validator(name: str = "ruleset") -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    path = rules.ROOT / "schema" / f"{name}-v1.schema.json"
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def check_version(doc: Document, what: str = "a rule file") -> Problem | None:
    """The version is checked first: an unknown version is one clear error, nothing else."""
    supported = ", ".join(map(str, SUPPORTED_VERSIONS))
    if not isinstance(doc.data, dict):
        return doc.problem((), f"{what} must be a mapping with a version")
    if "version" not in doc.data:
        return doc.problem((), f"missing 'version' (supported: {supported})")
    version = doc.data["version"]
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        return doc.problem(("version",), f"unknown version {version!r} (supported: {supported})")
    return None


def problems(doc: Document, name: str = "ruleset") -> list[Problem]:
    check = validator(name)
    return [p for e in check.iter_errors(doc.data) for p in _explain(doc, e, check.schema)]


def _explain(doc: Document, error: ValidationError, root: dict[str, Any]) -> Iterable[Problem]:
    path = tuple(error.absolute_path)
    if error.validator in ("additionalProperties", "unevaluatedProperties") \
            and isinstance(error.instance, dict):
        yield from _unknown_keys(doc, path, error.instance, _with_ref(error.schema, root))
    elif error.validator in ("anyOf", "oneOf") and error.context:
        # Report what failed in the branch that fits the value's type, not "no branch matched".
        fitting = [e for e in error.context if e.validator != "type"]
        if fitting:
            for e in fitting:
                yield from _explain(doc, e, root)
        else:
            yield doc.problem(path, f"{error.instance!r} is not a valid value here")
    else:
        yield doc.problem(path, error.message)


def _with_ref(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """The schema with the properties of the local definition its `$ref` names merged in."""
    ref = schema.get("$ref", "")
    if not ref.startswith("#/$defs/"):
        return schema
    found = root["$defs"][ref.removeprefix("#/$defs/")]
    return {**schema, "properties": {**found.get("properties", {}),
                                     **schema.get("properties", {})}}


def _unknown_keys(doc: Document, path: tuple[Any, ...], instance: dict[str, Any],
                  schema: dict[str, Any]) -> Iterable[Problem]:
    known = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    hint = ", ".join(known)
    if patterns:
        hint += ", or a dotted path starting with event., state. or settings."
    for key in instance:
        if key not in known and not any(re.search(p, str(key)) for p in patterns):
            yield doc.problem(path + (key,), f"unknown key '{key}' (known: {hint})", key=True)
