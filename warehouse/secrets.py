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

import base64
import os
import re
import threading
import urllib.parse

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
# credentials inside a URL: `scheme://user:pass@host` and `?api_key=...` (psw stores neither)
URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
URL_CREDENTIAL = re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access[_-]?token|auth|secret|password|sig|signature)=)"
                            r"[^&#\s\"']+")
SECRET_ENV_NAME = re.compile(r"(?i)(key|token|secret|password|passwd|credential)")

_lock = threading.Lock()
_registered: set[str] = set()
_patterns: dict[str, re.Pattern] = {}
SPACES = r"\s*"
FUZZY_MIN = 8    # keys this long are also matched with spaces inside (every key in any case)
SHORT_KEY = 16   # a key shorter than this is warned about: it may also occur in ordinary text


def register(secret: str | None) -> None:
    """Remember a secret this process uses, so `redact` removes it, at any length."""
    if secret:
        with _lock:
            _registered.add(secret)
            _patterns.pop("", None)


def short_key_warning(secret: str | None, what: str = "the API key") -> str | None:
    """One line for stderr when a key is so short that redacting it may also hide ordinary text."""
    if secret and len(secret) < SHORT_KEY:
        return (f"warning: {what} is {len(secret)} characters long (under {SHORT_KEY}); it is redacted "
                f"from everything stored, which may also hide ordinary text that contains it")
    return None


def registered() -> list[str]:
    with _lock:
        return sorted(_registered, key=len, reverse=True)   # longest first: no partial leftovers


def forms(secret: str) -> list[str]:
    """Regex sources (RE2-compatible) for every way a server may echo `secret`: in any case,
    URL-encoded, or base64-encoded at any offset of a longer text; a key of 8 characters or more
    also with spaces inside (a shorter one, spaced out, would also take ordinary words: its
    short-key warning says redaction may hide ordinary text anyway)."""
    if len(secret) >= FUZZY_MIN:
        found = [f"(?i:{SPACES.join(re.escape(ch) for ch in secret)})"]
    else:
        found = [f"(?i:{re.escape(secret)})"]
    for encoded in {urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret, safe="")}:
        if encoded != secret:
            found.append(f"(?i:{re.escape(encoded)})")
    for text in _base64_forms(secret):
        found.append(re.escape(text))
    return found


def _base64_forms(secret: str) -> set[str]:
    """The base64 text of `secret` as it appears inside any longer base64 text (three alignments,
    standard and URL-safe alphabets), minus the characters its neighbours change."""
    data = secret.encode("utf-8")
    out = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode("ascii").rstrip("=")
        start = (shift * 8 + 5) // 6 if shift else 0          # characters mixed with the prefix
        stop = len(encoded) - (1 if (shift + len(data)) % 3 else 0)   # the last may mix with what follows
        core = encoded[start:stop]
        if len(core) >= 4:
            out.add(core)
            out.add(core.replace("+", "-").replace("/", "_"))
    return out


def _pattern() -> re.Pattern | None:
    with _lock:
        if "" not in _patterns and _registered:
            alternatives = [f for secret in sorted(_registered, key=len, reverse=True) for f in forms(secret)]
            _patterns[""] = re.compile("|".join(alternatives))
        return _patterns.get("")


def redact(text: str | None) -> str | None:
    if not text:
        return text
    pattern = _pattern()
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = URL_CREDENTIAL.sub(lambda m: m.group(1) + MASK, URL_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text))
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
    literals = [form for value in env_secrets().values() for form in forms(value)]
    scoped = [f"(?i:{p[4:]})" if p.startswith("(?i)") else f"(?:{p})" for _, p in TOKEN_SHAPES]
    return "|".join(scoped + literals)   # flags scoped, so Python's re reads it as RE2 does


def find_secret(text: str | None) -> str | None:
    """What kind of secret `text` holds (never the secret itself), or None."""
    if not text:
        return None
    for name, value in env_secrets().items():
        if value in text or re.search("|".join(forms(value)), text):
            return f"the value of ${name}" if not name.startswith("registered") else "an API key in use"
    for name, pattern in TOKEN_SHAPES:
        regex = BEARER if pattern == _BEARER else re.compile(pattern)
        if regex.search(text):
            return f"a {name}"
    return None
