"""`psw docs`: dbt's docs for the selected warehouse, served on 127.0.0.1; descriptions as DuckDB comments."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request

import duckdb
from psw.cli import main
from tests.conftest import ROOT


def comments(db, table: str) -> dict[str, str | None]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("select column_name, comment from duckdb_columns() "
                                "where schema_name = 'main' and table_name = ?", [table]).fetchall())
    finally:
        con.close()


def test_build_stores_every_mart_columns_description_as_a_comment(pilot_db):
    for mart in ("template_pair_scores", "template_scores", "persona_pair_review", "examples", "length_deltas"):
        described = comments(pilot_db, mart)
        assert described and all(described.values()), (mart, [c for c, d in described.items() if not d])
    assert comments(pilot_db, "template_pair_scores")["factor_axis"].startswith("Score factor: clamp(mean_axis")


def test_a_build_sets_only_the_comments_that_differ_from_the_docs(pilot_copy, tmp_path):
    """An incremental mart keeps its comments from build to build: adding a run sets none of them again,
    and one that no longer reads as documented (an edited description) is set to the docs' text."""
    documented = comments(pilot_copy, "template_scores")
    con = duckdb.connect(str(pilot_copy))
    con.execute("""comment on column template_scores.n is 'an older description'""")
    con.execute("""comment on column template_scores."mean_style_delta_formality_pos_minus_neg" is 'older'""")
    con.close()
    run = tmp_path / "second_run.jsonl"
    run.write_bytes((ROOT.parent / "shared" / "reference" / "pilot-v2-seed23" / "v2_pilot_seed23_examples.jsonl").read_bytes())
    assert main(["--db", str(pilot_copy), "ingest", str(run), "--measurement", "second_run"]) == 0
    assert main(["--db", str(pilot_copy), "build"]) == 0
    assert comments(pilot_copy, "template_scores") == documented
    log = (pilot_copy.parent / f".{pilot_copy.name}.dbt" / "logs" / "dbt.log").read_text().split("\n" + "=" * 30)[-1]
    commented = re.findall(r'comment on column "warehouse"\."main"\."template_scores"\."?(\w+)"? is', log)
    assert sorted(commented) == ["mean_style_delta_formality_pos_minus_neg", "n"], commented
    assert not [line for line in log.splitlines() if line.lstrip().startswith("comment on")
                and '"template_pair_scores"' in line]


def test_docs_without_a_warehouse_is_one_line(tmp_path, capsys):
    assert main(["docs", "--db", str(tmp_path / "none.duckdb"), "--no-serve"]) == 2
    assert "no warehouse here yet" in capsys.readouterr().err


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_docs_generates_and_serves_the_site_for_the_selected_warehouse(pilot_copy, tmp_path):
    log = tmp_path / "docs.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "psw.cli", "docs", "--port", "0", "--db", str(pilot_copy)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=out, text=True)
    try:
        line = proc.stdout.readline()  # printed once the site is generated and the port is open
        assert "http://127.0.0.1:" in line, log.read_text()[-3000:]
        url = line.split(" on ")[1].split()[0]
        status, index = get(url + "/")
        assert status == 200 and b"dbt" in index
        status, manifest = get(url + "/manifest.json")
        nodes = json.loads(manifest)["nodes"]
        scores = next(n for n in nodes.values() if n["name"] == "template_pair_scores")
        assert scores["columns"]["score"]["description"]
        status, catalog = get(url + "/catalog.json")
        assert status == 200 and scores["unique_id"] in json.loads(catalog)["nodes"]
        assert get(url + "/run_results.json")[0] == 404  # only the site's own files are served
        assert get(url + "/../warehouse.duckdb")[0] == 404
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
    assert (pilot_copy.parent / f".{pilot_copy.name}.dbt" / "target" / "catalog.json").exists()


def test_docs_reuse_the_site_while_the_project_and_the_last_build_are_unchanged(pilot_copy, capsys, monkeypatch):
    """One real `dbt docs generate` (~15 s); after it, whether psw reuses the site or runs dbt again
    is what is tested, so dbt is replaced by a recorder (the generation itself is the serving test's)."""
    import time

    import psw.commands.docs as docs_command
    from warehouse.dbt_runner import DbtRun

    def docs(*extra) -> tuple[str, float, str]:
        capsys.readouterr()
        started = time.monotonic()
        assert main(["docs", "--db", str(pilot_copy), "--no-serve", *extra]) == 0
        out, err = capsys.readouterr()
        return err, time.monotonic() - started, out

    first, _, out = docs()
    assert "reusing" not in first
    assert f".{pilot_copy.name}.dbt" in out and "index.html" in out  # --no-serve prints the folder
    generated = []
    monkeypatch.setattr(docs_command, "run_dbt", lambda db, command, extra, callbacks=(): generated.append(command)
                        or DbtRun(True))
    again, took, _ = docs()
    assert "reusing the docs site" in again and took <= 3 and not generated, took
    with duckdb.connect(str(pilot_copy)) as con:  # what a new `psw build` leaves: another build state
        con.execute("update meta.last_build set built_at = built_at + interval 1 second")
    after_build = docs()[0]
    assert "reusing" not in after_build and generated == ["docs generate"]
    assert "reusing" in docs()[0] and generated == ["docs generate"]
    assert "reusing" not in docs("--regenerate")[0] and generated == ["docs generate"] * 2
