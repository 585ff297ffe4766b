"""Writing a selection folder: refuse to overwrite anything else, write whole or not at all."""

from __future__ import annotations

from pathlib import Path

from hf import outdir
from hf.secret_scan import check_texts

FILES = ("dpo.jsonl", "steering.jsonl")
MANIFEST = "manifest.json"


def check_out(out: Path) -> None:
    outdir.check_out(out, _is_selection, f"is not a previous selection ({', '.join(FILES)}, {MANIFEST} only)")


def _is_selection(out: Path) -> bool:
    """Only a folder this command wrote (its files and a manifest naming its format) is replaced."""
    names = {e.name for e in out.iterdir() if not e.name.startswith(".")}
    if MANIFEST not in names or names - {*FILES, MANIFEST}:
        return False
    head = (out / MANIFEST).read_text(encoding="utf-8", errors="replace")
    return '"format": "psw-selection/' in head


def write_atomically(out: Path, files: dict[str, str]) -> None:
    """Scan every file for secrets, write them to a temporary folder beside `out`, then swap it into place."""
    check_texts(files)
    def fill(tmp: Path) -> None:
        for name, text in files.items():
            with (tmp / name).open("w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)

    outdir.replace_folder(out, fill)
