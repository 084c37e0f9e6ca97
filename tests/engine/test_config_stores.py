"""rulesync.yaml with `stores:`: what a store's entry may be, and where each setting came from."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import config as configuration
from engine.connect.session import check_settings, rulesets_by_direction
from engine.errors import ConfigError

STORES = """version: 1
settings: {auto_close: true}
stores:
  - name: eu
    store_hash: abc
    settings: {auto_close: false}
  - name: us
    store_hash: def
"""


def _load(tmp_path: Path, text: str, **kwargs: object) -> configuration.Config:
    path = tmp_path / "rulesync.yaml"
    path.write_text(text)
    return configuration.load(path, environ={}, **kwargs)  # type: ignore[arg-type]


def test_a_set_flag_is_named_as_the_origin_even_over_a_stores_own_setting(tmp_path: Path
                                                                          ) -> None:
    config = _load(tmp_path, STORES, settings={"auto_close": 1})
    for store in config.stores:
        assert store.settings["auto_close"] == 1 and store.origins["auto_close"] == "--set"
        with pytest.raises(ConfigError, match=r"^--set: setting 'auto_close' must be true or false"):
            check_settings(rulesets_by_direction(store), store.settings, store.origins)
    eu = _load(tmp_path, STORES).stores[0]  # without --set, the store's own line
    assert eu.origins["auto_close"].endswith("rulesync.yaml:6:28")


def test_a_store_name_ending_in_a_newline_is_refused(tmp_path: Path) -> None:
    # JSON Schema's `$` (Python's re.search) matches before a final newline.
    with pytest.raises(ConfigError, match=r"store name 'eu\\n'"):
        _load(tmp_path, STORES.replace("name: eu", 'name: "eu\\n"'))


def test_two_stores_with_one_store_hash_are_refused(tmp_path: Path) -> None:
    # serve would take both stores' deliveries (producer stores/abc) as one store's
    with pytest.raises(ConfigError, match="stores eu and us both have store_hash abc"):
        _load(tmp_path, STORES.replace("store_hash: def", "store_hash: abc"))


def test_two_stores_with_one_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="two stores are named 'eu'"):
        _load(tmp_path, STORES.replace("name: us", "name: eu"))
