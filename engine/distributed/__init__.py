"""Distributed mode: the sync as small Celery tasks shared by worker processes on any number of
machines, the state in PostgreSQL, the broker RabbitMQ (or Redis). docs/distributed.md.

Nothing outside this package imports it unless a distributed command runs (`worker`, `beat`,
`status`, `apply --queue`, `serve --queue`), and only app.py imports Celery, so the
single-process mode needs neither the extra nor a broker.

- settings.py: the broker URL, queue names and schedules from `broker:` and the environment;
- app.py: the Celery app (acks late, prefetch 1, two queues), the tasks registered on it;
- runs.py: a store's full sync as rows in PostgreSQL (its slices, their summaries, the cursor);
- locks.py: PostgreSQL advisory locks per store and order;
- syncing.py: the engine's Sync with those locks, one per worker thread and store;
- feed.py: a store's change feed cut into slices;
- tasks.py: what each task does;
- cli.py, status.py, relay.py: the commands.
"""
