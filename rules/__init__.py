"""The shipped rule files, their JSON Schema and their test cases, installed as package data."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent
SCHEMA_V1 = ROOT / "schema" / "ruleset-v1.schema.json"
TESTS_SCHEMA_V1 = ROOT / "schema" / "tests-v1.schema.json"
BIGCOMMERCE = ROOT / "bigcommerce"
