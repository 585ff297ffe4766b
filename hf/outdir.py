"""Output folders of `psw export-hf` and `psw export-selection`: overwrite only a folder the
command itself wrote, and write the new one whole or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from warehouse.errors import UserError


def check_out(out: Path, is_ours: Callable[[Path], bool], refusal: str) -> None:
    """`out` must be new, empty (dot-entries aside) or a folder `is_ours` recognises; else one line."""
    if out.is_symlink():   # swapping it would replace the link, and removing it would follow it
        raise UserError(f"--out {out}: is a symbolic link (to {os.readlink(out)}); give the folder itself")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(not e.name.startswith(".") for e in out.iterdir()) and not is_ours(out):
        raise UserError(f"--out {out}: folder is not empty and {refusal}; choose an empty or new folder")


def replace_folder(out: Path, fill: Callable[[Path], None]) -> None:
    """`fill` writes the new content into a temporary folder beside `out`, which is then swapped
    into place. Dot-entries of the old folder (a clone's .git, .gitattributes) move across unless
    `fill` wrote one of the same name; on any error the old folder stays as it was."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        fill(tmp)
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            for entry in out.iterdir():
                if entry.name.startswith(".") and not (tmp / entry.name).exists():
                    entry.rename(tmp / entry.name)
            old = out.with_name(f"{tmp.name}.old")
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
        raise
