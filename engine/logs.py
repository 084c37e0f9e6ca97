"""Logging: readable lines by default, JSON lines with --log-format json; secrets redacted
(`engine.secrets`: the values only, never the words around them)."""
from __future__ import annotations

import json
import logging
import os

from engine.errors import ConfigError
from engine.secrets import redact

LEVEL_ENV = "RULESYNC_LOG_LEVEL"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PROGRESS_LOGGER = "rulesync.progress"


class _Redacting(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        if self.as_json:  # redacted before JSON escaping, and after it for what escaping hid
            return redact(json.dumps({"time": self.formatTime(record), "level": record.levelname,
                                      "logger": record.name,
                                      "message": redact(record.getMessage())}))
        return redact(super().format(record))


def level_from_env(default: int = logging.WARNING) -> int:
    """RULESYNC_LOG_LEVEL by name (INFO, debug, ...) or number; a typo is a configuration error."""
    value = os.environ.get(LEVEL_ENV, "").strip()
    if not value:
        return default
    if value.isdigit():
        return int(value)
    if value.upper() not in LEVELS:
        raise ConfigError(f"{LEVEL_ENV}={value!r} is not a log level (known: {', '.join(LEVELS)})")
    return int(logging.getLevelName(value.upper()))


def level_for(verbose: int, quiet: bool) -> int | None:
    """-q: errors only; -v: INFO; -vv: DEBUG. None: leave the environment's level."""
    if quiet:
        return logging.ERROR
    if verbose:
        return logging.DEBUG if verbose > 1 else logging.INFO
    return None


def setup_logging(fmt: str = "text", level: int | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_Redacting(fmt == "json"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    set_level(level if level is not None else level_from_env())


def set_level(level: int) -> None:
    """The root level; progress lines show unless errors only were asked for (-q)."""
    logging.getLogger().setLevel(level)
    logging.getLogger(PROGRESS_LOGGER).setLevel(min(level, logging.INFO)
                                                if level < logging.ERROR else level)


def json_lines() -> bool:
    """Whether log lines (and so the final error line) are JSON."""
    return any(isinstance(h.formatter, _Redacting) and h.formatter.as_json
               for h in logging.getLogger().handlers)


def error_line(message: str, exit_code: int, kind: str = "error") -> str:
    """The last line a failing command prints: text, or one JSON object with --log-format json."""
    message = redact(message)
    if json_lines():
        return json.dumps({"level": "ERROR", "error": kind, "exit_code": exit_code,
                           "message": message})
    return message if kind == "usage" else f"{kind}: {message}"
