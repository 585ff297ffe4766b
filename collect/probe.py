"""One cheap look at the server before any paid call: what it serves and what it accepts.

- `GET <base>/models`: the model ids it serves and, where it says (vLLM's `max_model_len`),
  each model's context length.
- `GET <root>/props` (llama.cpp's server): the context length (`n_ctx`) and the slots (requests
  served at once; more only queue in the server).
- Per model, a one-token chat request (its prompt is PROBE_MARK) with a `seed`, and for judges
  one per structured-output flavour: OpenAI's `response_format: json_schema`, vLLM's
  `guided_json`, llama.cpp's `response_format: {type: json_object, schema}` and plain
  `json_object`. HTTP 200 means accepted.

The findings are a plain dict (stored in raw.measurements.params as `server`), one per server
(the normalised base URL) with an entry per model; models already probed at this server are
taken from the warehouse (`stored_findings`), so a re-run sends nothing. The probe's requests
are not plan calls: they are not cached in raw.api_calls and not counted as requests.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

import httpx

from collect.client import normalise_base_url
from warehouse import secrets

PROBE_MARK = "psw capability probe"
FLAVOURS = ("json_schema", "guided_json", "json_object_schema", "json_object")
SCHEMA_FLAVOURS = FLAVOURS[:3]
_TINY_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
                "additionalProperties": False}


def output_fields(flavour: str | None, schema: dict, name: str) -> dict:
    """The request fields that ask for structured output in one flavour (none for the prompt)."""
    if flavour == "json_schema":
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": name, "strict": True, "schema": schema}}}
    if flavour == "guided_json":
        return {"guided_json": schema}
    if flavour == "json_object_schema":
        return {"response_format": {"type": "json_object", "schema": schema}}
    if flavour == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}


def _root(base_url: str) -> str:
    """The server root: llama.cpp serves /props beside /v1, not under it."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[:-3]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _get_json(http: httpx.Client, url: str):
    try:
        resp = http.get(url)
        return resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def _post(http: httpx.Client, url: str, body: dict) -> tuple[int | None, str]:
    try:
        resp = http.post(url, content=json.dumps(body).encode("utf-8"))
        return resp.status_code, secrets.redact(resp.text[:200])
    except httpx.HTTPError as exc:
        return None, secrets.redact(f"{type(exc).__name__}: {exc}")


def _server_facts(http: httpx.Client, base_url: str) -> dict:
    facts = {"server": "openai-compatible", "listed_models": None, "context_lengths": {},
             "context_length": None, "slots": None}
    models = _get_json(http, base_url.rstrip("/") + "/models")
    if isinstance(models, dict) and isinstance(models.get("data"), list):
        rows = [m for m in models["data"] if isinstance(m, dict) and isinstance(m.get("id"), str)]
        facts["listed_models"] = [m["id"] for m in rows]
        lengths = {m["id"]: m["max_model_len"] for m in rows if isinstance(m.get("max_model_len"), int)}
        if lengths:
            facts.update(server="vllm", context_lengths=lengths)
    props = _get_json(http, _root(base_url) + "/props")
    if isinstance(props, dict) and isinstance(props.get("default_generation_settings"), dict):
        n_ctx = props["default_generation_settings"].get("n_ctx")
        slots = props.get("total_slots")
        facts.update(server="llama.cpp", context_length=n_ctx if isinstance(n_ctx, int) else None,
                     slots=slots if isinstance(slots, int) and slots > 0 else None)
    return facts


def _model_facts(http: httpx.Client, url: str, model: str, server: str, judge: bool) -> dict:
    tiny = {"model": model, "messages": [{"role": "user", "content": PROBE_MARK}],
            "max_tokens": 1, "temperature": 0}
    status, text = _post(http, url, {**tiny, "seed": 1})
    found = {"seed": status == 200, "error": None}
    if judge:
        found["judge_output"] = []
    if status != 200:
        status, text = _post(http, url, tiny)
        if status != 200:
            found["error"] = f"HTTP {status}: {text}" if status else text
            return found
    if judge:
        for flavour in FLAVOURS:
            if (flavour == "guided_json" and server != "vllm") or \
                    (flavour == "json_object_schema" and server != "llama.cpp"):
                continue   # a server that ignores an unknown field would seem to accept it
            status, _ = _post(http, url, {**tiny, **output_fields(flavour, _TINY_SCHEMA, "probe")})
            if status == 200:
                found["judge_output"].append(flavour)
    return found


def probe(base_url: str, api_key: str | None, generators: list[str], judges: list[str],
          timeout: float = 10.0, known: dict | None = None) -> dict:
    """The findings for these models, probing only those `known` (stored findings) lacks."""
    known = known or {}
    models = {m: m in judges for m in dict.fromkeys([*generators, *judges])}
    have = known.get("models", {})
    todo = {m: j for m, j in models.items()
            if m not in have or have[m].get("error") or (j and "judge_output" not in have[m])}
    findings = {"base_url": normalise_base_url(base_url),
                **{k: v for k, v in known.items() if k not in ("base_url", "models")},
                "models": {m: have[m] for m in models if m in have}}
    if not todo:
        return findings
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    with httpx.Client(timeout=timeout, headers=headers) as http:
        facts = _server_facts(http, base_url)
        findings.update({k: v for k, v in facts.items() if k != "context_lengths"})
        url = base_url.rstrip("/") + "/chat/completions"
        for model, judge in todo.items():
            entry = {"listed": None if facts["listed_models"] is None else model in facts["listed_models"],
                     "context_length": facts["context_lengths"].get(model, facts["context_length"])}
            entry.update(_model_facts(http, url, model, facts["server"], judge))
            findings["models"][model] = entry
    return findings


def stored_findings(con, base_url: str) -> dict:
    """The newest findings this warehouse holds for the server (from raw.measurements)."""
    if con is None:
        return {}
    have = con.execute("select count(*) from information_schema.tables "
                       "where table_schema = 'raw' and table_name = 'measurements'").fetchone()[0]
    if not have:
        return {}
    rows = con.execute(
        "select params->'server' from raw.measurements where source_format = 'collect' "
        "and params->'server'->>'base_url' = ? order by recorded_at desc",
        [normalise_base_url(base_url)]).fetchall()
    merged: dict = {}
    for (text,) in rows:    # newest first: the server's newest facts, each model's newest findings
        found = json.loads(text)
        for key, value in found.items():
            if key != "models":
                merged.setdefault(key, value)
        for model, entry in found.get("models", {}).items():
            merged.setdefault("models", {}).setdefault(model, entry)
    return merged


def describe(findings: dict) -> list[str]:
    """Lines for the terminal (the dry run and the start of a run)."""
    if not findings:
        return ["server: not probed"]
    head = f"server {findings['base_url']}: {findings.get('server', 'not probed')}"
    if findings.get("context_length"):
        head += f", context {findings['context_length']:,} tokens"
    if findings.get("slots"):
        head += f", {findings['slots']} slot{'s' if findings['slots'] > 1 else ''}"
    lines = [head]
    for model, m in findings.get("models", {}).items():
        bits = []
        if m.get("error"):
            bits.append(f"probe failed: {m['error']}")
        if m.get("listed") is False:
            bits.append("not served here")
        if m.get("context_length"):
            bits.append(f"context {m['context_length']:,}")
        bits.append("seed accepted" if m.get("seed") else "no seed")
        if "judge_output" in m:
            bits.append("structured output: " + (", ".join(m["judge_output"]) or "none"))
        lines.append(f"  {model}: " + "; ".join(bits))
    return lines
