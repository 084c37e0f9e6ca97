"""What distributed mode looks like from the state: workers alive, each store's pending work.
`rulesync status` and serve --queue's /healthz read it here."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from engine.connect.ports import SyncState
from engine.errors import DatabaseError
from engine.secrets import redact

HEARTBEAT_KEY = "workers:"  # sync_meta keys workers:NODE = the epoch a worker last said alive
ALIVE_S = 60.0


def heartbeats(state: SyncState) -> dict[str, float]:
    """Each worker's node name and the seconds since it last said it was alive."""
    rows = state.db.rows("SELECT key, value FROM sync_meta WHERE key LIKE ?",  # type: ignore[attr-defined]
                         (f"{HEARTBEAT_KEY}%",))
    now = time.time()
    return {k.removeprefix(HEARTBEAT_KEY): now - float(v) for k, v in rows}


def workers_alive(state: SyncState, within: float = ALIVE_S) -> list[str]:
    """The node names of the workers that said they were alive within the last `within` s."""
    return sorted(node for node, age in heartbeats(state).items() if age < within)


def _age(iso: str | None, now: float) -> int:
    if not iso:
        return 0
    return max(0, int(now - datetime.fromisoformat(iso).timestamp()))


def store_status(state: SyncState) -> dict[str, Any]:
    """One store: its webhook deliveries not yet done, the run in progress (its listing, or its
    slices not yet done), the age of the oldest of all that, the last successful sync, the
    retry set."""
    from engine.distributed import runs as stages
    from engine.distributed.runs import Runs

    db, now = state.db, time.time()  # type: ignore[attr-defined]
    runs = Runs(state)  # type: ignore[arg-type]
    inbox = state.inbox()
    run = runs.in_progress()
    # A run being listed (its slices not cut yet) or finished (its last push) waits for one task.
    slices = (len(runs.undone(str(run["id"]))) if run["stage"] == stages.SLICES else 1) \
        if run else 0
    oldest = [a for a in (inbox.oldest_age(), _age(run["started_at"], now) if run else 0) if a]
    retries = state.retries().counts(now)
    last_error = db.one("SELECT error FROM dist_runs WHERE store = ? AND error <> '' AND "
                        "touched > ? ORDER BY touched DESC LIMIT 1",
                        (state.store, float(db.one("SELECT coalesce(max(touched), 0) FROM "
                                                   "dist_runs WHERE store = ? AND stage = 'done' "
                                                   "AND error = ''", (state.store,))[0])))
    return {"queue_depth": inbox.depth() + slices,
            "deliveries_waiting": inbox.depth(), "slices_waiting": slices,
            "oldest_pending_seconds": max(oldest, default=0),
            "run": None if run is None else {"id": run["id"], "stage": run["stage"],
                                             "started_at": run["started_at"]},
            "last_sync": state.get_meta("last_sync") or None,
            "last_run_error": last_error[0] if last_error else None,
            "retry_set": retries["waiting"], "retries_due": retries["due"],
            "dead_deliveries": inbox.dead()}


def queued_health(state: SyncState, config: Any = None) -> dict[str, Any]:
    """What serve --queue's /healthz adds for a store: the change-feed slices waiting, the
    stage of the run in progress, the age of the oldest pending work (deliveries or the run),
    the last run's error and, given the store's configuration, its shared API quota."""
    found = store_status(state)
    return {"slices_waiting": found["slices_waiting"],
            "oldest_pending_seconds": found["oldest_pending_seconds"],
            "run": found["run"]["stage"] if found["run"] else None,
            "last_run_error": redact(found["last_run_error"]) if found["last_run_error"] else None,
            **({"quota": _quota_or_error(config, state)} if config is not None else {})}


def _quota_or_error(config: Any, state: SyncState) -> dict[str, Any] | None:
    """The quota, or why it cannot be read: its database down is not the state's failure."""
    try:
        return quota_use(config, state)
    except DatabaseError as e:
        return {"error": str(e)}


def broker_queues(url: str, names: list[str]) -> dict[str, Any]:
    """Messages waiting and consumers of each queue, as the broker counts them; {"error": ...}
    when it cannot be reached."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
            found: dict[str, Any] = {}
            for name in names:
                channel = conn.channel()
                try:
                    _, messages, consumers = channel.queue_declare(queue=name, passive=True)
                    found[name] = {"messages": int(messages), "consumers": int(consumers)}
                except Exception:  # noqa: BLE001 - not declared yet: no worker ever ran
                    found[name] = {"messages": 0, "consumers": 0}
                finally:
                    try:
                        channel.close()
                    except Exception:  # noqa: BLE001 - a refused passive declare closed it
                        pass
            return found
    except Exception as e:  # noqa: BLE001 - kombu and py-amqp raise many kinds
        return {"error": str(e)}


def quota_use(config: Any, state: SyncState | None = None) -> dict[str, Any] | None:
    """The store's shared API quota as its bucket is now (connectors/bigcommerce/
    quota_postgres.py): None when the bucket is in each process's memory, or never used. Read
    through `state`'s connection when the bucket lives in the state's database (the default),
    so that /healthz opens no connection per store."""
    try:
        from connectors.bigcommerce.quota_postgres import TABLE
        from connectors.bigcommerce.quota_setup import POSTGRESQL, backend_of, store_key
    except ImportError:
        return None
    backend, url = backend_of(config)
    if backend != POSTGRESQL:
        return None
    from engine.storage import db as databases

    shared = state is not None and url == str(config.state)
    conn = state.db if shared else databases.connect(url, "status")  # type: ignore[union-attr]
    try:
        if not conn.has_table(TABLE):
            return None
        row = conn.one(f"SELECT requests, window_s, tokens, "  # on the database's clock
                       f"paused_until > extract(epoch FROM clock_timestamp()), "
                       f"extract(epoch FROM clock_timestamp()) - stamp FROM {TABLE} "
                       f"WHERE store = ?", (store_key(config),))
    finally:
        if not shared:
            conn.close()
    if row is None:
        return None
    requests, window, tokens, paused, age = row
    from connectors.bigcommerce.quota import Bucket, Limits

    # As the bucket is now: refilled since its last take, up to what it holds at most.
    limits = Limits(int(requests), float(window))
    now = Bucket(limits, float(tokens), 0.0).at(max(0.0, float(age)))
    return {"requests": limits.requests, "window_seconds": limits.window,
            "tokens_left": round(now.tokens, 1), "tokens_at_most": limits.capacity,
            "last_take_seconds_ago": round(float(age), 1), "paused": bool(paused)}
