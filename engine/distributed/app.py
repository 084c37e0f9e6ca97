"""The Celery app: the tasks of tasks.py registered on it, two queues, late acknowledgement.

- `acks_late` with `reject_on_worker_lost` and a prefetch of 1: a task's message is acknowledged
  only after it ran, so a worker killed in the middle (or whose broker connection broke) leaves
  it to be delivered again, to another worker; a worker holds one message per thread it runs.
- Two queues: PREFIX.orders (a webhook's order, a retry, a push: short and urgent) and
  PREFIX.feed (a store's change-feed listing and slices: the long work). A worker takes both by
  default; workers started with `--queue orders` keep webhooks moving whatever backfill waits.
- Publishing waits for the broker's confirmation (RabbitMQ publisher confirms), so a message
  counted as sent is in the broker.
- No result backend: results are rows in PostgreSQL (runs.py), which `apply --queue` reads.

`celery -A engine.distributed.app inspect ping` (or active, stats, Flower) works against the
broker named by RULESYNC_BROKER_URL (or -b URL).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from celery import Celery
from kombu import Queue

from engine.distributed import tasks
from engine.distributed.runs import reason
from engine.distributed.settings import BROKER_ENV, Settings, shown
from engine.distributed.syncing import Session, Sessions
from engine.errors import RulesyncError

log = logging.getLogger("rulesync.worker")
NAMES = ("catch_up", "sync_slice", "push", "sync_order", "retries", "poll")
FEED_TASKS = ("catch_up", "sync_slice", "poll")
STALL_ENV = "RULESYNC_STALL_SECONDS"  # a run without progress this long is sent again


def make_app(settings: Settings) -> Celery:
    app = Celery("rulesync", broker=settings.url, set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_default_queue=settings.orders_queue,
        task_queues=[Queue(settings.orders_queue, durable=True),
                     Queue(settings.feed_queue, durable=True)],
        task_ignore_result=True, task_serializer="json", accept_content=["json"],
        broker_connection_retry_on_startup=True, broker_connection_max_retries=None,
        broker_transport_options={"confirm_publish": True},
        worker_hijack_root_logger=False, worker_redirect_stdouts=False,
        worker_send_task_events=False, task_send_sent_event=False,
        worker_enable_remote_control=True)
    return app


def reachable(app: Celery, found: Settings) -> None:
    """A clear error now rather than a wait: the broker answers."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=2, interval_start=0.2, interval_step=0.5)
    except Exception as e:  # noqa: BLE001 - kombu and py-amqp raise many kinds
        raise RulesyncError(f"cannot reach the broker {shown(found.url)}: {e}") from None


def queue_of(settings: Settings, name: str) -> str:
    return settings.feed_queue if name in FEED_TASKS else settings.orders_queue


def sender(app: Celery, settings: Settings) -> tasks.Send:
    """Queue a task by name; a broker error is logged, not raised: the rows in PostgreSQL keep
    what is owed, and a stalled run is sent again (tasks.nudge)."""
    def send(name: str, args: tuple[Any, ...]) -> None:
        try:
            app.send_task(f"rulesync.{name}", args=list(args), queue=queue_of(settings, name))
        except Exception as e:  # noqa: BLE001 - kombu raises many kinds while the broker is away
            log.warning("could not queue %s%r (sent again later): %s", name, args, e)
    return send


def waiting(settings: Settings) -> Callable[[str], int]:
    """The messages ready in the queue a task goes to (0 when the broker cannot say: a task
    sent then fails alone, and is sent again later)."""
    def count(task: str) -> int:
        from engine.distributed.status import broker_queues

        name = queue_of(settings, task)
        found = broker_queues(settings.url, [name]).get(name)
        return int(found["messages"]) if isinstance(found, dict) else 0
    return count


def register(app: Celery, settings: Settings, sessions: Sessions) -> None:
    """The tasks, each a thin call into tasks.py on the worker thread's session."""
    send = sender(app, settings)
    stall = tasks.Stall(float(os.environ.get(STALL_ENV) or max(60.0, settings.poll_seconds / 2)),
                        waiting(settings))

    def on(store: str, work: Callable[[Session], Any], run_id: str = "", kind: str = "") -> Any:
        try:
            with serving(kind):
                return sessions.using(store, work)
        except Exception as e:
            if not run_id:
                raise
            failure = e  # (`e` is unbound once the except block ends)
            log.error("store %s: run %s failed: %s", store, run_id[:8], reason(e))
            sessions.fail_run(store, run_id, failure)
            return None

    @app.task(name="rulesync.catch_up", acks_late=True)
    def catch_up(store: str, run_id: str) -> Any:
        return on(store, lambda s: tasks.catch_up(s, run_id, settings.slice_orders, send), run_id)

    @app.task(name="rulesync.sync_slice", acks_late=True)
    def sync_slice(store: str, run_id: str, n: int) -> Any:
        return on(store, lambda s: tasks.sync_slice(s, run_id, n, send), run_id, BULK)

    @app.task(name="rulesync.push", acks_late=True)
    def push(store: str, run_id: str = "") -> Any:
        return on(store, lambda s: tasks.push(s, run_id), run_id, SINGLE)

    @app.task(name="rulesync.sync_order", acks_late=True)
    def sync_order(store: str, order_id: int, inbox_ids: list[int], shipments: bool = False,
                   retry: bool = False) -> None:
        on(store, lambda s: tasks.sync_order(s, order_id, inbox_ids, shipments, retry),
           kind=SINGLE)

    @app.task(name="rulesync.retries", acks_late=True)
    def retries(store: str) -> Any:
        return on(store, lambda s: tasks.due_retries(s, send))

    @app.task(name="rulesync.poll", acks_late=True)
    def poll(store: str) -> Any:
        return on(store, lambda s: tasks.poll(s, send, stall))


BULK, SINGLE = "bulk", "single"  # the kinds of work the store's API quota knows


def serving(kind: str) -> AbstractContextManager[None]:
    """Requests made inside serve this kind of work, for the store's shared API quota
    (connectors/bigcommerce/quota.py): a slice of a backfill is bulk and may not take the
    tokens kept for single orders (webhooks, retries, pushes); unsaid (a listing), the store
    connector decides."""
    if not kind:
        return nullcontext()
    from connectors.bigcommerce.quota import work

    return work(kind)


def _from_environment() -> Celery:
    """For `celery -A engine.distributed.app ...`: the broker from the environment."""
    return make_app(Settings(url=os.environ.get(BROKER_ENV) or "amqp://localhost//"))


app = _from_environment()
