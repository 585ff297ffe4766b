"""Issue 23, items 4, 5, 6 and 13: a YAML alias bomb, a parquet whose lists expand to gigabytes,
a malformed card, a data file linking out of the folder, and which source `import-hf` reads."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from security_helpers import ROOT, one_line_error
from tests.conftest import Psw

ALIAS_BOMB = "\n".join(["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
                       + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
                          f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]" for i in range(8)])


def test_catalog_aliases_are_refused_before_they_expand(tmp_path, capsys):
    catalog = tmp_path / "template_catalog.yaml"
    catalog.write_text("- template_jinja: 'You are {{ persona }}.'\n  status: active\n  payload:\n"
                       + "\n".join("    " + line for line in ALIAS_BOMB.splitlines()) + "\n")
    assert catalog.stat().st_size < 600
    started = time.monotonic()
    rc, out, err = Psw(tmp_path / "w.duckdb", capsys)("ingest", catalog, "--kind", "catalog")
    assert time.monotonic() - started < 10
    assert rc == 2 and "aliases are not allowed" in err and "Traceback" not in err, err
    assert f"{catalog}:" in err


def test_a_catalog_with_an_anchor_but_no_alias_still_loads(tmp_path, capsys):
    catalog = tmp_path / "template_catalog.yaml"
    catalog.write_text("- template_jinja: 'You are {{ persona }}.'\n  status: active\n  sources: &s [a]\n")
    rc, _, err = Psw(tmp_path / "w.duckdb", capsys)("ingest", catalog, "--kind", "catalog")
    assert rc == 0, err


def write_library(folder, card: str | bytes | None = None):
    (folder / "data").mkdir(parents=True)
    pq.write_table(pa.table({"id": ["p1"], "pos": ["bold"], "neg": ["shy"]}), folder / "data" / "persona_pairs.parquet")
    if card is not None:
        (folder / "README.md").write_bytes(card if isinstance(card, bytes) else card.encode())
    return folder


@pytest.mark.parametrize("card, needle", [
    ("---\n- a\n- b\n---\n", "front matter is a list"),
    ("---\nconfigs: [a, b]\n---\n", "configs[0] is a text"),
    ("---\nconfigs: {a: 1}\n---\n", "configs is a mapping"),
    ("---\nconfigs:\n- config_name: x\n  data_files:\n  - split: train\n    path: /etc/*\n---\n", "leaves the library"),
    ("---\nconfigs:\n- config_name: x\n  data_files:\n  - split: train\n    path: ''\n---\n", "not a file pattern"),
    ("---\nconfigs:\n- config_name: x\n  data_files:\n  - split: train\n    path: ../../*\n---\n", "leaves the library"),
    ("---\nconfigs:\n- config_name: x\n  data_files:\n  - split: train\n    path: **\n---\n", "not plain YAML"),
    ("---\nconfigs:\n- config_name: x\n  data_files:\n  - 7\n---\n", "holds a int"),
    (b"---\nconfigs: []\n---\n\xff\xfe bad bytes\n", "not valid UTF-8"),
    ("---\na: &a [1]\nb: *a\n---\n", "aliases are not allowed"),
])
def test_a_malformed_card_is_one_line(tmp_path, capsys, card, needle):
    library = write_library(tmp_path / "lib", card)
    db = tmp_path / "w.duckdb"
    rc, _, err = Psw(db, capsys)("import-hf", library)
    one_line_error(rc, err, "README.md", needle, "nothing imported")
    assert not db.exists()


def test_a_card_pattern_matches_the_folders_own_files_only(tmp_path, capsys):
    card = "---\nconfigs:\n- config_name: persona_pairs\n  data_files:\n  - split: train\n    path: data/**/*.parquet\n---\n"
    library = write_library(tmp_path / "lib", card)
    from hf.importer import read_folder
    assert list(read_folder(library)) == ["persona_pairs"]


def test_a_data_file_linking_out_of_the_folder_is_refused(tmp_path, capsys):
    library = write_library(tmp_path / "lib")
    outside = tmp_path / "elsewhere.parquet"
    pq.write_table(pa.table({"id": ["p2"], "pos": ["calm"], "neg": ["angry"]}), outside)
    (library / "data" / "scenarios.parquet").symlink_to(outside)
    db = tmp_path / "w.duckdb"
    rc, _, err = Psw(db, capsys)("import-hf", library)
    one_line_error(rc, err, "scenarios.parquet", "link leading out of", "nothing imported")
    assert not db.exists()


BOMB = """
import resource, sys
from pathlib import Path
import pyarrow as pa, pyarrow.parquet as pq
from psw.cli import main
folder = Path(sys.argv[1]); (folder / "data").mkdir(parents=True)
n_rows, per = 12, 100                  # 1200 references to one 64 KB text: 77 MB decoded
values = pa.DictionaryArray.from_arrays(pa.array([0] * (n_rows * per), pa.int32()), pa.array(["x" * (64 << 10)]))
lists = pa.ListArray.from_arrays(pa.array([i * per for i in range(n_rows + 1)], pa.int32()), values)
path = folder / "data" / "persona_pairs.parquet"
pq.write_table(pa.table({"id": [f"p{i}" for i in range(n_rows)], "tags": lists}), path, compression="zstd")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rc = main(["--db", sys.argv[2], "import-hf", str(folder), "--max-bytes", "8MB"])
print(path.stat().st_size, rc, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, flush=True)
"""


def test_a_parquet_that_expands_to_gigabytes_is_refused_while_small(tmp_path):
    db = tmp_path / "w.duckdb"
    proc = subprocess.run([sys.executable, "-c", BOMB, str(tmp_path / "lib"), str(db)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    size, rc, grown_mb = map(int, proc.stdout.split())
    assert size < 100_000 and rc == 2, proc.stderr
    assert "expands past" in proc.stderr and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert grown_mb < 40, f"memory grew {grown_mb} MB before the refusal (the text decoded is 77 MB)"
    assert not db.exists()


def test_a_nested_list_declared_huge_is_refused_from_the_metadata(tmp_path):
    from hf.import_checks import Caps, read_parquet
    from warehouse.errors import UserError

    path = tmp_path / "ints.parquet"
    n = 3_000_000
    lists = pa.ListArray.from_arrays(pa.array([0, n], pa.int32()), pa.array([0] * n, pa.int64()))
    pq.write_table(pa.table({"v": lists}), path, compression="zstd")
    assert path.stat().st_size < 100_000
    with pytest.raises(UserError, match="expands past"):
        read_parquet(path, Caps(max_rows=10, max_bytes=16 << 20))
    assert read_parquet(path, Caps(max_rows=10, max_bytes=64 << 20)).num_rows == 1


def test_a_local_folder_named_like_a_hub_id_says_so(tmp_path, capsys, monkeypatch):
    write_library(tmp_path / "owner" / "repo")
    monkeypatch.chdir(tmp_path)
    rc, _, err = Psw(tmp_path / "w.duckdb", capsys)("import-hf", "owner/repo")
    assert "owner/repo: importing the local folder" in err and "not the Hub dataset" in err, err


@pytest.mark.parametrize("env", [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}])
def test_an_unknown_hub_id_offline_is_one_line_at_once(tmp_path, capsys, monkeypatch, env):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if "HF_ENDPOINT" in env:
        import huggingface_hub.constants as constants
        monkeypatch.setattr(constants, "ENDPOINT", env["HF_ENDPOINT"])
    started = time.monotonic()
    rc, _, err = Psw(tmp_path / "w.duckdb", capsys)("import-hf", "nobody-here/no-such-dataset")
    assert time.monotonic() - started < 10
    one_line_error(rc, err, "nobody-here/no-such-dataset", "not in the Hugging Face cache", "nothing imported")
