"""Logging: readable lines by default, JSON lines with --log-format json; secrets redacted."""
from __future__ import annotations

import json
import logging
import os
import re

SECRET_ENVS = ("BIGCOMMERCE_ACCESS_TOKEN", "RULESYNC_WEBHOOK_SECRET")
_TOKEN_LIKE = re.compile(r"(?i)(x-auth-token|token|secret)(['\"]?\s*[:=]\s*['\"]?)([^\s'\",}]+)")


def redact(text: str) -> str:
    for name in SECRET_ENVS:
        secret = os.environ.get(name, "").strip()  # the token is used stripped (engine.config)
        if secret:
            text = text.replace(secret, "***")
    return _TOKEN_LIKE.sub(r"\1\2***", text)


class _Redacting(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        if self.as_json:
            return redact(json.dumps({"time": self.formatTime(record), "level": record.levelname,
                                      "logger": record.name, "message": record.getMessage()}))
        return redact(super().format(record))


def setup_logging(fmt: str = "text", level: int = logging.WARNING) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_Redacting(fmt == "json"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(int(os.environ.get("RULESYNC_LOG_LEVEL", level)) if
                  os.environ.get("RULESYNC_LOG_LEVEL", "").isdigit() else level)
