"""Logging: readable lines by default, JSON lines with --log-format json; secrets redacted.

Redaction replaces secret *values*, never the words around them: the values of the secret
environment variables (and of any token the configuration names), the userinfo of every URL
(`https://user:pass@host` -> `https://***@host`), and values that are unmistakably credentials by
their syntax (an `X-Auth-Token` or `Authorization` header, a quoted "token"/"secret"/"password"
key with a quoted value, `token=...` in a query string). Prose such as "no store access token:
set the environment variable ..." is left as it is.
"""
from __future__ import annotations

import json
import logging
import os
import re
from urllib.parse import unquote, urlsplit

from connectors.bigcommerce.errors import REDACTED, redact_urls
from engine.errors import ConfigError

SECRET_ENVS = ("BIGCOMMERCE_ACCESS_TOKEN", "RULESYNC_WEBHOOK_SECRET")
LEVEL_ENV = "RULESYNC_LOG_LEVEL"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PROGRESS_LOGGER = "rulesync.progress"
MIN_SECRET = 4  # shorter "secrets" would redact ordinary letters out of every line
_KEYS = r"[\w-]*(?:token|secret|password|passwd)[\w-]*"
_PATTERNS = (
    # a header line or dict entry: X-Auth-Token: abc / 'X-Auth-Token': 'abc' / Authorization: ...
    re.compile(r"(?i)(\b(?:x-auth-token|authorization|x-rulesync-secret)['\"]?\s*[:=]\s*['\"]?)"
               r"(?:(?:basic|bearer)\s+)?[^\s'\",}]+"),
    # a quoted key with a quoted value, as in JSON or a Python dict repr
    re.compile(rf"(?i)(['\"]{_KEYS}['\"]\s*:\s*['\"])[^'\"]+"),
    # a query-string parameter: ?access_token=abc&
    re.compile(rf"(?i)([?&;]{_KEYS}=)[^&\s'\"#]+"),
)
_extra: set[str] = set()


def add_secret(value: str) -> None:
    """Redact `value` from every later line (e.g. a token read from a configured variable)."""
    value = value.strip()
    if len(value) >= MIN_SECRET:
        _extra.add(value)


def add_url_secrets(url: str) -> None:
    """Redact the password of a URL wherever it appears, not only inside the URL. (The user
    name is redacted inside URLs only: it may well be an ordinary word.)"""
    try:
        password = urlsplit(url.strip()).password
    except ValueError:
        return
    if password:
        add_secret(password)
        add_secret(unquote(password))


def secrets() -> list[str]:
    found = {os.environ.get(name, "") for name in SECRET_ENVS}
    found |= {s.strip() for s in found}  # the token is used stripped (engine.config)
    found |= _extra
    return sorted((s for s in found if len(s) >= MIN_SECRET), key=len, reverse=True)


def redact(text: str) -> str:
    for secret in secrets():
        text = text.replace(secret, REDACTED)
    text = redact_urls(text)
    for pattern in _PATTERNS:
        text = pattern.sub(rf"\1{REDACTED}", text)
    return text


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
