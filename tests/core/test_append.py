"""warehouse.append: rows sharing a key within one call are stored once, a key already held adds
nothing, and rows with distinct keys are all stored (they skip the first-of-each-key pass)."""

from __future__ import annotations

import duckdb

from warehouse.append import append
from warehouse.schema import ensure_raw_schema


def _templates(con) -> list[tuple]:
    return con.execute("select record_id, template_text from raw.templates order by all").fetchall()


def test_append_stores_each_key_once(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_raw_schema(con)
        row = {"load_id": "l", "line_no": 1, "loaded_at": "2026-01-01 00:00:00"}
        distinct = [{**row, "record_id": f"k{i}", "template_text": f"t{i} {{persona}}"} for i in range(3)]
        assert append(con, "raw.templates", distinct, "record_id") == 3
        repeated = [{**row, "record_id": "k9", "template_text": "x {persona}"}] * 2
        assert append(con, "raw.templates", repeated + distinct[:1], "record_id") == 1
        select = "select 'k9' as record_id, 'l' as load_id, 1 as line_no, 'y {persona}' as template_text, " \
                 "?::timestamp as loaded_at union all select 'k8', 'l', 2, 'z {persona}', ?::timestamp"
        assert append(con, "raw.templates", select, "record_id", ["2026-01-01", "2026-01-01"]) == 1
        assert [key for key, _ in _templates(con)] == ["k0", "k1", "k2", "k8", "k9"]
        assert dict(_templates(con))["k9"] == "x {persona}"
