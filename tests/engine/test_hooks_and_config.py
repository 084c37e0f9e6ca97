"""Hook destinations BigCommerce can deliver to; tokens that could leak through HTTP errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from connectors.bigcommerce.hooks import check_destination
from engine.config import load
from engine.errors import ConfigError


@pytest.mark.parametrize("url", ["https://sync.example.com/webhooks",
                                 "https://sync.example.com:443/w", "http://127.0.0.1:8080/w"])
def test_destinations_bigcommerce_delivers_to(url: str) -> None:
    check_destination(url)


@pytest.mark.parametrize("url", ["http://sync.example.com/w", "https://sync.example.com:8443/w",
                                 "https:///nohost", "https://x:abc/", "ftp://x/"])
def test_destinations_it_does_not(url: str) -> None:
    with pytest.raises(ConfigError, match="443"):
        check_destination(url)


def test_a_token_with_control_characters_is_refused_without_echoing_it(tmp_path: Path) -> None:
    config = load(None, state=tmp_path / "s.sqlite", environ={
        "BIGCOMMERCE_ACCESS_TOKEN": "s3cr3t-value\rX", "BIGCOMMERCE_STORE_HASH": "abc"})
    with pytest.raises(ConfigError) as caught:
        config.token()
    assert "s3cr3t" not in str(caught.value)


def test_surrounding_whitespace_is_not_part_of_the_token(tmp_path: Path) -> None:
    config = load(None, state=tmp_path / "s.sqlite", environ={
        "BIGCOMMERCE_ACCESS_TOKEN": " s3cr3t-value\n", "BIGCOMMERCE_STORE_HASH": "abc"})
    assert config.token() == "s3cr3t-value"
