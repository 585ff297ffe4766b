"""Issue 23, items 2 and 10: export-selection passes the same secret scan as export-hf, and an
--out that is a symbolic link is one line, with nothing stray left beside it."""

from __future__ import annotations

import duckdb
import pytest

from security_helpers import one_line_error
from tests.conftest import Psw

TOKEN = "Authorization: Bearer sk-or-v1-0123456789abcdef0123456789abcdef"


def examples_as_table(db) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("create table main._rows as select * from main.examples")
        con.execute("drop view main.examples")
        con.execute("alter table main._rows rename to examples")
        con.execute("update main.examples set pos_response = pos_response || ' ' || ?", [TOKEN])


def test_export_selection_refuses_a_bearer_token(pilot_copy, tmp_path, capsys):
    out = tmp_path / "train"
    assert Psw(pilot_copy, capsys)("export-selection", "--out", out, "--no-strict")[0] == 0   # clean: it writes
    examples_as_table(pilot_copy)
    fresh = tmp_path / "train2"
    rc, out_text, err = Psw(pilot_copy, capsys)("export-selection", "--out", fresh, "--no-strict")
    one_line_error(rc, err, "dpo.jsonl line 1", "bearer token", "nothing exported")
    assert "sk-or-v1-0123" not in err + out_text
    assert not fresh.exists() and sorted(p.name for p in tmp_path.iterdir()) == sorted([pilot_copy.name, "train"])


def test_the_text_scan_names_file_and_line(tmp_path):
    from hf.selection_write import write_atomically
    from warehouse.errors import UserError

    with pytest.raises(UserError, match=r"steering.jsonl line 2: holds a Hugging Face token"):
        write_atomically(tmp_path / "sel", {"dpo.jsonl": "{}\n", "steering.jsonl": "{}\n{\"t\": \"hf_" + "A" * 34 + "\"}\n"})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["export-hf", "export-selection"])
def test_out_as_a_symlink_is_one_line_and_leaves_nothing(pilot_db, tmp_path, capsys, command):
    target = tmp_path / "real"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    link = tmp_path / "link"
    link.symlink_to(target)
    rc, _, err = Psw(pilot_db, capsys)(command, "--out", link)
    one_line_error(rc, err, f"--out {link}", "symbolic link")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
