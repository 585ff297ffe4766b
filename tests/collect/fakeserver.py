"""A real chat-completions HTTP server on 127.0.0.1 for tests and the benchmark.

`FakeLLM` decides each reply; `FakeServer` serves it over HTTP/1.1 (keep-alive) from
a ThreadingHTTPServer in a background thread. Faults are rules consumed in order:

    llm.add_fault("status", code=429, retry_after="1", match=is_generation, times=2)
    llm.add_fault("slow", delay=2.0)           # answer after the client's timeout
    llm.add_fault("malformed_body")            # 200 whose body is not JSON
    llm.add_fault("content", content="{...}")  # a chosen reply (bad JSON, out of range, "")
    llm.add_fault("finish_length")             # a reply cut at max_tokens
    llm.no_cost_models = {"some/model"}        # usage without `cost` for that model

Like a local model server (`FakeLLM.llama_cpp(...)`, `FakeLLM.vllm(...)`):

    llama.cpp: GET /props (n_ctx, total_slots); one slot (requests queue in the server); the
      model field ignored; `response_format: {type: json_object, schema}` honoured; HTTP 500 on
      `response_format: {type: json_schema}`; a prompt over n_ctx is HTTP 400; max_tokens past
      n_ctx is silently shortened (finish_reason=length)
    vLLM: GET /v1/models with max_model_len; `guided_json` and `json_schema` honoured; HTTP 404
      on an unknown model; prompt + max_tokens over max_model_len is HTTP 400

Requests whose first message is PROBE_MARK (psw's capability probe) are counted in `probes`,
not in `requests`, and kept in `probe_bodies`.

Run it standalone (for the benchmark) with `python tests/collect/fakeserver.py`; it
prints the base URL on its first line.
"""

from __future__ import annotations

import csv
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from typing import Callable

# the judge panels, read from the project's seed table (this file also runs standalone)
_PANELS_CSV = Path(__file__).resolve().parents[2] / "dbt" / "seeds" / "judge_dimensions.csv"
with _PANELS_CSV.open(newline="", encoding="utf-8") as _handle:
    _ROWS = list(csv.DictReader(_handle))
STYLE_DIMS = tuple(r["name"] for r in _ROWS if r["panel"] == "style")
OFF_AXIS = tuple(r["name"] for r in _ROWS if r["panel"] == "off_axis")


PROBE_MARK = "psw capability probe"


def prompt_text(body: dict) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def first_prompt(body: dict) -> str:
    return str((body.get("messages") or [{}])[0].get("content", ""))


def is_generation(body: dict) -> bool:
    """Judge prompts show two responses; generation prompts (either layout) do not."""
    return bool(body.get("messages")) and "Response A:" not in first_prompt(body)


def criterion_of(body: dict) -> str | None:
    if is_generation(body):
        return None
    first = first_prompt(body)
    if "off_axis_problem_likert" in first:
        return "confound"
    if "persona_echo_A" in first:
        return "style"
    if "A_more_target_than_B" in first:
        return "axis"
    return "unknown"


def is_judge(criterion: str | None = None) -> Callable[[dict], bool]:
    def match(body):
        c = criterion_of(body)
        return c is not None and (criterion is None or c == criterion)
    return match


def default_judge_object(criterion: str) -> dict:
    if criterion == "axis":
        return {"target_reason": "A shows it more.", "A_more_target_than_B": 4.2}
    if criterion == "style":
        obj = {"style_reason": "Similar style."}
        obj.update({f"{d}_{s}": 4.0 for d in STYLE_DIMS for s in "AB"})
        obj.update(persona_echo_A=False, persona_echo_B=False, refusal_or_ai_break_A=False,
                   refusal_or_ai_break_B=False)
        return obj
    obj = {"confound_reason": "Differs on the axis only."}
    obj.update({f"{c}_likert": 1.5 for c in OFF_AXIS})
    obj.update(off_axis_problem_likert=2.0, likely_spurious_axis="none", usable_for_training=True)
    return obj


def persona_line(body: dict) -> str:
    """What a generation prompt says before the scenario: the system message, or the user
    turn's first paragraph (upstream's layout); '' for the control arm."""
    messages = body["messages"]
    if messages[0].get("role") == "system":
        return messages[0]["content"]
    head = messages[0]["content"].split("\n\n")[0]
    return "" if head.startswith("Scenario:") else head


def default_responder(body: dict):
    """Generation: a deterministic paragraph; judge: a valid object, fenced and chatty."""
    text = prompt_text(body)
    if is_generation(body):
        h = hashlib.md5(text.encode()).hexdigest()[:8]
        return f"[{persona_line(body)}] Considering this carefully ({h}), I would act openly and explain."
    obj = default_judge_object(criterion_of(body))
    return "Here is my rating:\n```json\n" + json.dumps(obj) + "\n```\nHope this helps."


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def extract_object(text):
    """The JSON object inside a chatty reply (the default responder fences it), or {}."""
    start, end = (text or "").find("{"), (text or "").rfind("}")
    try:
        return json.loads(text[start:end + 1])
    except ValueError:
        return {}


@dataclass
class Fault:
    kind: str
    match: Callable[[dict], bool] | None
    times: int
    opts: dict


class FakeLLM:
    def __init__(self, responder: Callable[[dict], object] = default_responder):
        self.responder = responder
        self.lock = threading.Lock()
        self.requests = 0
        self.faults_served: dict[str, int] = {}
        self.auth_headers: set[str] = set()
        self.bodies: list[dict] = []
        self.keep_bodies = True
        self.rules: list[Fault] = []
        self.delay = 0.0            # added to every reply (used by the kill/resume test)
        self.no_cost_models: set[str] = set()   # their usage has tokens but no cost
        self.reported: dict[str, float] = {}    # usage summed over every answer sent
        # local-server behaviour (None: a plain OpenAI-compatible server that accepts anything)
        self.kind: str | None = None            # 'llama.cpp' | 'vllm'
        self.models: list[str] | None = None    # served model ids (/v1/models); None: 404 there
        self.n_ctx: int | None = None           # context length in tokens (4 characters a token)
        self.slots: int | None = None           # requests served at once; the rest queue
        self.work_s = 0.0                       # time a request holds its slot
        self._slot_sem: threading.Semaphore | None = None
        self.probes = 0
        self.probe_bodies: list[dict] = []
        self.report_slots = True                # /props says total_slots (older servers do not)
        self.max_in_slot = 0                    # most requests ever waiting or served at once
        self._in_server = 0

    @classmethod
    def llama_cpp(cls, *, model="local/small-q4.gguf", n_ctx=2048, slots=1, work_s=0.0, **kw) -> "FakeLLM":
        llm = cls(**kw)
        llm.kind, llm.models, llm.n_ctx, llm.slots, llm.work_s = "llama.cpp", [model], n_ctx, slots, work_s
        llm._slot_sem = threading.Semaphore(slots)
        return llm

    @classmethod
    def vllm(cls, *, models=("gen/model", "judge/one"), max_model_len=32768, **kw) -> "FakeLLM":
        llm = cls(**kw)
        llm.kind, llm.models, llm.n_ctx = "vllm", list(models), max_model_len
        return llm

    def models_payload(self):
        if self.models is None:
            return None
        data = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models]
        if self.kind == "vllm":
            for row in data:
                row["max_model_len"] = self.n_ctx
        return {"object": "list", "data": data}

    def props_payload(self):
        if self.kind != "llama.cpp":
            return None
        props = {"default_generation_settings": {"n_ctx": self.n_ctx}}
        if self.report_slots:
            props["total_slots"] = self.slots
        return props

    def schema_of(self, body: dict):
        """The JSON schema this server would constrain the reply to, or None; raises
        _Refused(status, message) for a flavour it refuses."""
        fmt = body.get("response_format") or {}
        if self.kind == "llama.cpp":
            if fmt.get("type") == "json_schema":
                raise _Refused(500, "Unrecognized response_format type json_schema")
            return fmt.get("schema") if fmt.get("type") == "json_object" else None
        if fmt.get("type") == "json_schema":
            return (fmt.get("json_schema") or {}).get("schema")
        if self.kind == "vllm" and body.get("guided_json") is not None:
            return body["guided_json"]
        return None

    def local_limits(self, body: dict, content: str, schema):
        """(status, error) or (content, finish) after the server's own rules."""
        model = body.get("model")
        if self.kind == "vllm" and model not in self.models:
            raise _Refused(404, f"The model `{model}` does not exist.")
        if self.n_ctx is None:
            return content, None
        prompt = len(prompt_text(body)) // 4
        max_tokens = int(body.get("max_tokens") or 10 ** 9)
        if prompt > self.n_ctx or (self.kind == "vllm" and prompt + max_tokens > self.n_ctx):
            raise _Refused(400, f"context_length_exceeded: {prompt} prompt tokens, context {self.n_ctx}")
        room = min(max_tokens, self.n_ctx - prompt)     # llama.cpp shortens max_tokens silently
        if len(content or "") // 4 > room:
            return (content or "")[:room * 4], "length"
        return content, None

    def add_fault(self, kind: str, match=None, times: int = 1, **opts) -> None:
        with self.lock:
            self.rules.append(Fault(kind, match, times, opts))

    def _take_fault(self, body: dict) -> Fault | None:
        for rule in self.rules:
            if rule.times > 0 and (rule.match is None or rule.match(body)):
                rule.times -= 1
                self.faults_served[rule.kind] = self.faults_served.get(rule.kind, 0) + 1
                return rule
        return None

    def handle(self, body: dict, auth: str | None):
        """-> (status, extra headers, body bytes, delay seconds)"""
        if self._slot_sem is None:
            return self._handle(body, auth)
        with self.lock:
            self._in_server += 1
            self.max_in_slot = max(self.max_in_slot, self._in_server)
        try:
            with self._slot_sem:            # one slot: the others wait here, in the server
                time.sleep(self.work_s)
                return self._handle(body, auth)
        finally:
            with self.lock:
                self._in_server -= 1

    def _handle(self, body: dict, auth: str | None):
        is_probe = first_prompt(body) == PROBE_MARK
        with self.lock:
            if is_probe:
                self.probes += 1
                self.probe_bodies.append(body)
            else:
                self.requests += 1
                if self.keep_bodies:
                    self.bodies.append(body)
            if auth:
                self.auth_headers.add(auth)
            fault = None if is_probe else self._take_fault(body)
        delay = self.delay
        finish = "stop"
        if fault is not None:
            o = fault.opts
            if fault.kind == "status":
                hdrs = {"Retry-After": o["retry_after"]} if o.get("retry_after") else {}
                payload = json.dumps({"error": {"message": f"injected {o['code']}"}}).encode()
                return o["code"], hdrs, payload, delay
            if fault.kind == "malformed_body":
                return 200, {}, b'{"choices": [ this is not json', delay
            if fault.kind == "slow":
                delay += o["delay"]
        try:
            schema = self.schema_of(body)
            reply = "{}" if is_probe else self.responder(body)
            reasoning = None
            if isinstance(reply, dict):     # also {reasoning}: a thinking model's, beside the content
                content, finish = reply["content"], reply.get("finish_reason", "stop")
                reasoning = reply.get("reasoning")
            else:
                content = reply
            if schema is not None and not is_generation(body) and not is_probe:
                content = json.dumps(extract_object(content))   # a grammar allows the bare object only
            if fault is not None and fault.kind == "content":
                content = fault.opts["content"]
            if fault is not None and fault.kind == "finish_length":
                finish = "length"
            content, capped = self.local_limits(body, content, schema)
            finish = capped or finish
        except _Refused as refused:
            payload = json.dumps({"error": {"message": refused.message, "code": refused.status}}).encode()
            return refused.status, {}, payload, delay
        ptoks = len(prompt_text(body)) // 4
        ctoks = len(content or "") // 4
        if fault is not None and fault.kind == "finish_length" and body.get("max_tokens"):
            ctoks = int(body["max_tokens"])     # cut at max_tokens, as a server reports it
        payload = {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": ptoks, "completion_tokens": ctoks,
                      "total_tokens": ptoks + ctoks, "cost": round((ptoks + ctoks) * 1e-6, 8)},
        }
        if reasoning is not None:
            payload["choices"][0]["message"]["reasoning"] = reasoning
        if body.get("model") in self.no_cost_models:   # like a server that reports no cost
            del payload["usage"]["cost"]
        with self.lock:
            for key, value in (() if is_probe else payload["usage"].items()):
                self.reported[key] = self.reported.get(key, 0) + value
        return 200, {}, json.dumps(payload).encode(), delay


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        llm = self.server.llm
        path = self.path.rstrip("/")
        if path.endswith("/stats"):
            with llm.lock:
                data = {"requests": llm.requests, "faults_served": dict(llm.faults_served)}
            return self._send(200, {}, json.dumps(data).encode())
        found = llm.models_payload() if path.endswith("/models") else \
            llm.props_payload() if path.endswith("/props") else None
        if found is not None:
            return self._send(200, {}, json.dumps(found).encode())
        self._send(404, {}, b'{"error": "not found"}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._send(404, {}, b'{"error": "not found"}')
        try:
            body = json.loads(raw)
        except ValueError:
            return self._send(400, {}, b'{"error": "bad json"}')
        status, hdrs, payload, delay = self.server.llm.handle(body, self.headers.get("Authorization"))
        if delay:
            time.sleep(delay)
        self._send(status, hdrs, payload)

    def _send(self, status, hdrs, payload):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in hdrs.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024   # listen backlog: 64+ clients connect at once

    def handle_error(self, request, client_address):  # clients that time out or get killed
        pass


class FakeServer:
    def __init__(self, llm: FakeLLM | None = None, port: int = 0):
        self.llm = llm or FakeLLM()
        self.httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.llm = self.llm
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> "FakeServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    llm = FakeLLM()
    llm.keep_bodies = False
    srv = FakeServer(llm, a.port)
    print(srv.base_url, flush=True)
    try:
        srv.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
