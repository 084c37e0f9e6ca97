"""Where the broker is and how the work is laid out on it, from `broker:` in rulesync.yaml and
the environment (RULESYNC_BROKER_URL, RULESYNC_QUEUE_PREFIX)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.config import Config
from engine.errors import ConfigError
from engine.secrets import add_url_secrets
from engine.storage import db

BROKER_ENV = "RULESYNC_BROKER_URL"
PREFIX_ENV = "RULESYNC_QUEUE_PREFIX"
SCHEMES = ("amqp", "pyamqp", "amqps", "redis", "rediss")


@dataclass(frozen=True)
class Settings:
    url: str
    prefix: str = "rulesync"
    poll_seconds: float = 300.0
    retry_seconds: float = 30.0
    push_seconds: float = 10.0
    slice_orders: int = 50

    @property
    def orders_queue(self) -> str:
        """Single orders (webhooks, retries, stale pushes) and pushes: short, urgent work."""
        return f"{self.prefix}.orders"

    @property
    def feed_queue(self) -> str:
        """Change-feed listings and slices: backfill and catch-up, the long work."""
        return f"{self.prefix}.feed"


def shown(url: str) -> str:
    """A broker URL without its password."""
    scheme, sep, rest = url.partition("://")
    auth, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{auth.partition(':')[0]}{at}{host}" if at else url


def settings(config: Config) -> Settings:
    """The broker settings; an error naming what to set when there is no broker."""
    broker = dict(config.broker)
    url = (config.environ.get(BROKER_ENV) or str(broker.get("url", ""))).strip()
    if not url:
        raise ConfigError(f"no broker: set {BROKER_ENV} or broker.url in rulesync.yaml "
                          "(for RabbitMQ, amqp:// followed by user:password@host:5672/vhost)")
    add_url_secrets(url)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in SCHEMES:
        raise ConfigError(f"broker {shown(url)}: not a broker URL (amqp://... for RabbitMQ, "
                          "redis://... for Redis)")
    if not db.is_url(config.state) or db.scheme(config.state) not in ("postgresql", "postgres"):
        raise ConfigError(f"distributed mode keeps the state in PostgreSQL, which every worker "
                          f"shares: the state is {db.shown(config.state)} (set state: "
                          "postgresql://... or RULESYNC_DATABASE_URL)")
    prefix = config.environ.get(PREFIX_ENV) or str(broker.get("queue_prefix", "rulesync"))
    return Settings(url=url, prefix=prefix,
                    poll_seconds=float(broker.get("poll_seconds", 300.0)),
                    retry_seconds=float(broker.get("retry_seconds", 30.0)),
                    push_seconds=float(broker.get("push_seconds", 10.0)),
                    slice_orders=int(broker.get("slice_orders", 50)))
