"""psw's caches are written whole or not at all (warehouse/kept_file.py)."""

from __future__ import annotations

from warehouse.kept_file import write_whole


def test_a_cache_is_replaced_whole(tmp_path):
    dest = tmp_path / "target" / "cache.bin"
    assert write_whole(dest, b"first") and dest.read_bytes() == b"first"
    assert write_whole(dest, b"second") and dest.read_bytes() == b"second"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["cache.bin"]   # no temporary file left


def test_a_cache_that_cannot_be_written_leaves_nothing(tmp_path):
    blocker = tmp_path / "target"
    blocker.write_text("a file where the folder would be")
    assert write_whole(blocker / "cache.bin", b"data") is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"] and blocker.read_text().startswith("a file")
