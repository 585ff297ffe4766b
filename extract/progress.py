"""Progress for long work: a bar on a terminal, a plain line every few seconds in a log.

tqdm alone draws nothing when stderr is not a terminal (a log file, a CI job, `nohup`), so a
long extraction looked hung; here the same calls write periodic lines instead.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from tqdm import tqdm

# seconds between log lines when stderr is not a terminal (env PSW_PROGRESS_INTERVAL)
DEFAULT_INTERVAL = 15.0


def _interval() -> float:
    try:
        return float(os.environ.get("PSW_PROGRESS_INTERVAL", DEFAULT_INTERVAL))
    except ValueError:
        return DEFAULT_INTERVAL


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """`with Progress("extract vectors", total=n, unit="seq") as p: p.update(k)`; the total may grow."""

    def __init__(self, desc: str, total: int = 0, unit: str = "item", stream: TextIO | None = None):
        self.desc, self.total, self.unit = desc, total, unit
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = self.last_line = time.monotonic()
        self.interval = _interval()
        self.bar = None
        if getattr(self.stream, "isatty", lambda: False)():
            self.bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True)
        else:
            self._line()  # a log shows at once that the work started

    def note(self, text: str) -> None:
        """A one-off line (what is about to take a while), above the bar."""
        if self.bar is not None:
            self.bar.write(f"{self.desc}: {text}", file=self.stream)
        else:
            print(f"{self.desc}: {text}", file=self.stream, flush=True)

    def add_total(self, n: int) -> None:
        self.total += n
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif time.monotonic() - self.last_line >= self.interval:
            self._line()

    def _line(self, final: bool = False) -> None:
        self.last_line = now = time.monotonic()
        elapsed = now - self.started
        text = f"{self.desc}: {self.done}/{self.total} {self.unit}"
        if self.total:
            text += f" ({100 * self.done // self.total}%)"
        text += f", {_duration(elapsed)}"
        if not final and self.done and self.total > self.done:
            text += f", ~{_duration(elapsed * (self.total - self.done) / self.done)} left"
        print(text + (" (done)" if final else ""), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            self._line(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
