"""The token bucket shared in PostgreSQL: two buckets naming one store take from one row, the
store's headers seen by one hold for the other, and the configuration picks the backend."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.bigcommerce.policy import WaitTooLong
from connectors.bigcommerce.quota import BULK, SINGLE, Limits, ProcessBucket
from connectors.bigcommerce.quota_setup import backend_of, bucket_for, store_key
from engine import config as config_module
from engine.errors import ConfigError, DatabaseError
from tests.support import databases


@pytest.fixture
def url() -> Iterator[str]:
    with databases.fresh_schema() as found:
        yield found


def test_two_buckets_of_one_store_share_its_tokens(url: str) -> None:
    from connectors.bigcommerce.quota_postgres import PostgresBucket

    limits = Limits(150, 30)
    a, b = (PostgresBucket(url, "https://api.example/stores/abc", limits) for _ in range(2))
    other = PostgresBucket(url, "https://api.example/stores/def", limits)
    try:
        for _ in range(limits.capacity - limits.reserve):
            assert a._take(BULK) == 0
        assert b._take(BULK) > 0  # a took them: b's bulk work waits
        assert b._take(SINGLE) == 0  # but single-order work still has the reserve
        assert other._take(BULK) == 0  # another store has its own row
    finally:
        for bucket in (a, b, other):
            bucket.close()



def test_processes_taking_at_once_never_take_the_same_token(url: str) -> None:
    """Takes from two connections at once (two processes): each written only over the row as
    it read it, so none is lost and no more go than the bucket holds."""
    from connectors.bigcommerce.quota_postgres import PostgresBucket

    limits = Limits(3000, 300_000)  # a token comes back every 100 s: none during the test
    a, b = (PostgresBucket(f"{url}&application_name={name}", "s", limits) for name in "ab")
    assert a._link is not b._link  # two connections, as two processes have
    read, reads = a._read, []

    def read_then_b_takes(conn: object) -> object:
        found = read(conn)
        reads.append(found)
        if len(reads) == 1:  # b writes the row between a's read and a's write
            assert b._take(BULK) == 0
        return found

    try:
        a._read = read_then_b_takes  # type: ignore[method-assign]
        assert a._take(BULK) == 0
        assert len(reads) == 2  # a's first write found the row changed: a read it again
        tokens = [bucket._read(bucket._link._conn)[0].tokens for bucket in (a, b)]
        assert tokens[0] == tokens[1] <= limits.capacity - 2 + 0.1, tokens  # both counted
    finally:
        a.close()
        b.close()

def test_a_used_up_window_pauses_every_bucket_of_the_store(url: str) -> None:
    from connectors.bigcommerce.quota_postgres import PostgresBucket

    a, b = (PostgresBucket(url, "s", Limits(150, 30)) for _ in range(2))
    try:
        a.observe({"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "20000"})
        assert 19 < b._take(SINGLE) <= 20
        a.observe({"X-Rate-Limit-Requests-Quota": "450", "X-Rate-Limit-Time-Window-Ms": "30000"})
        b.observe({})  # nothing said: nothing written
        assert b._read_limits() == Limits(450, 30.0)
    finally:
        a.close()
        b.close()


def test_a_429_to_one_bucket_pauses_every_bucket_of_the_store(url: str) -> None:
    from connectors.bigcommerce.quota_postgres import PostgresBucket

    a, b = (PostgresBucket(url, "s", Limits(150, 30)) for _ in range(2))
    try:
        a.pause(8.0)  # a 429 without X-Rate-Limit-* headers, backed off 8 s
        assert 7 < b._take(SINGLE) <= 8
    finally:
        a.close()
        b.close()


def test_a_row_written_under_a_faster_configured_quota_is_held_to_todays(url: str) -> None:
    """The configuration lowered from 150 to 50 per 30 s, and no reply says the quota again."""
    from connectors.bigcommerce.quota_postgres import PostgresBucket

    before = PostgresBucket(url, "s", Limits(150, 30), Limits(150, 30))
    now = PostgresBucket(url, "s", Limits(50, 30), Limits(50, 30))
    try:
        assert before._read_limits() == Limits(150, 30)
        assert now._read_limits() == Limits(50, 30)
        assert now._take(BULK) == 0 and now.limits == Limits(50, 30)
    finally:
        before.close()
        now.close()


def test_headers_past_the_cap_are_refused_and_never_written_to_the_row(url: str) -> None:
    from connectors.bigcommerce.quota_postgres import PostgresBucket

    a, b = (PostgresBucket(url, "s", Limits(150, 30)) for _ in range(2))
    try:
        a.observe({"X-Rate-Limit-Requests-Quota": "2",
                   "X-Rate-Limit-Time-Window-Ms": "3600000"}, "GET /v2/orders")
        with pytest.raises(WaitTooLong, match=r"X-Rate-Limit-Time-Window-Ms: 3600000 in its "
                                              r"reply to GET /v2/orders\), more than the 30 s"):
            a.acquire(BULK)
        assert b._read_limits() == Limits(150, 30)  # the other processes keep their pace
        assert a.acquire(BULK) == 0.0
    finally:
        a.close()
        b.close()


def test_a_shared_row_that_would_wait_past_the_cap_is_refused(url: str) -> None:
    from connectors.bigcommerce.quota_postgres import PostgresBucket

    slow = PostgresBucket(url, "s", Limits(2, 3600), max_wait=4000)
    strict = PostgresBucket(url, "s", Limits(150, 30))
    try:
        assert slow.acquire(BULK) == 0.0  # the row is made with slow's limits, its token taken
        with pytest.raises(WaitTooLong, match="2 requests per 3600 s"):
            strict.acquire(BULK)
    finally:
        slow.close()
        strict.close()


def test_an_unreachable_database_is_one_clear_error() -> None:
    from connectors.bigcommerce.quota_postgres import PostgresBucket

    with pytest.raises(DatabaseError, match=r"cannot connect to postgresql://nobody@127\.0\.0\.1:9/"):
        PostgresBucket("postgresql://nobody:secret@127.0.0.1:9/x?connect_timeout=2", "s", Limits())


def configured(tmp_path: Path, text: str, state: str | None = None) -> config_module.Config:
    path = tmp_path / "rulesync.yaml"
    path.write_text(f"version: 1\n{text}", encoding="utf-8")
    return config_module.load(path, state=state, environ={"BIGCOMMERCE_STORE_HASH": "abc"})


def test_the_backend_follows_the_state_unless_said(tmp_path: Path) -> None:
    pg = "postgresql://rulesync@db.example/rulesync"
    assert backend_of(configured(tmp_path, "")) == ("process", "")
    assert backend_of(configured(tmp_path, "", pg)) == ("postgresql", pg)
    assert backend_of(configured(tmp_path, "store: {quota: {backend: process}}\n", pg)) == \
        ("process", "")
    other = "postgresql://q@quota.example/q"
    assert backend_of(configured(tmp_path, f"store: {{quota: {{url: '{other}'}}}}\n", pg)) == \
        ("postgresql", other)
    with pytest.raises(ConfigError, match="store.quota.backend: postgresql needs store.quota.url"):
        backend_of(configured(tmp_path, "store: {quota: {backend: postgresql}}\n"))
    assert store_key(configured(tmp_path, "")) == "https://api.bigcommerce.com/stores/abc"


def test_plan_and_a_sqlite_state_keep_the_bucket_in_the_process(tmp_path: Path) -> None:
    cfg = configured(tmp_path, "store: {quota: {requests: 450, window_seconds: 30}}\n",
                     "postgresql://rulesync@db.example/rulesync")
    bucket = bucket_for(cfg, read_only=True)  # never connects: plan changes nothing
    assert isinstance(bucket, ProcessBucket) and bucket.bucket.limits == Limits(450, 30)


def test_each_configured_store_has_its_own_quota(tmp_path: Path) -> None:
    cfg = configured(tmp_path, "store: {quota: {requests: 150}, concurrency: 2}\n"
                               "stores:\n"
                               "  - {name: eu, store_hash: a1, quota: {requests: 450}}\n"
                               "  - {name: us, store_hash: b2}\n")
    eu, us = cfg.each_store()
    assert (dict(eu.quota), eu.concurrency) == ({"requests": 450}, 2)
    assert (dict(us.quota), us.concurrency) == ({"requests": 150}, 2)
    assert store_key(eu) != store_key(us)
    assert bucket_for(eu).bucket.limits == Limits(450, 30)


def test_buckets_share_one_connection_per_database_and_survive_a_dropped_one(url: str) -> None:
    import psycopg

    from connectors.bigcommerce.quota_postgres import PostgresBucket, _Link

    a, b = PostgresBucket(url, "eu", Limits()), PostgresBucket(url, "us", Limits())
    try:
        assert a._link is b._link and a._link.users == 2
        pid = a._link._conn.info.backend_pid
        with psycopg.connect(databases.server_url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert a._take(SINGLE) == 0  # on a new connection
        assert a._link._conn.info.backend_pid != pid
    finally:
        a.close()
        b.close()
    assert url not in _Link._open


def test_a_postgresql_bucket_without_a_database_stops_apply_before_anything(
        tmp_path: Path) -> None:
    import subprocess

    from tests.support.acceptance_world import RULESYNC

    config = tmp_path / "rulesync.yaml"
    config.write_text("version: 1\nstore: {quota: {backend: postgresql}}\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "BIGCOMMERCE_STORE_HASH": "abc",
           "BIGCOMMERCE_ACCESS_TOKEN": "t0ken", "BIGCOMMERCE_API_URL": "http://127.0.0.1:9"}
    r = subprocess.run([RULESYNC, "--config", str(config), "apply", "--state",
                        str(tmp_path / "state.sqlite")], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr == (f"error: {config}: store.quota.backend: postgresql needs store.quota.url "
                        "or a PostgreSQL state (state: postgresql://...)\n")
    assert not (tmp_path / "state.sqlite").exists()
