"""Writing a selection folder: refuse to overwrite anything else, write whole or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from warehouse.errors import UserError

FILES = ("dpo.jsonl", "steering.jsonl")
MANIFEST = "manifest.json"


def check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and not _is_empty_or_selection(out):
        raise UserError(f"--out {out}: folder is not empty and is not a previous selection "
                        f"({', '.join(FILES)}, {MANIFEST} only); choose an empty or new folder")


def _is_empty_or_selection(out: Path) -> bool:
    """Only a folder this command wrote (its files and a manifest naming its format) is replaced."""
    names = {e.name for e in out.iterdir() if not e.name.startswith(".")}
    if not names:
        return True
    if MANIFEST not in names or names - {*FILES, MANIFEST}:
        return False
    head = (out / MANIFEST).read_text(encoding="utf-8", errors="replace")
    return '"format": "psw-selection/' in head


def write_atomically(out: Path, files: dict[str, str]) -> None:
    """Write every file to a temporary folder beside `out`, then swap it into place."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for name, text in files.items():
            with (tmp / name).open("w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            for entry in out.iterdir():    # keep a clone's .git and other dot-entries
                if entry.name.startswith("."):
                    entry.rename(tmp / entry.name)
            old = out.with_name(f"{tmp.name}.old")
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
