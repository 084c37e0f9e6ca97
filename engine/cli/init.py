"""`rulesync init`: a starter project a user owns: config, rule copies, hooks and CI."""
from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import rules as shipped
from engine import DISTRIBUTION, __version__
from engine.errors import ConfigError, RulesyncError

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
        entry: rulesync validate
        language: system
        pass_filenames: false
        files: ^(rules/|rulesync\\.yaml$)
      - id: rulesync-test
        name: rulesync test
        entry: rulesync test --strict
        language: system
        pass_filenames: false
        files: ^(rules/|rulesync\\.yaml$)
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
        with: {{python-version: "3.11"}}
      # The rulesync this project was made with, pinned: upgrade on purpose, not by surprise.
      - run: pip install '{requirement}'
      - run: rulesync validate --format github
      - run: rulesync test --strict --format github
"""


def install_requirement(given: str | None = None, source: dict[str, Any] | None = None) -> str:
    """What CI installs: `given`, else the git commit this copy was installed from, else this
    version by name. `source`: pip's record of where this copy came from (direct_url.json,
    PEP 610; read from the installed distribution when not given)."""
    if given is not None:
        if not given.strip() or any(c in given for c in "'\"\n\r"):
            raise ConfigError(f"{given!r} is not one pip requirement without quotes")
        return given.strip()
    source = _installed_from() if source is None else source
    vcs = source.get("vcs_info", {})
    if vcs.get("vcs") == "git" and vcs.get("commit_id"):
        return f"{DISTRIBUTION} @ git+{source['url']}@{vcs['commit_id']}"
    return f"{DISTRIBUTION}=={__version__}"


def unreachable_source(source: dict[str, Any] | None = None) -> str | None:
    """Where this copy was installed from when a CI runner cannot reach it: a local folder or
    file (`pip install .`, an editable, a wheel file) or a local clone (`pip install
    git+file:///...`, whatever the VCS); None for a package index or a remote URL."""
    source = _installed_from() if source is None else source
    url = str(source.get("url", ""))
    if not url.startswith("file:"):
        return None
    vcs = source.get("vcs_info", {}).get("vcs")
    return f"{vcs}+{url}" if vcs else url


def unreachable_warning(requirement: str, source: dict[str, Any] | None = None) -> str | None:
    """What `init` says when the workflow's install line cannot work in CI: it pins a local
    clone, or it pins a version by name that the index may not have (or may have as somebody
    else's upload)."""
    local = unreachable_source(source)
    if local is None:
        return None
    fails = (f"the workflow installs {requirement}, which CI cannot clone"
             if requirement.startswith(f"{DISTRIBUTION} @ ") else
             f"the workflow installs {requirement} from the package index, where it may not "
             "be published")
    return (f"warning: this rulesync was installed from {local}, which CI cannot reach; {fails}: "
            "give --install (your git URL, see --help) or edit that line")


def _installed_from() -> dict[str, Any]:
    try:
        return json.loads(metadata.distribution(DISTRIBUTION).read_text("direct_url.json") or "{}")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return {}


def files(requirement: str) -> dict[str, str | Path]:
    out: dict[str, str | Path] = {
        "rulesync.yaml": CONFIG, ".pre-commit-config.yaml": PRE_COMMIT,
        ".github/workflows/rulesync.yml": WORKFLOW.format(requirement=requirement)}
    for source in sorted(shipped.ROOT.glob("*/*")):
        if source.suffix in (".yaml", ".json"):
            out[f"rules/{source.parent.name}/{source.name}"] = source
    return out


def init(target: Path, *, requirement: str, force: bool = False) -> list[Path]:
    """Write the starter files; refuse to overwrite anything unless `force`."""
    planned = {target / name: content for name, content in files(requirement).items()}
    existing = [p for p in planned if p.exists()]
    if existing and not force:
        raise RulesyncError(f"{existing[0]} already exists (use --force to overwrite)")
    for path, content in planned.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copyfile(content, path)
            else:
                path.write_text(content, encoding="utf-8")
        except OSError as e:
            raise RulesyncError(f"cannot write {path}: {e.strerror}") from None
    return sorted(planned)
