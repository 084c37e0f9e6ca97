"""`rulesync worker` and `rulesync beat`: Celery's worker and scheduler, on rulesync's app."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.cli.sync import load_config, state_option
from engine.config import Config
from engine.connect.session import open_state
from engine.distributed.settings import Settings, settings, shown
from engine.distributed.status import HEARTBEAT_KEY, heartbeats
from engine.errors import ConfigError

if TYPE_CHECKING:
    from celery import Celery

    from engine.distributed.syncing import Rules

log = logging.getLogger("rulesync.worker")
HEARTBEAT_S = 10.0
QUEUES = ("orders", "feed")


def _checked(ctx: click.Context, state_path: str | None, worker: bool = False
             ) -> tuple[Config, Settings, Rules]:
    try:
        import celery  # noqa: F401
    except ImportError:
        raise ConfigError("distributed mode needs Celery: pip install "
                          "'bigcommerce-rulesync[celery]'") from None
    from engine.distributed.syncing import read_rules

    config = load_config(ctx, state_path)
    found = settings(config)
    rules = read_rules(config)  # invalid rules stop here, before any task is taken
    for store in config.each_store():
        store.token()
        if worker and dict(store.quota).get("backend") == "process":
            log.warning("store %s: store.quota.backend: process gives each worker process the "
                        "store's whole API quota, so several workers together can pass it; "
                        "leave it out (postgresql, shared by all, with a PostgreSQL state)",
                        store.store_name)
    return config, found, rules


def _started(found: Settings, config: Config | None = None) -> Celery:
    """The app, once its broker answers (and the state, for a worker): a wrong URL, password
    or vhost is one line and exit 1 now, not a task failed and dropped or a loop of reconnects.
    An outage later is ridden out (systemd restarts one started while the broker was down)."""
    from engine.distributed.app import make_app, reachable

    if config is not None:
        open_state(config.state).close()
    app = make_app(found)
    reachable(app, found)
    return app


def _level() -> str:
    return logging.getLevelName(logging.getLogger().getEffectiveLevel())


def schedule(config: Config, found: Settings) -> dict[str, Any]:
    """Per store: the catch-up poll, the due retries and the pending pushes."""
    from engine.distributed.app import queue_of

    entries: dict[str, Any] = {}
    for store in config.each_store():
        name = store.store_name
        for task, every in (("poll", found.poll_seconds), ("retries", found.retry_seconds),
                            ("push", found.push_seconds)):
            entries[f"{task} {name}"] = {"task": f"rulesync.{task}", "schedule": every,
                                         "args": (name,),
                                         "options": {"queue": queue_of(found, task)}}
    return entries


def _heartbeat(config: Config, node: str, stop: threading.Event) -> None:
    """The worker says it is alive in the state, for `status` and /healthz; once it stops, it
    takes its row out. Rows of workers killed a day ago or more go when a worker starts."""
    state = None
    while not stop.is_set():
        try:
            if state is None:
                state = open_state(config.state)
                state.db.executemany("DELETE FROM sync_meta WHERE key = ?",  # type: ignore[attr-defined]
                                     [(f"{HEARTBEAT_KEY}{node}",) for node, age
                                      in heartbeats(state).items() if age > 86400])
            state.db.write("INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT (key) "  # type: ignore[attr-defined]
                           "DO UPDATE SET value = excluded.value",
                           (f"{HEARTBEAT_KEY}{node}", str(time.time())))
        except Exception as e:  # noqa: BLE001 - the database may be away for a while
            log.warning("worker heartbeat: %s", e)
            if state is not None:
                with suppress(Exception):  # its connection may be gone already
                    state.close()
            state = None
        stop.wait(HEARTBEAT_S)
    if state is not None:
        state.db.write("DELETE FROM sync_meta WHERE key = ?", (f"{HEARTBEAT_KEY}{node}",))  # type: ignore[attr-defined]
        state.close()


def _wake_often() -> None:
    """The threads pool acknowledges a finished task only when the worker's event loop next
    wakes, which without broker traffic can be seconds later; with a prefetch of one message
    per thread, the thread waits for that acknowledgement before it gets its next task
    (celery/celery#6941). A timer every 0.1 s wakes the loop."""
    from celery.signals import worker_ready

    def wake(sender: Any = None, **kwargs: Any) -> None:
        sender.timer.call_repeatedly(0.1, lambda: None)

    worker_ready.connect(wake, weak=False)


@click.command()
@state_option
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Tasks this process runs at once (threads).")
@click.option("--queue", "queues", type=click.Choice(QUEUES), multiple=True,
              help="Only these queues (default both): `--queue orders` keeps a worker for "
                   "webhooks, retries and pushes.")
@click.option("--beat", is_flag=True, help="Also run the schedule (one machine only).")
@click.option("--schedule", "schedule_file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(".rulesync/beat-schedule"), show_default=True,
              help="Where --beat keeps when each schedule last ran.")
@click.option("--name", "node", help="The worker's node name (default rulesync-PID@HOST).")
@click.pass_context
def worker(ctx: click.Context, state_path: str | None, concurrency: int,
           queues: tuple[str, ...], beat: bool, schedule_file: Path, node: str | None) -> None:
    """Run a Celery worker: take the tasks of every configured store from the broker
    (broker.url in rulesync.yaml or RULESYNC_BROKER_URL). Start as many as you like, on as many
    machines: they share the state in PostgreSQL."""
    from engine.distributed.app import register
    from engine.distributed.syncing import Sessions

    config, found, rules = _checked(ctx, state_path, worker=True)
    app = _started(found, config)
    register(app, found, Sessions(config, rules))
    if beat:
        app.conf.beat_schedule = schedule(config, found)
        schedule_file.parent.mkdir(parents=True, exist_ok=True)
    node = node or f"rulesync-{os.getpid()}@{socket.gethostname()}"
    names = [found.orders_queue if q == "orders" else found.feed_queue
             for q in (queues or QUEUES)]
    stop = threading.Event()
    heart = threading.Thread(target=_heartbeat, args=(config, node, stop), daemon=True)
    heart.start()
    click.echo(f"rulesync worker {node}: {concurrency} thread(s) on {', '.join(names)} at "
               f"{shown(found.url)}{' with beat' if beat else ''}", err=True)
    _wake_often()
    runner = app.Worker(hostname=node, queues=names, concurrency=concurrency, pool="threads",
                        loglevel=_level(), quiet=True, without_mingle=True, without_gossip=True)
    clock = None
    if beat:  # a thread of this process (Celery's own embedding forks a process, which a
        # SIGKILL of the worker would leave running on its own)
        from celery.beat import EmbeddedService

        clock = EmbeddedService(app, thread=True, schedule_filename=str(schedule_file))
        clock.start()
    try:
        runner.start()
    finally:
        stop.set()
        if clock is not None:
            clock.stop()
        heart.join(timeout=10)  # its row deleted: a worker stopped is not counted alive
    raise SystemExit(runner.exitcode or 0)


@click.command()
@state_option
@click.option("--schedule", "schedule_file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(".rulesync/beat-schedule"), show_default=True,
              help="Where beat keeps when each schedule last ran.")
@click.pass_context
def beat(ctx: click.Context, state_path: str | None, schedule_file: Path) -> None:
    """Run the schedule: each store's catch-up poll, due retries and pending pushes, queued for
    the workers. Run exactly one."""
    config, found, _ = _checked(ctx, state_path)
    app = _started(found)
    app.conf.beat_schedule = schedule(config, found)
    schedule_file.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"rulesync beat: {len(app.conf.beat_schedule)} schedule(s) at "
               f"{shown(found.url)}", err=True)
    app.Beat(schedule=str(schedule_file), loglevel=_level(), quiet=True).run()

