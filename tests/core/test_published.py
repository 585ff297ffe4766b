"""Published stats load as numbers to check, and published_comparison says where we differ."""

from __future__ import annotations

import json

import duckdb

from tests.conftest import PILOT_FILES, PILOT_META, REFERENCE

PAIR_STATS = REFERENCE / "v2_pilot_seed23_template_pair_stats.jsonl"
TEMPLATE_STATS = REFERENCE / "v2_pilot_seed23_template_stats.jsonl"


def rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_pilot_reproduces_its_published_stats_and_a_doctored_file_is_flagged(psw, tmp_path):
    rc, out, err = psw("ingest", *PILOT_FILES, PAIR_STATS, TEMPLATE_STATS, *PILOT_META)
    assert rc == 0, err
    assert "loaded 16 stats records (16 new) into measurement v2_pilot_seed23" in out
    assert psw("build")[0] == 0
    assert rows(psw.db, "select count(*) from published_comparison where is_flagged") == [(0,)]
    statuses = dict(rows(psw.db, "select status, count(*) from published_comparison "
                                 "where level = 'template_pair' group by all"))
    assert statuses["match"] >= 16 * 20
    # the v2 export carries no pairwise ratings: those two columns, at both levels, are the only
    # ones we cannot derive (the sets and `recommended` are derived at both)
    assert rows(psw.db, "select distinct level, column_name from published_comparison "
                        "where status = 'not_derivable' order by all") == [
        (level, column) for level in ("template", "template_pair")
        for column in ("mean_pairwise_negative_delta", "mean_pairwise_positive_delta")]
    assert rows(psw.db, "select level, column_name, count(*) from published_comparison where column_name in "
                        "('recommended', 'strict_pass_persona_pairs', 'common_spurious_axes') and status = 'match' "
                        "group by all order by all") == [
        (level, column, n) for level, n in (("template", 4), ("template_pair", 16))
        for column in ("common_spurious_axes", "recommended", "strict_pass_persona_pairs")]

    doctored = [json.loads(line) for line in PAIR_STATS.open()]
    doctored[0]["mean_axis_delta"] += 0.5
    doctored[1]["persona_pair"] = "not_measured"
    path = tmp_path / "colleague_template_pair_stats.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in doctored))
    assert psw("ingest", path, "--measurement", "v2_pilot_seed23")[0] == 0
    assert psw("build")[0] == 0
    flagged = rows(psw.db, "select persona_pair_id, column_name, status, round(difference, 4) "
                           "from published_comparison where is_flagged order by status, column_name")
    assert (doctored[0]["persona_pair"], "mean_axis_delta", "differs", -0.5) in flagged
    assert {r[2] for r in flagged} == {"differs", "cell_missing"}
    assert {r[0] for r in flagged if r[2] == "cell_missing"} == {"not_measured"}


def test_a_stats_file_is_detected_by_its_content(psw, tmp_path):
    path = tmp_path / "anything.jsonl"
    path.write_text(PAIR_STATS.read_text())
    rc, out, _ = psw("ingest", path, "--measurement", "m")
    assert rc == 0 and "16 stats records" in out
    assert rows(psw.db, "select distinct level from raw.published_stats") == [("template_pair",)]
