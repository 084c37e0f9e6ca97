"""`rulesync serve` and the status page: the admin token and the paths the page claims are
checked before anything listens."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.serve_world import run, sandbox


@pytest.mark.parametrize("path", ["/", "/login", "/logout", "/orders/1", "/healthz"])
def test_the_hook_path_cannot_be_one_of_the_pages(tmp_path: Path, path: str) -> None:
    with sandbox() as sb:
        r = run(sb, tmp_path, "serve", "--port", "0", "--path", path)
    assert r.returncode == 2
    assert f"Invalid value for --path: {path} belongs to the status page or /healthz" \
        in r.stderr
    assert not (tmp_path / ".rulesync").exists()


def test_a_hook_path_without_its_leading_slash_is_refused(tmp_path: Path) -> None:
    """It could never be posted to."""
    with sandbox() as sb:
        r = run(sb, tmp_path, "serve", "--port", "0", "--path", "hooks")
    assert r.returncode == 2
    assert "Invalid value for --path: 'hooks' is not a URL path: begin it with / (/hooks)" \
        in r.stderr
    assert not (tmp_path / ".rulesync").exists()


def test_a_short_admin_token_is_refused(tmp_path: Path) -> None:
    with sandbox() as sb:
        r = run(sb, tmp_path, "serve", "--port", "0", RULESYNC_ADMIN_TOKEN="short")
    assert r.returncode == 1
    assert r.stderr.strip().endswith("RULESYNC_ADMIN_TOKEN must be a random token of 16 "
                                     "characters or more (or unset, to leave the status page off)")
    assert not (tmp_path / ".rulesync").exists()
