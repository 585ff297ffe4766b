"""psw's event building (warehouse/dbt_events.py) gives, byte for byte, the message protobuf's
ParseDict gives, for every event a real build emits, and for the values ParseDict converts or
refuses itself."""

from __future__ import annotations

import pytest
from dbt.adapters.events import adapter_types_pb2 as types_pb2
from dbt_common.events import base_types
from google.protobuf import json_format

from psw.cli import main
from warehouse import dbt_events


def _both(js, cls):
    """(ParseDict's message or error, parse_dict's message or error), each serialized."""
    out = []
    for parse in (json_format.ParseDict, dbt_events.parse_dict):
        try:
            out.append(parse(js, cls()).SerializeToString(deterministic=True))
        except Exception as exc:  # noqa: BLE001
            out.append(type(exc))
    return out


def test_every_event_of_a_real_build_is_the_message_parsedict_makes(pilot_copy, monkeypatch):
    seen, fast = [], []

    def checked(js, message, **options):
        expected = json_format.ParseDict(js, type(message)(), **options).SerializeToString(deterministic=True)
        try:
            dbt_events._arguments(message.DESCRIPTOR, js)
            fast.append(True)
        except Exception as exc:  # noqa: BLE001
            fast.append((type(message).__name__, repr(exc)[:80]))
        got = dbt_events.parse_dict(js, message, **options)
        seen.append((type(message).__name__, got.SerializeToString(deterministic=True) == expected))
        return got

    monkeypatch.setattr(base_types, "ParseDict", base_types.ParseDict)   # put back after the test
    monkeypatch.setattr(dbt_events, "install", lambda: setattr(base_types, "ParseDict", checked))
    # every model and test again, and dbt's unit tests: their own events (fixtures, diffs) too
    assert main(["--db", str(pilot_copy), "build", "--force", "--unit-tests", "--full-refresh"]) == 0
    kinds = {name for name, _ in seen}
    assert len(seen) > 5000 and {"SQLQuery", "SQLQueryStatus", "NodeStart", "NodeFinished", "LogModelResult",
                                 "SQLQueryMsg", "LogTestResult"} <= kinds, (len(seen), sorted(kinds))
    assert [name for name, same in seen if not same] == []
    slow = [why for why in fast if why is not True]
    assert len(slow) / len(fast) < 0.01, sorted(set(slow))   # the fast path is the one taken


@pytest.mark.parametrize("js", [
    {"sql": "select 1", "conn_name": "x", "node_info": {"node_path": "a", "meta": {"k": [1, None, {"x": True}]}}},
    {"sql": "select 1", "node_info": {"meta": {}}},                 # an empty Struct is still set
    {"sql": "select 1", "node_info": {}},                           # so is an empty message
    {"sql": "select 1", "node_info": None},                         # null: not set
    {"sql": 5},                                                     # ParseDict refuses an int for a string
    {"sql": "half a pair \ud800"},                                  # ParseDict refuses an unpaired surrogate
    {"nonsense": 1},                                                # an unknown field
    {"connName": "json name"},                                      # a field by its JSON name
])
def test_values_parsedict_converts_or_refuses_get_its_answer(js):
    parsedict, ours = _both(js, types_pb2.SQLQuery)
    assert ours == parsedict


@pytest.mark.parametrize("js", [
    {"status": "OK", "elapsed": 1.5}, {"status": "OK", "elapsed": 2}, {"status": "OK", "elapsed": float("nan")},
    {"status": "OK", "elapsed": "1.5"}, {"status": "OK", "elapsed": True}, {"status": "OK", "elapsed": 1e300},
])
def test_floats_as_parsedict_takes_them(js):
    parsedict, ours = _both(js, types_pb2.SQLQueryStatus)
    assert ours == parsedict


@pytest.mark.parametrize("js", [
    {"info": {"level": "debug", "ts": "2026-12-03T14:00:00.123456Z", "pid": 7, "extra": {"a": "b"}}},
    {"info": {"ts": "not a time"}},                                 # ParseDict's own error
    {"info": {"ts": "2026-12-03T14:00:00Z"}}, {"info": {"ts": "1969-07-20T20:17:40.9Z"}},
    {"info": {"ts": "2026-12-03T14:00:00.123456789Z"}}, {"info": {"ts": "2026-12-03T14:00:00.9999999999Z"}},
    {"info": {"ts": "2026-13-03T14:00:00Z"}}, {"info": {"ts": "2016-12-31T23:59:60Z"}},   # no month 13; a leap second
    {"info": {"ts": "2026-12-03T14:00:00.5+01:30"}}, {"info": {"ts": "2026-12-03t14:00:00Z"}},
    {"info": {"ts": "2026-12-03T14:00:00.5ZZ"}}, {"info": {"ts": "0001-01-01T00:00:00Z"}},
    {"info": {"pid": "7"}},                                         # a string ParseDict turns into an int
    {"info": {"pid": 7.0}},                                         # a float ParseDict turns into an int
    {"info": {"pid": True}},                                        # a bool ParseDict refuses for an int
    {"info": {"extra": {"a": 1}}},                                  # a map of strings holding an int
])
def test_event_info_as_parsedict_builds_it(js):
    parsedict, ours = _both(js, types_pb2.SQLQueryMsg)
    assert ours == parsedict


def test_the_secrets_a_log_line_is_scrubbed_of_are_dbts(monkeypatch):
    from dbt_common.events import functions
    from dbt_common.exceptions.base import env_secrets as dbts

    monkeypatch.setenv("DBT_ENV_SECRET_KEY", "s3cr3t-value")
    monkeypatch.setenv("DBT_ENV_SECRET_BLANK", "  ")
    monkeypatch.setenv("DBT_ENV_SECRETX", "another")
    monkeypatch.setenv("MY_DBT_ENV_SECRET", "not-a-dbt-secret")   # the prefix starts the name
    monkeypatch.setenv("PSW_UNICODE", "é")
    assert dbt_events.env_secrets() == dbts()
    assert sorted(dbts()) == ["another", "s3cr3t-value"]
    monkeypatch.setattr(functions, "env_secrets", functions.env_secrets)   # restored after the test
    dbt_events.install()
    assert functions.env_secrets is dbt_events.env_secrets
    assert functions.env_scrubber("key=s3cr3t-value, x=another") == "key=*****, x=*****"
    monkeypatch.delenv("DBT_ENV_SECRET_KEY")
    assert functions.env_scrubber("key=s3cr3t-value") == "key=s3cr3t-value"   # read at each line, never kept
