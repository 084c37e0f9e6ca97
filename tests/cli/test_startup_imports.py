"""A command imports what it uses (bench/startup.py measures what that saves): reading the
configuration needs neither the HTTP stack nor jsonschema until a file is validated, and the
connectors' entry points are read once per process."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint, EntryPoints
from pathlib import Path
from typing import Any

import pytest

from engine.connect import registry
from engine.errors import ConfigError

HEAVY = ("requests", "urllib3", "jsonschema")


def loaded_after(code: str, cwd: Path) -> set[str]:
    """The heavy modules in sys.modules after `code` runs in a new interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    r = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return set(json.loads(r.stdout.splitlines()[-1]))


def test_the_ledger_commands_load_no_http_stack_and_no_jsonschema(tmp_path: Path) -> None:
    """`failures list` and `orders list` as the command runs them, the state opened through the
    registry (with nothing in it)."""
    code = ("from connectors.ledger.ledger import Ledger\n"
            "Ledger('s.sqlite').close()\n"
            "from engine.cli.main import cli\n"
            "for verb in ('failures', 'orders'):\n"
            "    cli.main([verb, 'list', '--state', 's.sqlite'], standalone_mode=False)")
    assert loaded_after(code, tmp_path) == set()


def test_a_configuration_without_a_file_loads_neither(tmp_path: Path) -> None:
    code = "from engine.config import load\nload(None, environ={})"
    assert loaded_after(code, tmp_path) == set()


def test_jsonschema_loads_once_a_file_is_validated(tmp_path: Path) -> None:
    (tmp_path / "rulesync.yaml").write_text("version: 1\n", encoding="utf-8")
    code = ("from pathlib import Path\nfrom engine.config import load\n"
            "load(Path('rulesync.yaml'), environ={})")
    assert loaded_after(code, tmp_path) == {"jsonschema"}


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    registry._entry_points.cache_clear()
    yield
    registry._entry_points.cache_clear()  # nothing a test faked stays for the next


@pytest.mark.usefixtures("fresh_registry")
def test_the_entry_points_are_read_once_and_again_for_a_name_not_found(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reads = []
    real = registry.metadata.entry_points

    def counted() -> Any:
        reads.append(1)
        return real()

    monkeypatch.setattr(registry.metadata, "entry_points", counted)
    for kind in ("store", "oms", "state", "state"):
        registry.plugin(kind, registry.DEFAULTS[kind], "test")
    assert len(reads) == 1  # four lookups, one read
    with pytest.raises(ConfigError, match="unknown oms connector 'no-such-oms'"):
        registry.plugin("oms", "no-such-oms", "test")
    assert len(reads) == 2  # read again before saying it is unknown


@pytest.mark.usefixtures("fresh_registry")
def test_a_plugin_installed_after_the_first_read_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "late" not in registry.installed("oms")  # the first read, now cached
    real = registry.metadata.entry_points
    late = EntryPoint("late", "connectors.ledger.plugin:PLUGIN", "rulesync.oms")

    def with_late() -> EntryPoints:
        found = real()
        return EntryPoints([*(point for group in registry.GROUPS.values()
                              for point in found.select(group=group)), late])

    monkeypatch.setattr(registry.metadata, "entry_points", with_late)
    assert registry.plugin("oms", "late", "test").kind == "oms"
