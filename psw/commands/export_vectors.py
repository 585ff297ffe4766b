"""`psw export-vectors`: a cell's vectors as a llama.cpp/repeng GGUF, safetensors or persona_vectors `.pt`."""

from __future__ import annotations

from pathlib import Path

from warehouse.db import connect, db_path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export-vectors", help="write a cell's steering vectors for llama.cpp, repeng, vLLM servers or persona_vectors",
        description="Write the newest extracted vectors of one cell (every stored layer, or --layer) to FILE: "
        "gguf (a llama.cpp / repeng control vector: direction.<L>, controlvector.model_hint and layer_count), "
        "safetensors (one tensor per layer) or pt (persona_vectors' [layers + 1, hidden] tensor). Layer L is the "
        "output of model.layers[L]. The provenance (model, revision, chat template, pairs, prompts) is in the "
        "file's metadata. `psw ingest FILE --kind vectors --model M` reads each back.")
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="file to write (replaced whole)")
    p.add_argument("--format", choices=("gguf", "safetensors", "pt"),
                   help="file format (default: from FILE's suffix)")
    p.add_argument("--cell", metavar="ID", help="the cell (default: the only cell with vectors)")
    p.add_argument("--layer", type=int, help="only this layer (default: every layer of the newest extraction)")
    p.add_argument("--reduction", default="response_mean", choices=("response_mean", "prompt_last"),
                   help="token reduction (default response_mean, the usual persona vector)")
    p.add_argument("--model-hint", metavar="TYPE", help="gguf: controlvector.model_hint (default: the model "
                   "config's model_type, read offline)")
    p.set_defaults(func=run)


def run(args) -> int:
    from extract.export_vectors import format_for, model_type, select_vectors, write_vectors

    fmt = format_for(args.format, args.out)
    con = connect(db_path(args.db), read_only=True)
    try:
        vset = select_vectors(con, args.cell, args.layer, args.reduction)
    finally:
        con.close()
    hint = args.model_hint or (model_type(vset.model_id, vset.model_revision) if fmt == "gguf" else None)
    write_vectors(args.out, fmt, vset, hint)
    layers = sorted(vset.vectors)
    print(f"export-vectors: {args.out}: {fmt}, cell {vset.cell_id}, {vset.model_id}, "
          f"layers {', '.join(map(str, layers))} ({vset.reduction})")
    return 0
