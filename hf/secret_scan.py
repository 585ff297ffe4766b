"""Before anything is published: look for secrets in every text value of every split.

One scanner for every output: `check_splits` for export-hf's parquet splits and card,
`check_texts` for the text files of export-selection (and any other writer of text).
Arrow runs one RE2 pattern (warehouse.secrets.prefilter_pattern) over each text column, nested
ones included (lists, structs, maps); Python looks closer only at the values it matches. The
first finding stops the export with the split, column and row, never the secret itself.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from warehouse import secrets
from warehouse.errors import UserError


def check_splits(splits, card: str) -> None:
    """UserError naming the split and column of the first secret found; None when clean."""
    pattern = secrets.prefilter_pattern()
    for split in splits:
        for name in split.table.column_names:
            found = _scan(split.table.column(name), pattern)
            if found is not None:
                row, kind = found
                where = f", row {row}" if row is not None else ""
                raise UserError(f"split {split.name}, column {name}{where}: holds {kind}; nothing exported "
                                f"(remove it from the warehouse, e.g. re-collect with the key redacted, then export)")
    kind = secrets.find_secret(card)
    if kind:
        raise UserError(f"the dataset card (README.md) holds {kind}; nothing exported")


def _scan(column: pa.ChunkedArray, pattern: str) -> tuple[int | None, str] | None:
    """(row, kind) of the first value holding a secret; row is None inside a nested column."""
    offset = 0
    for chunk in column.chunks:
        for values in _texts(chunk):
            hits = pc.match_substring_regex(values, pattern)
            if not pc.any(hits).as_py():
                continue
            for index in pc.indices_nonzero(hits).to_pylist():
                kind = secrets.find_secret(values[index].as_py())
                if kind:
                    return (offset + index if values is chunk else None), kind
        offset += len(chunk)
    return None


def _texts(array: pa.Array):
    """Every text array inside `array`: itself, or its children (flattened) when nested."""
    kind = array.type
    if isinstance(kind, pa.ExtensionType):      # e.g. JSON text
        yield from _texts(array.storage)
    elif pa.types.is_dictionary(kind):
        yield from _texts(array.dictionary)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        yield array
    elif pa.types.is_map(kind):
        yield from _texts(array.keys)
        yield from _texts(array.items)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        yield from _texts(array.flatten())
    elif pa.types.is_struct(kind):
        for i in range(kind.num_fields):
            yield from _texts(array.field(i))


def check_texts(files: dict[str, str], what: str = "nothing exported") -> None:
    """The same scan over text files psw is about to write (a selection's JSONL, a manifest, a
    report): UserError naming the file and line of the first secret; None when clean."""
    prefilter = re.compile(secrets.prefilter_pattern())
    for name, text in files.items():
        for line_no, line in enumerate(text.splitlines(), 1):
            if prefilter.search(line):
                kind = secrets.find_secret(line)
                if kind:
                    raise UserError(f"{name} line {line_no}: holds {kind}; {what} (remove it from the "
                                    f"warehouse, e.g. re-collect with the key redacted, then export)")
