"""dbt's file log (`dbt.log`, every event at debug level) written straight to its file.

dbt_common's file logger hands each line to Python's `logging`: a LogRecord made for it (with the
caller's frame found), a formatter, and a RotatingFileHandler that stats the file twice, formats the
line a second time and seeks to its end to decide on a rollover, then flushes. A pilot build writes
~2,000 lines (two for each SQL statement): that path was ~7% of its CPU (forced pilot builds in one
process, this writer switched on and off build by build, 2026-12-04: 3.72 -> 3.44 and 3.69 -> 3.42
CPU s a build, medians; dbt's file log at info level instead of debug saved about as much, 2.84 -> 2.66).

`write_line` writes the same line (dbt's own `create_line`, secrets scrubbed) to the same handler's
stream under its lock, counts the bytes the file holds, and rolls it over at the same size into the same
backups (the handler's own `doRollover`). A debug line stays in the stream's buffer; any other level
flushes it, so the progress lines (`Concurrency:`, each node's start and result) reach the file as
they happen; `flush()` (warehouse/dbt_runner.py, after every run) writes the rest. The lines kept
are those Python's logger would keep (the logger's level). A logger that does not write one file
through its RotatingFileHandler (dbt's console) goes the usual way, and so does every line after a
write fails (a full disk: Python's logging reports it on stderr and dbt runs on, as without psw). `install()` patches dbt_common's
`_Logger` for the runs psw starts in its process; tests/core/test_dbt_logfile.py compares the file
with the one dbt writes itself.
"""

from __future__ import annotations

import os
import stat
import sys

_original: dict = {}


def install() -> None:
    """Write dbt's file log with `write_line` in this process."""
    from dbt_common.events import logger

    if _original:
        return
    _original["init"], _original["write_line"] = logger._Logger.__init__, logger._Logger.write_line

    def __init__(self, config) -> None:
        _original["init"](self, config)
        self._psw_file = _file_handler(self) if config.output_file_name and config.output_stream is None else None

    logger._Logger.__init__ = __init__
    logger._Logger.write_line = write_line


def _file_handler(log):
    """The logger's one RotatingFileHandler, with what it holds now; None for any other setup."""
    from logging.handlers import RotatingFileHandler

    handlers = log._python_logger.handlers if log._python_logger is not None else []
    if len(handlers) != 1 or type(handlers[0]) is not RotatingFileHandler or handlers[0].filters:
        return None
    handler = handlers[0]
    if handler.stream is None:
        handler.stream = handler._open()
    held = os.fstat(handler.stream.fileno())
    if not stat.S_ISREG(held.st_mode):   # the handler never rolls over anything but a regular file
        return None
    handler._psw_size = held.st_size
    return handler


def write_line(self, msg) -> None:
    """`_Logger.write_line`: straight to the file for a file logger, else dbt_common's own."""
    from dbt_common.events.logger import _is_print_event, _log_level_map

    handler = getattr(self, "_psw_file", None)
    if handler is None:
        return _original["write_line"](self, msg)
    level = "error" if _is_print_event(msg) else msg.info.level   # as dbt_common sends it to logging
    if _log_level_map[level] < self._python_logger.level:   # its keys are str enums: "debug" finds DEBUG
        return
    line = self.create_line(msg) + handler.terminator
    size = len(line) if line.isascii() else len(line.encode("utf-8", "surrogatepass"))
    try:
        with handler.lock:
            if handler.maxBytes > 0 and handler._psw_size + size >= handler.maxBytes:
                handler.doRollover()
                handler._psw_size = 0
            handler.stream.write(line)
            handler._psw_size += size
            if level != "debug":
                handler.stream.flush()
    except Exception:  # noqa: BLE001 (a full disk, a closed file): dbt_common's way, which reports it as logging does
        self._psw_file = None
        _original["write_line"](self, msg)


def flush() -> None:
    """Write what dbt's file log holds in its buffer (a run's last debug lines)."""
    from dbt_common.events.event_manager_client import get_event_manager

    for log in getattr(get_event_manager(), "loggers", []):
        handler = getattr(log, "_psw_file", None)
        if handler is not None and handler.stream is not None:
            try:
                with handler.lock:
                    handler.stream.flush()
            except OSError as exc:   # a full disk: the log loses its last lines, the command goes on
                log._psw_file = None
                sys.stderr.write(f"warning: dbt's log {handler.baseFilename} could not be written: {exc}\n")
