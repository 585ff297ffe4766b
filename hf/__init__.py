"""Publish and reuse: the marts as Hugging Face dataset splits, and a published library back into raw.

- `export.export_library`: read the marts (read-only), write one parquet file per split plus a
  Jinja2-rendered dataset card, deterministically and atomically.
- `importer.import_library`: read a published library (a local folder, or a Hub repo id through
  the datasets library) and append it to the raw layer, so `psw build` rebuilds the marts.
- `selection.export_selection`: the training pairs of chosen cells as DPO and steering JSONL with a
  manifest, deterministically and atomically.
"""
