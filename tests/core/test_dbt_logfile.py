"""dbt.log written by psw (warehouse/dbt_logfile.py) holds what dbt's own file logger writes: the same
lines of a real build, the same rollover into the same backups, the same levels kept; the progress
lines reach the file as they come, and a run's last lines are on disk when it returns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dbt_common.events import base_types, logger
from dbt_common.events.base_types import EventLevel
from dbt_common.events.logger import LineFormat, LoggerConfig

from psw.cli import main
from warehouse import dbt_logfile, dbt_runner


@pytest.fixture
def dbts_own(monkeypatch):
    """Switch psw's writer off (dbt_common's own `_Logger`) for the test's runs."""
    def off():
        dbt_logfile.install()
        monkeypatch.setattr(logger._Logger, "__init__", dbt_logfile._original["init"])
        monkeypatch.setattr(logger._Logger, "write_line", dbt_logfile._original["write_line"])
    return off


def test_a_builds_events_are_written_as_dbt_writes_them(pilot_copy, tmp_path, monkeypatch, dbts_own):
    """Every event of a real build, written by psw's writer and by dbt_common's own file logger (the
    same configuration dbt gives it), makes the same file byte for byte; and the build's own log is
    complete on disk when the command returns."""
    from dbt.events.logging import _get_logfile_config

    runs = []
    invoke = dbt_runner.invoke
    monkeypatch.setattr(dbt_runner, "invoke", lambda *args, **kwargs: runs.append(invoke(*args, **kwargs)) or runs[-1])
    assert main(["--db", str(pilot_copy), "build", "--force", "--quiet"]) == 0
    written = (pilot_copy.parent / f".{pilot_copy.name}.dbt" / "logs" / "dbt.log").read_text()
    assert "Concurrency: " in written and "SQL status: OK" in written   # progress lines and debug lines
    assert written.rstrip("\n").splitlines()[-1].endswith("Flushing usage events")   # the run's last line
    events = runs[-1].events
    assert len(events) > 1000
    files = {}
    for name in ("psw", "dbt"):
        if name == "dbt":
            dbts_own()
        path = tmp_path / name / "dbt.log"
        path.parent.mkdir()
        config = _get_logfile_config(str(path), False, LineFormat.DebugText, EventLevel.DEBUG, 10 * 1024 * 1024)
        config.name = f"file_log_{name}"
        log = logger._TextLogger(config)
        for msg in events:
            if config.filter(msg):
                log.write_line(msg)
        log.flush()
        files[name] = path.read_bytes()
    assert files["psw"] == files["dbt"] and files["psw"].count(b"\n") > 5000


def _event(level: str, text: str):
    """A dbt event message of `level` whose line reads `text`."""
    from dbt_common.events.types import Note
    return base_types.msg_from_base_event(Note(msg=text), level=EventLevel(level))


def _file_logger(path: Path, level: str = "debug", max_bytes: int = 10 * 1024 * 1024):
    return logger._TextLogger(LoggerConfig(
        name=f"file_log_{path.parent.name}", line_format=LineFormat.DebugText, level=EventLevel(level),
        invocation_id="test", output_file_name=str(path), output_file_max_bytes=max_bytes))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_it_rolls_over_into_the_same_files_at_the_same_size(tmp_path, dbts_own):
    events = [_event("debug" if i % 3 else "info", f"line {i} " + "x" * (i % 97)) for i in range(400)]
    for name in ("psw", "dbt"):
        if name == "dbt":
            dbts_own()
        folder = tmp_path / name
        folder.mkdir()
        (folder / "dbt.log").write_text("an earlier run's line\n" * 10)
        log = _file_logger(folder / "dbt.log", max_bytes=4000)
        for msg in events:
            log.write_line(msg)
        log.flush()
    ours, theirs = _files(tmp_path / "psw"), _files(tmp_path / "dbt")
    assert sorted(ours) == ["dbt.log", "dbt.log.1", "dbt.log.2", "dbt.log.3", "dbt.log.4", "dbt.log.5"]
    assert all(len(content) <= 4000 for content in ours.values())
    strip = re.compile(rb"\d\d:\d\d:\d\d\.\d+ ")   # the time each line was written at
    assert {k: strip.sub(b"", v) for k, v in ours.items()} == {k: strip.sub(b"", v) for k, v in theirs.items()}


def test_progress_lines_reach_the_file_at_once_and_the_level_is_kept(tmp_path):
    dbt_logfile.install()
    path = tmp_path / "dbt.log"
    log = _file_logger(path, level="info")
    assert log._psw_file is not None          # psw's writer serves this logger
    log.write_line(_event("debug", "a debug line"))
    log.write_line(_event("info", "a progress line"))
    assert "a progress line" in path.read_text()   # flushed as written, before any flush()
    log.write_line(_event("error", "an error line"))
    log.flush()
    text = path.read_text()
    assert "an error line" in text and "a debug line" not in text   # an info log keeps no debug line


def test_a_failed_write_goes_dbts_way_and_the_run_goes_on(tmp_path, capsys):
    """A write that fails (a full disk) raises nothing into dbt: the line, and every later one, goes
    through Python's logging, which reports the failure on stderr as it does without psw."""
    dbt_logfile.install()
    log = _file_logger(tmp_path / "dbt.log")
    handler = log._psw_file

    class Full:
        def write(self, text):
            raise OSError(28, "No space left on device")
        flush = close = lambda self: None

    handler.stream = Full()
    log.write_line(_event("info", "a line the disk has no room for"))
    log.write_line(_event("info", "the next line"))
    assert log._psw_file is None
    assert capsys.readouterr().err.count("No space left on device") == 2


def test_a_failed_flush_is_one_line_on_stderr(tmp_path, capsys, monkeypatch):
    from dbt_common.events import event_manager_client

    dbt_logfile.install()
    log = _file_logger(tmp_path / "dbt.log")
    log.write_line(_event("debug", "a line in the buffer"))

    class Full:
        def flush(self):
            raise OSError(28, "No space left on device")
        close = lambda self: None  # noqa: E731

    log._psw_file.stream = Full()
    monkeypatch.setattr(event_manager_client.get_event_manager(), "loggers", [log])
    dbt_logfile.flush()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not be written" in err and "No space left" in err
