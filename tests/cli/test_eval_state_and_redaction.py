"""`rulesync eval --state` checks the state it is given; error lines never show a secret."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RULESYNC = str(Path(sys.executable).parent / "rulesync")
EVENT = {"type": "order.status_changed", "order_id": 7, "previous_status_id": 7,
         "new_status_id": 10}


def _eval(tmp_path: Path, state: object, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "event.json").write_text(json.dumps(EVENT))
    (tmp_path / "state.json").write_text(json.dumps(state))
    return subprocess.run([RULESYNC, "eval", "event.json", "--order-state", "state.json"],
                          cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, **env})


def test_a_partial_state_is_merged_over_the_never_imported_one(tmp_path: Path) -> None:
    r = _eval(tmp_path, {"imported": True})
    assert r.returncode == 0, r.stderr
    assert "matched: completed-previously-imported" in r.stdout


def test_a_typo_in_the_state_is_refused(tmp_path: Path) -> None:
    r = _eval(tmp_path, {"imported": True, "shiped": "partial"})
    assert r.returncode == 1
    assert "unknown state field 'shiped'" in r.stderr and "Traceback" not in r.stderr


def test_a_wrong_value_in_the_state_is_refused(tmp_path: Path) -> None:
    r = _eval(tmp_path, {"paid": "yes"})
    assert r.returncode == 1 and "paid must be true or false" in r.stderr


def test_an_error_line_never_shows_the_access_token(tmp_path: Path) -> None:
    secret = "tok-3f9a1c0d2b7e"
    bad = tmp_path / f"{secret}.json"
    bad.write_text("{not json")
    r = subprocess.run([RULESYNC, "eval", bad.name], cwd=tmp_path, capture_output=True,
                       text=True, env={**os.environ, "BIGCOMMERCE_ACCESS_TOKEN": secret})
    assert r.returncode == 1
    assert "cannot read event" in r.stderr and "***" in r.stderr
    assert secret not in r.stderr + r.stdout


STORES = ("version: 1\nstores:\n  - {name: eu, store_hash: abc, token_env: EU_TOKEN, "
          "settings: {auto_close: true}}\n  - {name: us, store_hash: def, token_env: US_TOKEN}\n")


def test_eval_store_uses_that_stores_settings(tmp_path: Path) -> None:
    (tmp_path / "rulesync.yaml").write_text(STORES)
    (tmp_path / "event.json").write_text(json.dumps(EVENT))
    matched = {}
    for store in ("eu", "us"):
        r = subprocess.run([RULESYNC, "eval", "event.json", "--store", store], cwd=tmp_path,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        matched[store] = next(line for line in r.stdout.splitlines()
                              if line.startswith("matched:"))
    assert matched == {"eu": "matched: completed-new-auto-close", "us": "matched: completed-new"}
    r = subprocess.run([RULESYNC, "eval", "event.json", "--store", "asia"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "no such store" in r.stderr


def test_an_error_line_never_shows_a_configured_stores_token(tmp_path: Path) -> None:
    (tmp_path / "rulesync.yaml").write_text(STORES)
    secret = "tok-us-5e8b2a1f"
    bad = tmp_path / f"{secret}.json"
    bad.write_text("{not json")
    r = subprocess.run([RULESYNC, "eval", bad.name], cwd=tmp_path, capture_output=True,
                       text=True, env={**os.environ, "US_TOKEN": secret})
    assert r.returncode == 1 and "cannot read event" in r.stderr
    assert secret not in r.stderr + r.stdout
