"""Attack 4: a server that echoes the Authorization header planted the API key in raw.pairs,
raw.judgments, raw.api_calls and, through them, in `psw export-hf`. Now every row is redacted
before it is written, and export-hf refuses to publish anything that looks like a secret."""

from __future__ import annotations

import json

import duckdb
import pytest

from collect_helpers import KEY_ENV, SECRET, collect_args, write_candidates
from fakeserver import FakeLLM, FakeServer, is_judge
from security_helpers import every_text, one_line_error, rows
from tests.conftest import Psw


class EchoLLM(FakeLLM):
    """Puts the Authorization header it received into every answer: content, body and errors."""

    def handle(self, body, auth):
        status, headers, payload, delay = super().handle(body, auth)
        data = json.loads(payload)
        if status == 200:
            message = data["choices"][0]["message"]
            message["content"] = f"(you sent Authorization: {auth}) " + message["content"]
        data["echo"] = {"authorization": auth, "key": (auth or "").split()[-1]}
        return status, headers, json.dumps(data).encode(), delay


@pytest.fixture
def echo():
    server = FakeServer(EchoLLM()).start()
    try:
        yield server
    finally:
        server.stop()


def plant(db, mart: str, column: str, text: str) -> None:
    """Append `text` to one value of a mart: a warehouse collected before redaction existed.
    (A view, like `examples`, is first made a table holding the same rows.)"""
    with duckdb.connect(str(db)) as con:
        if con.execute("select table_type from information_schema.tables where table_schema = 'main' "
                       "and table_name = ?", [mart]).fetchall()[0][0] == "VIEW":
            con.execute(f"create table main._rows as select * from main.{mart}")
            con.execute(f"drop view main.{mart}")
            con.execute(f"alter table main._rows rename to {mart}")
        con.execute(f"update main.{mart} set {column} = {column} || ' ' || ? "
                    f"where rowid = (select max(rowid) from main.{mart})", [text])


def leaks(text: str) -> bool:
    return SECRET in text or SECRET[:24] in text


def test_collect_build_and_export_never_store_an_echoed_key(echo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    echo.llm.add_fault("status", code=400, match=is_judge("style"), times=1)   # an error row, echoed too
    db = tmp_path / "w.duckdb"
    psw = Psw(db, capsys)
    files = write_candidates(tmp_path / "in", n_templates=2, n_pairs=2, n_scenarios=2)
    rc, out, err = psw(*collect_args(db, echo.base_url, files)[2:])
    assert rc == 1, err  # the injected 400 leaves one pair without a style rating: "some pairs failed"
    assert echo.llm.auth_headers == {f"Bearer {SECRET}"}      # the key went where it must
    assert not leaks(out + err)
    assert not leaks(every_text(db))
    assert rows(db, "select count(*) from raw.pairs where pos_response like '%Authorization: Bearer ***%'")[0][0] > 0
    assert rows(db, "select count(*) from raw.judgments where error like 'HTTP 400%'")[0][0] == 1
    assert psw("build")[0] == 0
    monkeypatch.delenv(KEY_ENV)          # the export scan must not depend on the key being set
    rc, out, err = psw("export-hf", "--out", tmp_path / "library")
    assert rc == 0, err
    published = b"".join(p.read_bytes() for p in (tmp_path / "library").rglob("*") if p.is_file())
    assert SECRET.encode() not in published


def test_extract_judge_calls_are_redacted(echo, tmp_path, monkeypatch):
    from extract.judge import judge_generations
    from warehouse.schema import ensure_raw_schema

    monkeypatch.setenv(KEY_ENV, SECRET)
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        ensure_raw_schema(con)
        values = {"generation_id": "g1", "vector_id": "v1", "cell_id": "c1", "layer": 1, "positions": "all",
                  "coeff": 1.0, "scenario_text": "What now?", "response_text": "I act.", "n_tokens": 3,
                  "max_new_tokens": 8, "temperature": 0.0, "model_id": "tiny", "created_at": "2025-01-01"}
        con.execute(f"insert into raw.steering_generations ({', '.join(values)}) values "
                    f"({', '.join('?' for _ in values)})", list(values.values()))
        assert judge_generations(con, ["g1"], ["judge/x"], {"pos": "bold", "neg": "shy"}, echo.base_url,
                                 KEY_ENV) == 2
    assert echo.llm.auth_headers == {f"Bearer {SECRET}"}
    assert not leaks(every_text(db))
    assert rows(db, "select count(*) from raw.api_calls")[0][0] == 2


@pytest.mark.parametrize("planted, split, column, env", [
    ("Authorization: Bearer sk-or-v1-0123456789abcdef0123456789abcdef", "v2_pilot_seed23_examples",
     "pos_response", {}),
    ("my token is hf_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef1234", "template_pair_scores", "template_text", {}),
    ("zq81-not-a-known-shape-7731xk", "v2_pilot_seed23_examples", "neg_response",
     {"MY_SERVICE_TOKEN": "zq81-not-a-known-shape-7731xk"}),
])
def test_export_refuses_to_publish_a_secret(pilot_copy, tmp_path, capsys, monkeypatch, planted, split, column, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    plant(pilot_copy, "examples" if split.endswith("_examples") else split, column, planted)
    out = tmp_path / "library"
    rc, _, err = Psw(pilot_copy, capsys)("export-hf", "--out", out)
    one_line_error(rc, err, f"split {split}, column {column}", "nothing exported")
    assert planted not in err
    assert not out.exists() and list(tmp_path.iterdir()) == [pilot_copy]


def test_plain_words_are_not_secrets(pilot_copy, tmp_path, capsys):
    plant(pilot_copy, "examples", "pos_response", "The bearer responsibilities of a skeleton key-holder.")
    assert Psw(pilot_copy, capsys)("export-hf", "--out", tmp_path / "library")[0] == 0
