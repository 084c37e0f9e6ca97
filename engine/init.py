"""`rulesync init`: a starter project a user owns: config, rule copies, hooks and CI."""
from __future__ import annotations

import shutil
from pathlib import Path

import rules as shipped
from engine.errors import RulesyncError

CONFIG = """\
# yaml-language-server: $schema=rules/schema/config-v1.schema.json
version: 1
store:
  store_hash: your-store-hash        # or BIGCOMMERCE_STORE_HASH
  api_url: https://api.bigcommerce.com
  token_env: BIGCOMMERCE_ACCESS_TOKEN  # the token itself never goes in this file
rules:
  - rules/bigcommerce
settings:
  auto_close: false
  push_order_info: false
state: .rulesync/state.sqlite
"""

PRE_COMMIT = """\
repos:
  - repo: local
    hooks:
      - id: rulesync-validate
        name: rulesync validate
        entry: rulesync validate rules
        language: system
        pass_filenames: false
        files: ^rules/
      - id: rulesync-test
        name: rulesync test
        entry: rulesync test --strict rules
        language: system
        pass_filenames: false
        files: ^rules/
"""

WORKFLOW = """\
name: rules
on: [push, pull_request]
jobs:
  rules:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.11"}
      - run: pip install rulesync
      - run: rulesync validate --format github rules
      - run: rulesync test --strict rules
"""


def files() -> dict[str, str | Path]:
    out: dict[str, str | Path] = {"rulesync.yaml": CONFIG, ".pre-commit-config.yaml": PRE_COMMIT,
                                  ".github/workflows/rulesync.yml": WORKFLOW}
    for source in sorted(shipped.ROOT.glob("*/*")):
        if source.suffix in (".yaml", ".json"):
            out[f"rules/{source.parent.name}/{source.name}"] = source
    return out


def init(target: Path, *, force: bool = False) -> list[Path]:
    """Write the starter files; refuse to overwrite anything unless `force`."""
    planned = {target / name: content for name, content in files().items()}
    existing = [p for p in planned if p.exists()]
    if existing and not force:
        raise RulesyncError(f"{existing[0]} already exists (use --force to overwrite)")
    for path, content in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, path)
        else:
            path.write_text(content, encoding="utf-8")
    return sorted(planned)
