"""Async chat-completions client: cache first, then HTTP with bounded retries.

- Cache key: sha256 over (base url, model, messages, parameters). Headers, and so
  the API key, are never part of it and never stored.
- Retries on 429, 5xx, timeouts, connection errors and unreadable 200 bodies, with
  exponential backoff and full jitter, honouring Retry-After; `max_attempts` in all,
  then the call returns an error (the caller writes an error row).
- Other 4xx answers are not retried.
- The key is registered with warehouse.secrets; every text that comes back from the server
  (answers, bodies, error messages) passes `redact` before anyone sees it, so a server that
  echoes the Authorization header cannot plant the key in a completion, a judgment or the cache.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import json
import random
import re
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import sys

import httpx

from collect.prices import call_cost, prices
from warehouse import secrets
from warehouse.errors import UserError

try:  # httpcore imports sniffio on every request; a failed import is not cached and
    import sniffio  # noqa: F401  (re-scans sys.path each time: ~0.5 ms per request)
except ImportError:
    sys.modules.setdefault("sniffio", None)  # httpcore then assumes asyncio, which we use


RETRY_STATUS = {408, 409, 425, 429}   # plus every 5xx


@dataclass
class ChatResult:
    content: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None      # usage.cost when the API reports it
    cached: bool = False
    attempts: int = 0
    error: str | None = None
    reasoning: str | None = None   # the reasoning a thinking model returned beside its content


@dataclass
class Stats:
    calls: int = 0          # logical calls (cache hits included)
    requests: int = 0       # HTTP requests sent (every attempt)
    cache_hits: int = 0
    retries: int = 0
    failed_calls: int = 0   # calls that ended without an answer
    tokens: int = 0         # tokens of answers received in this run (not cache hits)
    cost: float = 0.0       # USD of those answers, by collect.prices' rule (the costs mart's)
    unpriced: dict = field(default_factory=dict)  # model -> calls with no reported cost and no price
    started: float = field(default_factory=time.monotonic)


_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


def normalise_base_url(base_url: str) -> str:
    """One spelling per server, for the cache key and the stored probe: scheme and host in lower
    case, `localhost` as 127.0.0.1, no default port, no trailing slash, no credentials (they say
    who asks, not what is asked, and must not reach a table)."""
    base_url = strip_url_credentials(base_url)   # user:pass@ and ?api_key= never key a cache row
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    try:
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:                     # a port that is not a number: leave the URL as given
        return base_url
    if host in _LOOPBACK_NAMES:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def cache_key(base_url: str, model: str, messages: list[dict], params: dict) -> str:
    blob = json.dumps({"base_url": normalise_base_url(base_url), "model": model, "messages": messages,
                       "params": params}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# query parameters that carry credentials (`?api_key=`, `?key=`, `?token=`, `?sig=`...)
CREDENTIAL_PARAM = re.compile(r"(?i)^(api[_-]?key|key|token|access[_-]?token|auth|secret|password|sig|signature)$")


def split_url_credentials(base_url: str) -> tuple[str, dict[str, str]]:
    """(the base URL without credentials, the headers that carry them instead). `user:pass@`
    becomes HTTP Basic auth; a credential query parameter becomes a bearer token (an API key,
    when given, takes its place). Each value is registered with warehouse.secrets, so what the
    server echoes is redacted; the URL that is stored and keys the cache holds none of them."""
    try:
        parts = urllib.parse.urlsplit(base_url.strip())
        parts.port   # noqa: B018 (a bad port raises here, not in the first request)
    except ValueError as exc:
        raise UserError(f"--base-url {secrets.redact(base_url)}: not a URL ({exc})") from None
    headers: dict[str, str] = {}
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        user, password = urllib.parse.unquote(user), urllib.parse.unquote(password)
        secrets.register(password)
        check_api_key(user, "the user name in --base-url", warn_short=False)
        check_api_key(password, "the password in --base-url")
        token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
        secrets.register(token)
        headers["Authorization"] = f"Basic {token}"
    kept = []
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if CREDENTIAL_PARAM.match(name):
            secrets.register(value)
            check_api_key(value, f"--base-url's {name}")
            headers.setdefault("Authorization", f"Bearer {value}")
        else:
            kept.append((name, value))
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), urllib.parse.urlencode(kept),
                                     parts.fragment))
    return clean.rstrip("/"), headers


def strip_url_credentials(base_url: str) -> str:
    return split_url_credentials(base_url)[0]


def check_api_key(key: str | None, what: str = "the API key", warn_short: bool = True) -> None:
    """An HTTP header carries ASCII only: say so in one line (not a UnicodeEncodeError from the
    first request), and warn about a short key (redacting it may hide ordinary text)."""
    if not key:
        return
    bad = next((i for i, ch in enumerate(key) if not (" " <= ch <= "~")), None)
    if bad is not None:
        raise UserError(f"{what}: character {bad + 1} of {len(key)} is not printable ASCII "
                        f"({unicodedata.name(key[bad], hex(ord(key[bad])))}); HTTP headers carry ASCII only: "
                        f"check the value (a pasted quote or space?)")
    warning = secrets.short_key_warning(key, what) if warn_short else None
    if warning and key not in _warned:
        _warned.add(key)
        print(warning, file=sys.stderr)


_warned: set[str] = set()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class ChatClient:
    """One per run. `cache` maps cache_key -> (content, finish_reason) and is filled by the caller;
    `on_response(row)` receives each new answer for the raw.api_calls table."""

    def __init__(self, base_url: str, api_key: str | None, *, concurrency: int = 16,
                 timeout: float = 120.0, max_attempts: int = 5, backoff_base: float = 1.0,
                 backoff_max: float = 30.0, retry_after_max: float = 120.0,
                 cache: dict | None = None, on_response=None, stats: Stats | None = None,
                 price_table: dict | None = None):
        self.base_url, url_headers = split_url_credentials(base_url)
        self.url = self.base_url + "/chat/completions"
        self.server = normalise_base_url(base_url)   # the cache key's and raw.api_calls' spelling
        self._key = api_key or None
        check_api_key(self._key)
        secrets.register(self._key)
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.cache = cache if cache is not None else {}
        self._inflight: dict[str, asyncio.Future] = {}   # cache key -> the answer on its way
        self.on_response = on_response
        self.stats = stats or Stats()
        self.price_table = prices() if price_table is None else price_table
        self.adaptive = None    # an AdaptiveLimit (collect/aimd.py) when the server reports no slots
        # One single-connection AsyncClient per concurrent request, handed out from a
        # free list (this is also the concurrency limit): one shared httpx pool of 64
        # connections spends most of its CPU scanning the pool (~3x slower here). Each
        # slot is an httpx transport used directly: the AsyncClient layer on top (URL and
        # header merging, auth, redirects, cookies) cost another ~25% CPU per call.
        self._timeout = httpx.Timeout(timeout).as_dict()
        headers = {"Content-Type": "application/json", **url_headers}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        self._headers = headers
        # one SSL context for all clients: loading the CA bundle costs ~50-80 ms per client,
        # and httpx builds one per client even for plain http
        self._ssl = None  # created with the first client (a replay from cache needs none)
        self._url = httpx.URL(self.url)
        self._free: asyncio.LifoQueue = asyncio.LifoQueue()
        self._all: list[httpx.AsyncHTTPTransport] = []
        for _ in range(max(1, concurrency)):
            self._free.put_nowait(None)  # clients are created on first use

    async def _adapt(self, resp: httpx.Response | None, latency: float) -> None:
        """Tell the AIMD limit (collect/aimd.py) how a request went: no answer, 429 and 5xx are
        congestion; an answer's latency says whether requests wait in the server."""
        status = None if resp is None else resp.status_code
        congested = status is None or status in RETRY_STATUS or status >= 500
        await self.adaptive.release(latency if status == 200 else None, congested)

    def _new_http(self) -> httpx.AsyncHTTPTransport:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        http = httpx.AsyncHTTPTransport(verify=self._ssl, limits=httpx.Limits(
            max_connections=1, max_keepalive_connections=1))
        self._all.append(http)
        return http

    async def _post(self, http: httpx.AsyncHTTPTransport, body: bytes) -> httpx.Response:
        request = httpx.Request("POST", self._url, content=body, headers=self._headers,
                                extensions={"timeout": self._timeout})
        resp = await http.handle_async_request(request)
        try:
            await resp.aread()
        finally:
            await resp.aclose()
        return resp

    async def aclose(self) -> None:
        for http in self._all:
            await http.aclose()

    @staticmethod
    def redact(text: str | None) -> str | None:
        return secrets.redact(text)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))

    def key(self, model: str, messages: list[dict], params: dict) -> str:
        return cache_key(self.server, model, messages, params)

    async def chat(self, model: str, messages: list[dict], params: dict,
                   key: str | None = None, tag: dict | None = None) -> ChatResult:
        """One call; `tag` (pair_id, purpose) goes with a paid answer into raw.api_calls."""
        st = self.stats
        st.calls += 1
        if key is None:
            key = cache_key(self.server, model, messages, params)
        hit = self.cache.get(key)
        if hit is not None:
            st.cache_hits += 1
            return ChatResult(content=hit[0], finish_reason=hit[1], cached=True,
                              reasoning=hit[2] if len(hit) > 2 else None)
        pending = self._inflight.get(key)
        if pending is not None:   # the same call is on its way (the control arm's twins): wait for it
            st.cache_hits += 1
            result = await asyncio.shield(pending)
            return result if result.error else ChatResult(
                content=result.content, finish_reason=result.finish_reason, cached=True,
                reasoning=result.reasoning)
        self._inflight[key] = asyncio.get_running_loop().create_future()
        result = ChatResult(error="interrupted")
        try:
            result = await self._request(key, model, messages, params, tag)
        finally:
            self._inflight.pop(key).set_result(result)
        return result

    async def _request(self, key: str, model: str, messages: list[dict], params: dict,
                       tag: dict | None) -> ChatResult:
        st = self.stats
        body = json.dumps({"model": model, "messages": messages, **params},
                          ensure_ascii=False).encode("utf-8")
        last_error = "no attempt made"
        t0 = time.monotonic()
        for attempt in range(1, self.max_attempts + 1):
            retry_after = None
            try:
                if self.adaptive is not None:
                    await self.adaptive.acquire()
                http = await self._free.get()
                resp, sent = None, time.monotonic()
                try:
                    if http is None:
                        http = self._new_http()
                    st.requests += 1
                    resp = await self._post(http, body)
                finally:
                    self._free.put_nowait(http)
                    if self.adaptive is not None:
                        await self._adapt(resp, time.monotonic() - sent)
            except httpx.TimeoutException as exc:
                last_error = f"timeout ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last_error = f"connection error ({type(exc).__name__}: {exc})"
            else:
                status = resp.status_code
                if status in RETRY_STATUS or status >= 500:
                    last_error = self.redact(f"HTTP {status}: {resp.text[:200]}")
                    retry_after = _retry_after(resp.headers.get("retry-after"))
                elif status >= 400:
                    st.failed_calls += 1
                    return ChatResult(attempts=attempt, error=self.redact(
                        f"HTTP {status} (not retried): {resp.text[:300]}"))
                else:
                    parsed = self._parse(resp)
                    if isinstance(parsed, str):
                        last_error = parsed
                    else:
                        result, data = parsed
                        result.content = self.redact(result.content)
                        result.reasoning = self.redact(result.reasoning)
                        result.attempts = attempt
                        self.cache[key] = ((result.content, result.finish_reason) if result.reasoning is None
                                           else (result.content, result.finish_reason, result.reasoning))
                        st.tokens += result.prompt_tokens + result.completion_tokens
                        cost = call_cost(self.price_table, model, result.prompt_tokens,
                                         result.completion_tokens, result.cost)
                        if cost is None:
                            st.unpriced[model] = st.unpriced.get(model, 0) + 1
                        st.cost += cost or 0.0
                        if self.on_response is not None:
                            self.on_response({**(tag or {}),
                                "cache_key": key, "base_url": self.server, "model": model,
                                "request": self.redact(body.decode("utf-8")),
                                "response": self.redact(resp.text),
                                "content": result.content,
                                "finish_reason": result.finish_reason,
                                "prompt_tokens": result.prompt_tokens,
                                "completion_tokens": result.completion_tokens,
                                "cost": result.cost, "attempts": attempt,
                                "latency_s": round(time.monotonic() - t0, 4),
                            })
                        return result
            if attempt < self.max_attempts:
                st.retries += 1
                await asyncio.sleep(self._backoff(attempt, retry_after))
        st.failed_calls += 1
        return ChatResult(attempts=self.max_attempts, error=self.redact(
            f"{last_error} (gave up after {self.max_attempts} attempts)"))

    @staticmethod
    def _parse(resp: httpx.Response):
        try:
            data = resp.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
            content = message.get("content")
            if content is not None and not isinstance(content, str):
                content = json.dumps(content)
            reasoning = message.get("reasoning") or message.get("reasoning_content")
            reasoning = reasoning if isinstance(reasoning, str) and reasoning else None
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return f"malformed response body: {resp.text[:200]!r}"
        usage = data.get("usage") or {}

        def num(name, cast, missing=0):
            if usage.get(name) is None:
                return missing
            try:
                return cast(usage[name])
            except (TypeError, ValueError):
                return missing

        return ChatResult(content=content, finish_reason=choice.get("finish_reason"),
                          prompt_tokens=num("prompt_tokens", int),
                          completion_tokens=num("completion_tokens", int),
                          cost=num("cost", float, None), reasoning=reasoning), data
