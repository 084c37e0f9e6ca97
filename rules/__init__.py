"""The shipped rule files, their JSON Schema and their test cases, installed as package data."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent
SCHEMA_V1 = ROOT / "schema" / "ruleset-v1.schema.json"
TESTS_SCHEMA_V1 = ROOT / "schema" / "tests-v1.schema.json"
BIGCOMMERCE = ROOT / "bigcommerce"

# The SHA-256 of each shipped rule file, whose content passes the JSON Schema: a rule file with
# exactly this content (here, or copied by `rulesync init`) is loaded without the schema pass,
# which costs a command about 0.15 s of CPU to import jsonschema. Any other content is checked
# in full. tests/engine/test_shipped_rules.py checks each file against the schema and prints
# the new hash to put here when a file changes.
SCHEMA_CHECKED = frozenset({
    "61f23bcffc6c0b54bffb699bef031a100292fc9dbf47f52cd576cf67374bc089",  # bigcommerce/inbound.yaml
    "590b4c49512c0ff111ec9113c7b6710567594451da2ddb5739512fc2041022ef",  # bigcommerce/outbound.yaml
})
