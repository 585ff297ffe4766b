"""Vector files pass the one secret scanner (hf/secret_scan.check_texts) before they are written
(issue 23 item 2): a secret anywhere in a run's provenance (the model id, a parameter) stops the
extraction with one line naming the file, before any file or row is written; a clean run writes."""

from __future__ import annotations

import duckdb
import pytest
import torch

from extract.model_io import Provenance
from extract.store import load_vector, write_extraction
from extract.vectors import CellVector, PairStat
from warehouse import secrets
from warehouse.errors import UserError

SECRET = "sk-abcdefghijklmnopqrstuvwx0123"


def run(tmp_path, model_id: str = "tiny", params: dict | None = None):
    db = tmp_path / "w.duckdb"
    prov = Provenance(model_id, "rev", None, "output of model.layers[L]", "fp32", 3, 4)
    vectors = [CellVector(cell, 1, "response_mean", ("p1",), torch.ones(4) * i) for i, cell in enumerate(("c1", "c2"))]
    stats = [PairStat("p1", v.cell_id, 1, "response_mean", 1.0, 0.5, -0.5, 1.0, 3, 3) for v in vectors]
    with duckdb.connect(str(db)) as con:
        return write_extraction(con, db, prov, None, [1], False, params or {}, vectors, stats), db


@pytest.mark.parametrize("where", ["model_id", "params", "registered"])
def test_a_secret_in_the_provenance_writes_nothing(tmp_path, monkeypatch, where):
    monkeypatch.setattr(secrets, "_registered", set())
    monkeypatch.setattr(secrets, "_patterns", {})
    if where == "registered":
        secrets.register("Zx81qWerty0Pl4")       # a key in use, echoed lower-cased into a parameter
    leak = {"model_id": SECRET, "params": {"note": f"Authorization: Bearer {SECRET}"},
            "registered": {"note": "zx81qwerty0pl4"}}[where]
    with pytest.raises(UserError) as caught:
        run(tmp_path, **({"model_id": leak} if where == "model_id" else {"params": leak}))
    message = str(caught.value)
    line = 1 if where == "model_id" else 2     # the file's path, then its provenance
    assert f"the vector file of cell c1 line {line}: holds" in message and "nothing written" in message
    assert SECRET not in message and "zx81" not in message.lower()
    assert not (tmp_path / "vectors").exists()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        if "activation_vectors" in tables:
            assert con.execute("select count(*) from raw.activation_vectors").fetchone()[0] == 0


def test_a_clean_run_writes_its_files(tmp_path):
    (run_id, added), db = run(tmp_path, params={"note": "bearer responsibilities"})
    assert added == 2
    files = sorted((tmp_path / "vectors").rglob("*.safetensors"))
    assert len(files) == 2
    vector, provenance = load_vector(files[0], 1)
    assert provenance["run_id"] == run_id and vector.shape == (4,)
