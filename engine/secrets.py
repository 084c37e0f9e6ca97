"""What must never be printed or stored, and the one function that takes it out of a text.

Redaction replaces secret *values*, never the words around them: the values of the secret
environment variables and of any token or URL password registered here (the configuration and
the store client register theirs), the userinfo of every URL (`https://user:pass@host` ->
`https://***@host`), and values that are unmistakably credentials by their syntax (an
`X-Auth-Token` or `Authorization` header, a quoted "token"/"secret"/"password" key with a quoted
value, `token=...` in a query string). Prose such as "no store access token: set the environment
variable ..." is left as it is. Log lines, error lines and the messages kept in the state file
all pass through `redact`.
"""
from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlsplit

REDACTED = "***"
# The status page's admin token is a secret like the others (engine/serve/status_auth.py).
SECRET_ENVS = ("BIGCOMMERCE_ACCESS_TOKEN", "RULESYNC_WEBHOOK_SECRET", "RULESYNC_ADMIN_TOKEN")
MIN_SECRET = 4  # shorter "secrets" would redact ordinary letters out of every line
# The userinfo of any URL: everything between the scheme and the last "@" of the authority.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#@'\"<>]*(?:@[^/\s?#@'\"<>]*)*@")
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
_registered: set[str] = set()


def add_secret(value: str) -> None:
    """Redact `value` from every later text (e.g. a token read from a configured variable)."""
    value = value.strip()
    if len(value) >= MIN_SECRET:
        _registered.add(value)


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
    found |= _registered
    return sorted((s for s in found if len(s) >= MIN_SECRET), key=len, reverse=True)


def redact_urls(text: str) -> str:
    """`scheme://user:password@host` -> `scheme://***@host`; the rest of the text is kept."""
    return _USERINFO.sub(rf"\1{REDACTED}@", text)


def redact(text: str) -> str:
    for secret in secrets():
        text = text.replace(secret, REDACTED)
    text = redact_urls(text)
    for pattern in _PATTERNS:
        text = pattern.sub(rf"\1{REDACTED}", text)
    return text
