"""The model matrix incremental by template (dbt/macros/incremental_by_template.sql): a build recomputes
the templates whose matrix cells changed (a run added or forgotten, a published file loaded or
forgotten), keeps every other template's rows where they were, and the result equals the matrix rebuilt from scratch."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb

from psw.cli import main

from tests.conftest import REFERENCE
from tests.core import upstream_shapes as shapes
from tests.core.test_build_guarantees import _contents
from tests.core.test_incremental import _assert_same

MATRIX = {"main.template_model_scores": "id", "main.template_pair_model_scores": "id"}


def _rows(db: Path, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


MARK = " [kept]"


def _mark_every_row(db: Path) -> None:
    """Append MARK to every stored row's template text: a row the next build recomputes loses it."""
    with duckdb.connect(str(db)) as con:
        for table in MATRIX:
            con.execute(f"update {table} set template_text = template_text || '{MARK}'")


def _marked(db: Path, table: str) -> dict[str, tuple[str, bool]]:
    """Each row's id -> (its template, whether it still carries MARK); the marks then removed."""
    rows = {row[0]: (row[1], row[2].endswith(MARK))
            for row in _rows(db, f"select id, template_id, template_text from {table}")}
    with duckdb.connect(str(db)) as con:
        con.execute(f"update {table} set template_text = replace(template_text, '{MARK}', '')")
    return rows


def _same_as_rebuilt_from_scratch(db: Path, tmp_path: Path, name: str) -> None:
    full = tmp_path / name / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copy(db, full)
    # the matrix alone from scratch, over the same cells (tests/core/test_incremental.py compares those
    # with a full rebuild)
    assert main(["--db", str(full), "build", "--full-refresh", "--force",
                 "--select", *(table.split(".")[1] for table in MATRIX)]) == 0
    for table, key in MATRIX.items():
        _assert_same(db, full, table, key)


def _load_id(db: Path, path: Path) -> str:
    [(load_id,)] = _rows(db, "select load_id from raw.loads where source_path like ? and forgotten_at is null",
                         [f"%{path.name}"])
    return load_id


def test_a_run_of_another_generator_recomputes_only_its_templates(pilot_copy, tmp_path):
    # another generator measured one of the pilot's templates
    records = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").open()]
    template = records[0]["template"]
    run = tmp_path / "other_generator_examples.jsonl"
    run.write_text("".join(json.dumps(r) + "\n" for r in records if r["template"] == template))
    assert main(["--db", str(pilot_copy), "ingest", str(run), "--measurement", "other",
                 "--generator-model", "other/model-b"]) == 0
    _mark_every_row(pilot_copy)
    assert main(["--db", str(pilot_copy), "build"]) == 0

    [(template_id,)] = _rows(pilot_copy, "select distinct template_id from template_pair_scores "
                                         "where measurement_id = 'other'")
    for table in MATRIX:
        rows = _marked(pilot_copy, table)
        # that template's rows were recomputed; every other template's were kept, not rewritten
        assert {template for template, marked in rows.values() if not marked} == {template_id}, table
        assert len({template for template, _ in rows.values()}) > 1, table
    assert _rows(pilot_copy, "select distinct model_count, models from template_model_scores where template_id = ?",
                 [template_id]) == [(2, ["other/model-b", "qwen/qwen3.5-27b"])]
    _same_as_rebuilt_from_scratch(pilot_copy, tmp_path, "after_the_run")

    # forgotten: the template's rows are recomputed from the pilot's cells alone
    assert main(["--db", str(pilot_copy), "forget", "--measurement", "other"]) == 0
    assert main(["--db", str(pilot_copy), "build"]) == 0
    assert _rows(pilot_copy, "select distinct model_count from template_model_scores where template_id = ?",
                 [template_id]) == [(1,)]
    _same_as_rebuilt_from_scratch(pilot_copy, tmp_path, "after_the_forget")


def test_published_cells_loaded_and_forgotten_recompute_their_templates(pilot_copy, tmp_path):
    def by_basis() -> list[tuple]:
        return _rows(pilot_copy, "select basis, model_count, count(*) from template_model_scores group by all "
                                 "order by all")

    measured = by_basis()
    assert [basis for basis, _, _ in measured] == ["measured"]
    matrix = shapes.model_matrix(tmp_path)
    assert main(["--db", str(pilot_copy), "ingest", *map(str, matrix["stats"])]) == 0
    assert main(["--db", str(pilot_copy), "build"]) == 0
    assert by_basis() == [*measured, ("published", 3, 2)]
    _same_as_rebuilt_from_scratch(pilot_copy, tmp_path, "published")

    # one generator's published cells forgotten: its templates drop to two models, and only they are recomputed
    published = {t for (t,) in _rows(pilot_copy, "select template_id from template_model_scores "
                                                 "where basis = 'published'")}
    assert main(["--db", str(pilot_copy), "forget", "--load", _load_id(pilot_copy, matrix["stats"][0])]) == 0
    _mark_every_row(pilot_copy)
    assert main(["--db", str(pilot_copy), "build"]) == 0
    for table in MATRIX:
        assert {template for template, marked in _marked(pilot_copy, table).values() if not marked} == published
    assert by_basis() == [*measured, ("published", 2, 2)]
    _same_as_rebuilt_from_scratch(pilot_copy, tmp_path, "one_generator_forgotten")
    # all of them: templates none of whose cells is left keep no row
    for path in matrix["stats"][1:]:
        assert main(["--db", str(pilot_copy), "forget", "--load", _load_id(pilot_copy, path)]) == 0
    assert main(["--db", str(pilot_copy), "build"]) == 0
    assert by_basis() == measured
    assert _rows(pilot_copy, "select count(*) from template_pair_model_scores where basis = 'published'") == [(0,)]
    _same_as_rebuilt_from_scratch(pilot_copy, tmp_path, "all_published_forgotten")


def test_a_table_from_before_the_digest_is_recomputed_whole(pilot_copy):
    """A matrix table built before cells_version existed gains the column on a plain build, every row
    recomputed (none kept with the column null)."""
    def columns(table: str) -> str:
        return ", ".join(sorted(row[0] for row in _rows(pilot_copy, f"describe {table}")))

    expected = {table: (columns(table), _rows(pilot_copy, f"select {columns(table)} from {table} order by id"))
                for table in MATRIX}
    assert all(rows for _, rows in expected.values())
    with duckdb.connect(str(pilot_copy)) as con:
        for table in MATRIX:
            con.execute(f"alter table {table} drop column cells_version")
    assert main(["--db", str(pilot_copy), "build", "--force"]) == 0
    for table, (names, rows) in expected.items():
        assert columns(table) == names
        assert _rows(pilot_copy, f"select {names} from {table} order by id") == rows


def test_a_cell_whose_values_change_recomputes_its_templates(pilot_copy):
    """A changed var changes the cells' values, not their ids: the templates' digests change all the same."""
    def strict_rates() -> list[tuple]:
        return _rows(pilot_copy, "select id, strict_pass_rate_mean from template_pair_model_scores order by id")

    rates = strict_rates()
    assert any(rate > 0 for _, rate in rates)
    assert main(["--db", str(pilot_copy), "build", "--vars", "{strict_min_axis_delta: 9}"]) == 0
    assert all(rate == 0 for _, rate in strict_rates())   # axis_delta is at most 8: nothing passes
    assert main(["--db", str(pilot_copy), "build"]) == 0
    assert strict_rates() == rates


def test_an_incremental_build_still_checks_the_guarantees(pilot_copy, tmp_path, capsys):
    """The matrix's guarantees run after its cleanup on every build, over the rows it kept too: a stored
    row that breaks one stops the build with one line naming the model, the column and the value."""
    records = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").open()]
    records = [r for r in records if r["template"] == records[0]["template"]][:4]
    with duckdb.connect(str(pilot_copy)) as con:   # a row of a template the run leaves as it was
        con.execute("update template_model_scores set model_count = 99 where id = (select min(id) "
                    "from template_model_scores where template_text <> ?)", [records[0]["template"]])
    run = tmp_path / "other_generator_examples.jsonl"
    run.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["--db", str(pilot_copy), "ingest", str(run), "--measurement", "other",
                 "--generator-model", "other/model-b"]) == 0
    before = {table: _contents(pilot_copy, table.split(".")[1]) for table in MATRIX}
    capsys.readouterr()
    assert main(["--db", str(pilot_copy), "build"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(r"error: dbt build failed: template_model_scores\.model_count = 99: not true: "
                        r"model_count >= 1 and model_count = len\(models\) \(test \w+\)", last), last
    # the failed build's delete and insert rolled back: the table is as the last good build left it
    assert _contents(pilot_copy, "template_model_scores") == before["main.template_model_scores"]
