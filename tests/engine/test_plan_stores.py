"""`plan` with several stores: every store's plan on one private copy of the state."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.bigcommerce.sandbox import Sandbox
from engine.cli.main import cli
from engine.storage import planning
from tests.support.serve_world import named_sandboxes, order_body

NAMES = ("eu", "us")


@pytest.fixture
def stores() -> Iterator[dict[str, Sandbox]]:
    with named_sandboxes(*NAMES) as made:
        yield made


def test_plan_of_several_stores_copies_the_state_once(stores: dict[str, Sandbox], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each store's plan on one private copy (their rows are apart), not a copy of every
    store's rows per store; each plan is still its store's."""
    (tmp_path / "rulesync.yaml").write_text("version: 1\nstores:\n" + "".join(
        f"  - {{name: {name}, store_hash: hash-{name}, api_url: '{sb.base_url}', "
        f"token_env: {name.upper()}_TOKEN}}\n" for name, sb in stores.items()))
    made = {name: [int(sb.store.create_order(order_body(11))["id"]) for _ in range(n)]
            for n, (name, sb) in enumerate(stores.items(), 1)}
    copies: list[Path] = []
    snapshot = planning.snapshot
    monkeypatch.setattr(planning, "snapshot",
                        lambda source, copy, owners=(): copies.append(copy) or snapshot(
                            source, copy, owners))
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["plan", "--json"], obj={}, env={
        "EU_TOKEN": "token-eu", "US_TOKEN": "token-us"})
    assert r.exit_code == 0, r.output
    planned = json.loads(r.output)["stores"]
    assert {name: sorted({a["order_id"] for a in planned[name]["actions"]}) for name in NAMES} \
        == {name: sorted(ids) for name, ids in made.items()}
    assert len(copies) == 1
    assert not (tmp_path / ".rulesync").exists()  # plan writes nothing
