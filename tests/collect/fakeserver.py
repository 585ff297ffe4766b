"""A real chat-completions HTTP server on 127.0.0.1 for tests and the benchmark.

`FakeLLM` decides each reply; `FakeServer` serves it over HTTP/1.1 (keep-alive) from
a ThreadingHTTPServer in a background thread. Faults are rules consumed in order:

    llm.add_fault("status", code=429, retry_after="1", match=is_generation, times=2)
    llm.add_fault("slow", delay=2.0)           # answer after the client's timeout
    llm.add_fault("malformed_body")            # 200 whose body is not JSON
    llm.add_fault("content", content="{...}")  # a chosen reply (bad JSON, out of range, "")
    llm.add_fault("finish_length")             # a reply cut at max_tokens
    llm.no_cost_models = {"some/model"}        # usage without `cost` for that model

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
        with self.lock:
            self.requests += 1
            if auth:
                self.auth_headers.add(auth)
            if self.keep_bodies:
                self.bodies.append(body)
            fault = self._take_fault(body)
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
        reply = self.responder(body)
        if isinstance(reply, dict):
            content, finish = reply["content"], reply.get("finish_reason", "stop")
        else:
            content = reply
        if fault is not None and fault.kind == "content":
            content = fault.opts["content"]
        if fault is not None and fault.kind == "finish_length":
            finish = "length"
        ptoks = len(prompt_text(body)) // 4
        ctoks = len(content or "") // 4
        payload = {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": ptoks, "completion_tokens": ctoks,
                      "total_tokens": ptoks + ctoks, "cost": round((ptoks + ctoks) * 1e-6, 8)},
        }
        if body.get("model") in self.no_cost_models:   # like a server that reports no cost
            del payload["usage"]["cost"]
        with self.lock:
            for key, value in payload["usage"].items():
                self.reported[key] = self.reported.get(key, 0) + value
        return 200, {}, json.dumps(payload).encode(), delay


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        if self.path.rstrip("/").endswith("/stats"):
            llm = self.server.llm
            with llm.lock:
                data = {"requests": llm.requests, "faults_served": dict(llm.faults_served)}
            return self._send(200, {}, json.dumps(data).encode())
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
