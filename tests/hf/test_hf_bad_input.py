"""Bad input to export-hf / import-hf: one clear line, exit 2, nothing half-written."""

from __future__ import annotations

import shutil

import duckdb
import pyarrow.parquet as pq
import pytest

import hf.export as export
import hf.importer as importer
import hf.source_splits as source_splits

RAW = ["loads", "measurements", "persona_pairs", "templates", "scenarios", "exported_pairs"]


def raw_counts(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"select count(*) from raw.{t}").fetchall()[0][0] for t in RAW}


def one_line_error(rc, err, *needles):
    assert rc == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_folder_without_parquet_splits(tmp_path, run_psw):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("# not a library\n")
    db = tmp_path / "w.duckdb"
    rc, out, err = run_psw(db, "import-hf", empty)
    one_line_error(rc, err, "no parquet splits")
    assert not db.exists()
    one_line_error(*run_psw(db, "import-hf", tmp_path / "missing")[::2], "no such folder")


def without_source_splits(folder):
    """An export without the raw records (an earlier release's) is read from its mart-shaped splits."""
    for path in (folder / "data").glob("source_*.parquet"):
        path.unlink()


def test_split_with_missing_columns(pilot_export, pilot_copy, tmp_path, run_psw):
    broken = tmp_path / "broken"
    shutil.copytree(pilot_export, broken)
    without_source_splits(broken)
    path = broken / "data" / "v2_pilot_seed23_examples.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["axis_delta", "pos_response"]), path)
    before = raw_counts(pilot_copy)
    rc, out, err = run_psw(pilot_copy, "import-hf", broken)
    one_line_error(rc, err, "v2_pilot_seed23_examples", "axis_delta", "pos_response", "nothing imported")
    assert raw_counts(pilot_copy) == before


def test_bad_candidate_split_stops_the_whole_import(pilot_export, tmp_path, run_psw):
    broken = tmp_path / "broken"
    shutil.copytree(pilot_export, broken)
    without_source_splits(broken)
    path = broken / "data" / "templates.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["template_text"]), path)
    db = tmp_path / "w.duckdb"
    one_line_error(*run_psw(db, "import-hf", broken)[::2], "templates", "template_text")
    assert not db.exists()


def test_failure_while_writing_rolls_back_everything(pilot_export, tmp_path, run_psw, monkeypatch):
    db = tmp_path / "w.duckdb"
    real = importer.append
    calls = []

    def fail_on_third(con, table, rows, key):
        calls.append(table)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(con, table, rows, key)

    monkeypatch.setattr(importer, "append", fail_on_third)
    monkeypatch.setattr(source_splits, "append", fail_on_third)    # an export with its raw records
    with pytest.raises(RuntimeError):
        run_psw(db, "import-hf", pilot_export)
    assert len(calls) == 3
    assert set(raw_counts(db).values()) == {0}
    legacy = tmp_path / "legacy"       # and one without them, read from its mart-shaped splits
    shutil.copytree(pilot_export, legacy)
    without_source_splits(legacy)
    calls.clear()
    with pytest.raises(RuntimeError):
        run_psw(db, "import-hf", legacy)
    assert len(calls) == 3
    assert set(raw_counts(db).values()) == {0}


def test_export_failure_leaves_nothing(pilot_db, tmp_path, run_psw, monkeypatch):
    real = export.write_parquet
    written = []

    def fail_on_third(table, path):
        written.append(path)
        if len(written) == 3:
            raise OSError("disk full")
        real(table, path)

    monkeypatch.setattr(export, "write_parquet", fail_on_third)
    rc, _, err = run_psw(pilot_db, "export-hf", "--out", tmp_path / "out")   # one line, not a traceback (issue 23)
    one_line_error(rc, err, "cannot write", "disk full")
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_a_folder_that_is_not_an_export(pilot_db, tmp_path, run_psw):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    one_line_error(*run_psw(pilot_db, "export-hf", "--out", busy)[::2], "not empty")
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    (busy / "notes.txt").unlink()
    (busy / "README.md").write_text("# my project\n")    # a README alone does not make it an export
    one_line_error(*run_psw(pilot_db, "export-hf", "--out", busy)[::2], "not empty")
    assert (busy / "README.md").read_text() == "# my project\n"


def test_push_without_token_says_so(pilot_db, tmp_path, run_psw, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    rc, out, err = run_psw(pilot_db, "export-hf", "--out", tmp_path / "out", "--push", "someone/library")
    one_line_error(rc, err, "HF_TOKEN is not set", "nothing uploaded")
    assert (tmp_path / "out" / "README.md").is_file()


def test_push_with_token_uploads_the_folder(pilot_db, tmp_path, run_psw, monkeypatch):
    """No network: HfApi is replaced by a recorder."""
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token):
            calls.append(("token", token))

        def create_repo(self, repo_id, **kw):
            calls.append(("create_repo", repo_id, kw["repo_type"]))

        def upload_folder(self, **kw):
            calls.append(("upload_folder", kw["repo_id"], kw["repo_type"], kw["folder_path"]))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    rc, out, err = run_psw(pilot_db, "export-hf", "--out", tmp_path / "out", "--push", "someone/library")
    assert rc == 0, err
    assert "https://huggingface.co/datasets/someone/library" in out
    assert calls == [("token", "hf_test"), ("create_repo", "someone/library", "dataset"),
                     ("upload_folder", "someone/library", "dataset", str(tmp_path / "out"))]
