"""Writing psw's caches of dbt's work (the kept manifest, partial parse, compiled templates, JSON
schemas) in dbt's git-ignored target folder. A cache is best effort: a reader that finds none, or
one it cannot read, makes it again, so a write that fails leaves nothing behind and raises nothing."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from importlib import metadata
from pathlib import Path


def write_whole(dest: Path, data: bytes) -> bool:
    """`data` into `dest`, written whole under a temporary name, then renamed: a reader (another
    process) finds the old file or the new one, never a part. False if it could not be written."""
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(data)
        os.replace(partial, dest)
        return True
    except OSError:   # a full disk, a read-only folder
        with contextlib.suppress(OSError):
            partial.unlink()
        return False


def stamp(fmt: int, *packages: str) -> list:
    """What a cache was made under: its own format, Python's version and the versions of `packages`
    (a cache holds their classes, their code or what they generated). A cache under another stamp is
    made again."""
    return [fmt, sys.version, *(version(name) for name in packages)]


@functools.lru_cache(maxsize=None)
def version(package: str) -> str:
    """An installed package's version, read once a process (each read scans the installed
    packages' metadata: ~2 ms)."""
    return metadata.version(package)


def file_state(path: Path) -> tuple[int, int, int] | None:
    """(modification time, size, inode) of a cache file, None when there is none: a reader that noted
    it when it read the file knows from a new one that another process wrote it since (write_whole
    renames a new file into place, so the inode moves even within the same second)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino
