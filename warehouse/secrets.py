"""Secrets never reach a table, a log or an export.

- `register(key)`: an API key this process uses (collect's and extract's HTTP client register
  theirs). `redact(text)` replaces every registered key, and any bearer token, with `***`;
  `redact_value` does the same inside dicts and lists. Every writer of server replies passes
  its rows through them, so a server that echoes the Authorization header stores nothing.
- `find_secret(text)`: the first thing in a text that looks like a secret (a registered key,
  a secret-named environment variable's value, a bearer token or a well-known token shape);
  `psw export-hf` refuses to publish a column where it finds one.
"""

from __future__ import annotations

import os
import re
import threading

MASK = "***"
_BEARER = r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}"
# a token has a digit somewhere: "bearer responsibilities" is not one
BEARER = re.compile(r"(?i)\bbearer\s+(?=[A-Za-z0-9._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{16,}")
# shapes of well-known credentials: (name, pattern); RE2-compatible, so Arrow can pre-filter with them
TOKEN_SHAPES = [
    ("bearer token", _BEARER),
    ("API key (sk-...)", r"\bsk-[A-Za-z0-9_-]{20,}"),
    ("Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}"),
    ("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    ("AWS access key id", r"\bAKIA[0-9A-Z]{16}\b"),
    ("private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]
SECRET_ENV_NAME = re.compile(r"(?i)(key|token|secret|password|passwd|credential)")

_lock = threading.Lock()
_registered: set[str] = set()


def register(secret: str | None) -> None:
    """Remember a secret this process uses, so `redact` removes it (short values are ignored:
    replacing a 3-letter "key" would mangle ordinary text)."""
    if secret and len(secret) >= 8:
        with _lock:
            _registered.add(secret)


def registered() -> list[str]:
    with _lock:
        return sorted(_registered, key=len, reverse=True)   # longest first: no partial leftovers


def redact(text: str | None) -> str | None:
    if not text:
        return text
    for secret in registered():
        if secret in text:
            text = text.replace(secret, MASK)
    return BEARER.sub("Bearer " + MASK, text)


def redact_value(value):
    """`redact` applied to every string inside a value (dicts, lists and tuples kept as they are)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v) for v in value)
    return value


def env_secrets() -> dict[str, str]:
    """{variable: value} of environment variables named like secrets whose values look like
    credentials (16+ characters, no spaces, letters and digits), plus the registered keys."""
    found = {name: value for name, value in os.environ.items()
             if SECRET_ENV_NAME.search(name) and len(value) >= 16 and not re.search(r"\s", value)
             and re.search(r"[A-Za-z]", value) and re.search(r"[0-9]", value)}
    for i, secret in enumerate(registered()):
        found.setdefault(f"registered key {i + 1}", secret)
    return found


def prefilter_pattern() -> str:
    """One RE2 pattern that matches every text `find_secret` could flag (and some it will not):
    Arrow runs it over whole columns, Python looks closer only at the rows it matches."""
    literals = [re.escape(value) for value in env_secrets().values()]
    return "|".join([f"(?:{pattern})" for _, pattern in TOKEN_SHAPES] + literals)


def find_secret(text: str | None) -> str | None:
    """What kind of secret `text` holds (never the secret itself), or None."""
    if not text:
        return None
    for name, value in env_secrets().items():
        if value in text:
            return f"the value of ${name}" if not name.startswith("registered") else "an API key in use"
    for name, pattern in TOKEN_SHAPES:
        regex = BEARER if pattern == _BEARER else re.compile(pattern)
        if regex.search(text):
            return f"a {name}"
    return None
