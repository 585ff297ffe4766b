"""What `psw build` prints: one progress line while dbt runs, then a summary.

dbt's own log runs to ~550 lines for the pilot; a researcher needs three facts from it: how far
the build is, whether it passed (models built, tests passed, time), and, when it did not, which
model or test failed, with the first error line and the compiled SQL to open. `BuildOutput` takes
dbt's structured events (its `--log-format json` lines, or the `EventMsg` objects a `dbtRunner`
callback receives) and prints just that. `psw build --verbose` bypasses it and streams dbt's log.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

# dbt events that report one node finished, and what its status means to us
_RESULT_EVENTS = {"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult",
                  "LogNodeNoOpResult", "SkippingDetails"}
_FAILED = {"error", "fail", "runtime error"}
# every event `event` reads beyond errors and warnings
_READ_EVENTS = {"ConcurrencyLine", "RunResultFailure", "RunResultError", "RunResultErrorNoMessage",
                "SQLCompiledPath", *_RESULT_EVENTS}


@dataclass
class Failure:
    kind: str                # model, test, seed...
    name: str
    first_line: str = ""
    compiled: str = ""

    def line(self) -> str:
        where = f" (compiled SQL: {self.compiled})" if self.compiled else ""
        return f"  {self.kind} {self.name}: {self.first_line or 'failed'}{where}"


@dataclass
class BuildOutput:
    """Collects dbt's events; `finish` prints the summary (stdout) or the failures (stderr)."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    progress: TextIO | None = None   # a terminal for the one progress line (None: no progress line)
    total: int = 0
    done: int = 0
    counts: dict = field(default_factory=dict)      # (resource type, outcome) -> nodes
    failures: list = field(default_factory=list)
    errors: list = field(default_factory=list)      # error lines outside any node (parse, connection)
    warnings: list = field(default_factory=list)
    other_lines: list = field(default_factory=list)  # whatever dbt printed that was not an event
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def for_terminal(cls) -> BuildOutput:
        return cls(progress=sys.stderr if sys.stderr.isatty() else None)

    # ------------------------------------------------------------------ input
    def json_line(self, line: str) -> None:
        """One line of `dbt --log-format json` output."""
        try:
            event = json.loads(line)
            info = event["info"]
        except (ValueError, KeyError, TypeError):
            if line.strip():
                self.other_lines = (self.other_lines + [line.rstrip()])[-20:]
            return
        self.event(info.get("name", ""), event.get("data") or {}, info.get("level", "info"), info.get("msg", ""))

    def callback(self, message) -> None:
        """A `dbtRunner(callbacks=[...])` callback: the same events, as protobuf messages."""
        from google.protobuf.json_format import MessageToDict

        name, level = message.info.name, message.info.level
        if name not in _READ_EVENTS and level not in ("error", "warn"):
            return  # most of a build's ~1,500 events: converting each took ~2% of a pilot build's CPU
        data = MessageToDict(message.data, preserving_proto_field_name=True)
        self.event(name, data, level, message.info.msg)

    def event(self, name: str, data: dict, level: str = "info", msg: str = "") -> None:
        if name == "ConcurrencyLine":
            self.total = int(data.get("node_count") or 0)
        elif name in _RESULT_EVENTS:
            self._result(name, data)
        elif name == "RunResultFailure":
            self.failures.append(Failure(data.get("resource_type", "node"), data.get("node_name", "?")))
        elif name in ("RunResultError", "RunResultErrorNoMessage"):
            text = data.get("msg") or data.get("status") or msg
            if self.failures and not self.failures[-1].first_line:
                self.failures[-1].first_line = _first_error_line(text)
            else:
                self.errors.append(_first_error_line(text))
        elif name == "MainStackTrace":
            pass   # a Python traceback is dbt.log's, never a user's line
        elif name == "SQLCompiledPath":
            if self.failures and not self.failures[-1].compiled:
                self.failures[-1].compiled = data.get("path", "")
        elif level == "error" and msg.strip():
            self.errors.append(_first_error_line(msg))
        elif level == "warn" and msg.strip():
            self.warnings.append(_first_error_line(msg))

    def _result(self, name: str, data: dict) -> None:
        node = data.get("node_info") or {}
        kind = node.get("resource_type") or data.get("resource_type") or "node"
        if name == "SkippingDetails":
            outcome = "skipped"
        elif name == "LogNodeNoOpResult":
            outcome = "no-op"
        else:
            status = str(data.get("status") or node.get("node_status") or "").lower()
            outcome = "failed" if status in _FAILED else "warned" if status == "warn" else "ok"
        self.counts[(kind, outcome)] = self.counts.get((kind, outcome), 0) + 1
        self.done += 1
        self.total = max(self.total, int(data.get("total") or 0), self.done)
        self._draw()

    # ------------------------------------------------------------------ output
    def _draw(self) -> None:
        if self.progress is not None:
            self.progress.write(f"\r{self.progress_line()}")
            self.progress.flush()

    def progress_line(self) -> str:
        return f"dbt build: {self.done}/{self.total or '?'} nodes done, {self.elapsed():.0f} s"

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def summary(self) -> str:
        """One line: what was built, what passed, how long it took."""
        def n(kind, outcome="ok"):
            return self.counts.get((kind, outcome), 0)

        built = [f"{n('model')} model{'s' if n('model') != 1 else ''}"]
        if n("seed"):
            built.append(f"{n('seed')} seed{'s' if n('seed') != 1 else ''}")
        tests = n("test") + n("unit_test")
        ran = tests + n("test", "warned") + n("test", "failed") + n("unit_test", "failed")
        # every model checks its guarantees as it is built (dbt/macros/guarantees.sql): no test nodes
        parts = [f"built {', '.join(built)}", f"{tests} of {ran} tests passed" if ran else "guarantees checked"]
        warned = n("test", "warned")
        if warned:
            parts.append(f"{warned} warned")
        failed = sum(v for (_, outcome), v in self.counts.items() if outcome == "failed")
        skipped = sum(v for (_, outcome), v in self.counts.items() if outcome == "skipped")
        if failed:
            parts.append(f"{failed} failed")
        if skipped:
            parts.append(f"{skipped} skipped")
        return f"{'; '.join(parts)}; {self.elapsed():.1f} s"

    def failure_lines(self) -> list[str]:
        lines = [failure.line() for failure in self.failures]
        if not lines:  # dbt stopped before any node ran (a parse or connection error): its own lines
            lines = [f"  {line}" for line in dict.fromkeys(self.errors) if line] or \
                    [f"  {line}" for line in self.other_lines[-5:]]
        return lines

    def finish(self, ok: bool) -> None:
        if self.progress is not None:
            self.progress.write("\r\033[K")
            self.progress.flush()
        for warning in dict.fromkeys(self.warnings):
            print(f"dbt warning: {warning}", file=self.err)
        if ok:
            print(self.summary(), file=self.out)
        else:
            print(f"dbt build failed: {self.summary()}", file=self.err)
            for line in self.failure_lines():
                print(line, file=self.err)

    # ------------------------------------------------------------------ dbt in its own process
    def run(self, args: list[str], **popen) -> int:
        """Run dbt (args without the log format) with JSON events on its stdout; its exit status."""
        args = [*args, "--log-format", "json", "--log-format-file", "debug"]
        with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              encoding="utf-8", errors="replace", **popen) as proc:
            for line in proc.stdout:
                self.json_line(line)
        return proc.returncode


def _first_error_line(text: str) -> str:
    """The line that says what went wrong, not dbt's headers ("Runtime Error in model x (path)",
    "Encountered an error:")."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    for line in lines:
        header = line.endswith(":") or re.search(r" in (model|test|seed|snapshot|unit_test) \S+ \(", line)
        if not header:
            return line
    return lines[0] if lines else ""
