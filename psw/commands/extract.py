"""`psw extract vectors | steer | project`: activation statistics and steering sweeps."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from warehouse.db import UserError, connect, db_path


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "extract", help="contrastive activation vectors, steering sweeps and projections (torch)",
        description="Teacher-forced activations of the target model over the measured pairs: "
        "per cell x layer a mean (pos - neg) vector, per pair the projections; then steering "
        "sweeps and projections of stored responses. Layer L = output of model.layers[L] (0-based).")
    sub = p.add_subparsers(dest="extract_command", required=True, metavar="STEP")

    v = sub.add_parser("vectors", help="cell vectors and per-pair projections from the judged pairs")
    _model_options(v, required=True)
    v.add_argument("--layers", help="comma-separated 0-based layers, or 'all' (default: 3 layers "
                   "from the middle to the end)")
    v.add_argument("--measurement", metavar="ID", help="only this measurement's pairs")
    v.add_argument("--cell", metavar="ID", help="only this cell's pairs")
    v.add_argument("--strict-only", action="store_true", help="only pairs with strict_pass")
    v.add_argument("--min-pairs", type=int, default=1, help="skip cells with fewer pairs (default 1)")
    v.add_argument("--bootstrap", type=int, default=50, metavar="N",
                   help="also store each cell vector over N resamples of its pairs, for the intervals of the "
                   "trait-geometry cosines (default 50; each costs N x hidden size x 4 bytes; 0: none)")
    v.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="seed of the resamples (default 0)")
    _batch_options(v)
    v.set_defaults(func=cmd_vectors)

    s = sub.add_parser("steer", help="generate at several coefficients with a stored cell vector "
                       "or an imported one")
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--cell", metavar="ID", help="a cell's vector (from `psw extract vectors`)")
    which.add_argument("--vector", metavar="TRAIT", help="an imported vector (`psw ingest --kind vectors`); "
                       "needs --scenarios")
    s.add_argument("--layer", required=True, type=int)
    s.add_argument("--coeffs", default="-3,-1,0,1,3,5", help="comma-separated (default -3,-1,0,1,3,5)")
    s.add_argument("--positions", default="response", choices=("all", "prompt", "response"))
    s.add_argument("--scenarios", type=Path, help="JSONL {id, prompt|question|text} or text lines "
                   "(default: the cell's scenarios)")
    s.add_argument("--max-new-tokens", type=int, default=128)
    s.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--vector-id", help="a stored vector id (default: the newest for cell and layer)")
    s.add_argument("--steer-base-url", metavar="URL", help="generate on this OpenAI-compatible server instead, "
                   "steered per request by `steer_vector_request` (EasySteer-style: vector or file path, scale, "
                   "layers); --model names the server's model")
    s.add_argument("--steer-api-key-env", default="STEER_API_KEY", metavar="NAME",
                   help="env var holding the steering server's key (none needed on 127.0.0.1)")
    s.add_argument("--steer-vector-path", metavar="PATH", help="with --steer-base-url: send this path on the "
                   "server (e.g. a `psw export-vectors` GGUF) instead of the vector inline")
    _judge_options(s, required=False)
    _model_options(s, required=False)
    _batch_options(s)
    # let `--coeffs -3,-1,0` read as a value, not as an option
    s._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-[\d.,-]+$")
    s.set_defaults(func=cmd_steer)

    g = sub.add_parser("judge", help="judge stored sweep generations again (a new rubric or judge), "
                       "without regenerating; or, with --measurement, a measurement's own pair completions")
    which = g.add_mutually_exclusive_group()
    which.add_argument("--cell", metavar="ID", help="this cell's sweeps (with --measurement: only its pairs)")
    which.add_argument("--vector", metavar="TRAIT", help="an imported vector's sweeps")
    g.add_argument("--measurement", metavar="ID", help="judge this measurement's pairs (both completions, trait "
                   "and coherence) instead of sweeps: persona_vectors' effective-pair rule (pair_response_scores)")
    g.add_argument("--layer", type=int, help="only sweeps at this layer")
    _judge_options(g, required=True)
    g.set_defaults(func=cmd_judge)

    j = sub.add_parser("project", help="project stored responses (prompted, baseline, steered) on vectors")
    j.add_argument("--cell", metavar="ID", help="only this cell's vectors (with --vector: only its pairs)")
    j.add_argument("--vector", metavar="TRAIT", help="an imported vector instead: every pair (or --cell's) "
                   "and its own steering generations")
    j.add_argument("--layer", type=int, help="only this layer's vectors")
    j.add_argument("--all-cells", action="store_true",
                   help="project every example of the vector's measurement, not only its cell's")
    _model_options(j, required=False)
    _batch_options(j)
    j.set_defaults(func=cmd_project)


def _model_options(p, required: bool) -> None:
    help_model = "hub id or local path" if required else "hub id or local path (default: the vector's model)"
    p.add_argument("--model", required=required, help=help_model)
    p.add_argument("--revision", help="hub revision (commit, branch or tag)")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on CUDA, fp32 on CPU), fp32, bf16, fp16")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--trust-remote-code", action="store_true", help="allow the model's own code")


def _judge_options(p, required: bool) -> None:
    p.add_argument("--judge", action="append", default=[], metavar="MODEL", required=required,
                   help="score trait and coherence 0-100 with this judge (repeatable)")
    p.add_argument("--rubric", type=Path, metavar="DIR", help="the judge's rubric files, trait.txt and "
                   "coherence.txt with slots {pos} {neg} {question} {answer} (default data/prompts/steering)")
    p.add_argument("--axbench", action="store_true", help="also rate concept, instruction relevance and "
                   "fluency 0-2 (AxBench; rubrics concept.txt, instruction.txt, fluency.txt)")
    p.add_argument("--base-url", default="https://openrouter.ai/api/v1", help="judge endpoint")
    p.add_argument("--api-key-env", default="OPENROUTER_API_KEY", metavar="NAME")


def _batch_options(p) -> None:
    p.add_argument("--batch-size", type=int, default=16, help="sequences per forward pass (default 16)")
    p.add_argument("--max-batch-tokens", type=int, default=16384,
                   help="padded tokens per forward pass (default 16384)")


def _load(args, model_id: str, revision: str | None = None):
    from tqdm import tqdm

    from extract.model_io import load_model

    tqdm.write(f"loading {model_id} ...", file=sys.stderr)  # above any progress bar
    return load_model(model_id, revision=revision or args.revision, dtype=args.dtype, device=args.device,
                      trust_remote_code=args.trust_remote_code)


# ---- vectors ------------------------------------------------------------------------

def cmd_vectors(args) -> int:
    from extract.model_io import parse_layers
    from extract.progress import Progress
    from extract.store import load_pairs, prompt_provenance, write_extraction
    from extract.vectors import extract_cells

    db = db_path(args.db)
    con = connect(db, read_only=True)
    try:
        pairs = load_pairs(con, args.measurement, args.strict_only, args.cell)
    finally:
        con.close()
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.cell_id] = counts.get(pair.cell_id, 0) + 1
    pairs = [p for p in pairs if counts[p.cell_id] >= args.min_pairs]
    if args.bootstrap < 0:
        raise UserError(f"--bootstrap: expected 0 or more resamples, got {args.bootstrap}")
    if not pairs:
        raise UserError("extract vectors: no judged pairs match (check --measurement, --cell, --strict-only)")
    prompts = prompt_provenance(pairs)
    if prompts["n_reconstructed_prompts"]:
        print(f"extract vectors: warning: {prompts['n_reconstructed_prompts']} of {len(pairs)} pairs have no "
              "recorded generation messages; their prompts are rebuilt from template and persona, which may "
              "differ from what produced the responses", file=sys.stderr)
    model, tokenizer, prov = _load(args, args.model)
    layers = parse_layers(args.layers, prov.n_layers)
    with Progress("extract vectors", total=2 * len(pairs), unit="seq") as progress:
        vectors, stats = extract_cells(model, tokenizer, pairs, layers, args.batch_size,
                                       args.max_batch_tokens, progress=progress.update,
                                       bootstrap=args.bootstrap, seed=args.bootstrap_seed)
    params = {"batch_size": args.batch_size, "device": str(next(model.parameters()).device),
              **({"bootstrap": {"replicates": args.bootstrap, "seed": args.bootstrap_seed}} if args.bootstrap else {}),
              "selection": {"measurement_id": args.measurement, "cell_id": args.cell,
                            "strict_only": args.strict_only, "min_pairs": args.min_pairs},
              "prompts": prompts}
    con = connect(db)
    try:
        run_id, added = write_extraction(con, db, prov, args.measurement, layers, args.strict_only, params,
                                         vectors, stats)
    finally:
        con.close()
    n_cells = len({v.cell_id for v in vectors})
    print(f"extract vectors: run {run_id[:12]}: {n_cells} cells x {len(layers)} layers "
          f"({len(pairs)} pairs), {added} new vectors", file=sys.stderr)
    return 0


# ---- steer --------------------------------------------------------------------------

def _vector_tensor(row: dict):
    import torch

    from extract.store import load_vector

    path = Path(row["safetensors_path"] or "")
    if row["safetensors_path"] and path.exists():
        return load_vector(path, row["layer"], row["reduction"])[0]
    return torch.tensor(row["vector"], dtype=torch.float32)


def _model_for_vector(args, row: dict):
    model, tokenizer, prov = _load(args, args.model or row["model_id"],
                                   None if args.model else row["model_revision"])
    if row["cell_id"] is not None and prov.chat_template_hash != row["chat_template_hash"]:
        print(f"warning: chat template differs from the one the vector was extracted with "
              f"({row['model_id']})", file=sys.stderr)
    if not 0 <= row["layer"] < prov.n_layers:
        raise UserError(f"--layer {row['layer']}: the model has {prov.n_layers} layers")
    if len(row["vector"]) != prov.hidden_size:
        raise UserError(f"{prov.model_id}: hidden size {prov.hidden_size}, the vector has {len(row['vector'])}")
    return model, tokenizer, prov


def _imported_vector(con, args, layer: int | None) -> list[dict]:
    from extract.store import imported_vectors

    rows = imported_vectors(con, args.vector, layer)
    if not rows:
        at = f" at layer {layer}" if layer is not None else ""
        raise UserError(f"--vector {args.vector}: no imported vector{at}; load one with "
                        "`psw ingest FILE --kind vectors --model ID --trait NAME`")
    return rows


def cmd_steer(args) -> int:
    from extract.progress import Progress
    from extract.steer import cell_scenarios, parse_coeffs, read_scenarios, store_sweep, sweep
    from extract.store import find_vector, steering_label

    coeffs = parse_coeffs(args.coeffs)
    rubrics = _rubrics(args) if args.judge else None
    if args.max_new_tokens < 1:
        raise UserError("--max-new-tokens: must be >= 1")
    if args.steer_vector_path and not args.steer_base_url:
        raise UserError("--steer-vector-path: only with --steer-base-url (a path on the steering server)")
    if args.vector and not args.scenarios:
        raise UserError("--vector: pass --scenarios FILE (an imported vector has no cell to take scenarios from)")
    db = db_path(args.db)
    con = connect(db, read_only=True)
    try:
        if args.vector:
            rows = _imported_vector(con, args, args.layer)
            rows = [r for r in rows if r["model_id"] == args.model] or rows
            if len(rows) > 1:
                raise UserError(f"--vector {args.vector}: imported for several models "
                                f"({', '.join(r['model_id'] for r in rows)}); pass --model")
            row = rows[0]
        else:
            row = find_vector(con, args.cell, args.layer, vector_id=args.vector_id)
        scenarios = read_scenarios(args.scenarios) if args.scenarios else cell_scenarios(con, row["cell_id"])
        trait = _trait_description(con, row) if args.judge else None
    finally:
        con.close()
    if args.steer_base_url:
        results, model_id, revision = _remote_sweep(args, row, coeffs, scenarios), args.model, None
    else:
        model, tokenizer, prov = _model_for_vector(args, row)
        vector = _vector_tensor(row)
        with Progress("extract steer", total=len(coeffs) * len(scenarios), unit="generation") as progress:
            results = sweep(model, tokenizer, vector, row["layer"], coeffs, args.positions, scenarios,
                            args.max_new_tokens, args.temperature, args.seed, args.batch_size, progress.update)
        model_id, revision = prov.model_id, prov.model_revision
    con = connect(db)
    try:
        ids = store_sweep(con, row, args.positions, results, args.max_new_tokens, args.temperature,
                          args.seed, model_id, revision, backend=args.steer_base_url)
        if args.judge:
            from extract.judge import judge_generations

            judge_generations(con, ids, args.judge, trait, args.base_url, args.api_key_env,
                              _trait_rubrics(args, rubrics, trait))
    finally:
        con.close()
    print(f"extract steer: {steering_label(row)} layer {row['layer']}: {len(results)} generations "
          f"({len(coeffs)} coeffs x {len(scenarios)} scenarios)", file=sys.stderr)
    return 0


def _remote_sweep(args, row: dict, coeffs, scenarios) -> list[dict]:
    from extract.progress import Progress
    from extract.remote_steer import remote_sweep
    from extract.store import steering_label

    if not args.model:
        raise UserError("--steer-base-url: pass --model, the model name the steering server serves")
    with Progress("extract steer", total=len(coeffs) * len(scenarios), unit="generation") as progress:
        return remote_sweep(args.steer_base_url, args.steer_api_key_env, args.model, steering_label(row),
                            row["vector"], row["layer"], coeffs, args.positions, scenarios, args.max_new_tokens,
                            args.temperature, args.seed, args.steer_vector_path, progress.update)


def _rubrics(args) -> dict:
    from extract.rubric import AXBENCH_CRITERIA, DEFAULT_CRITERIA, load_rubrics

    return load_rubrics(args.rubric, DEFAULT_CRITERIA + (AXBENCH_CRITERIA if args.axbench else ()))


def _trait_rubrics(args, rubrics: dict, trait: dict) -> dict:
    """A cell from a persona_vectors trait file is judged by that file's eval_prompt, unless --rubric."""
    from extract.rubric import eval_prompt_rubric

    if args.rubric or not trait.get("eval_prompt"):
        return rubrics
    return {**rubrics, "trait": eval_prompt_rubric(trait["eval_prompt"], trait["eval_prompt_of"])}


# ---- judge --------------------------------------------------------------------------

def cmd_judge(args) -> int:
    from extract.judge import judge_generations

    rubrics = _rubrics(args)
    if args.measurement and args.vector:
        raise UserError("--vector: judges an imported vector's sweeps; --measurement judges pairs (give one)")
    if args.measurement:
        return _judge_pairs(args, rubrics)
    if not (args.cell or args.vector):
        raise UserError("extract judge: name what to judge: --cell ID or --vector TRAIT (sweeps), "
                        "or --measurement ID (pairs)")
    db = db_path(args.db)
    con = connect(db, read_only=True)
    try:
        label = f"trait:{args.vector}" if args.vector else args.cell
        sweeps = con.execute(
            "select vector_id, list(generation_id order by generation_id) from raw.steering_generations "
            "where cell_id = ? and (?::integer is null or layer = ?) group by vector_id order by vector_id",
            [label, args.layer, args.layer]).fetchall() if _has_sweeps(con) else []
        if not sweeps:
            at = f" at layer {args.layer}" if args.layer is not None else ""
            raise UserError(f"--{'vector' if args.vector else 'cell'} {args.vector or args.cell}: no stored "
                            f"sweep generations{at}; run `psw extract steer` first")
        traits = [(ids, _trait_description(con, _sweep_vector(con, vector_id))) for vector_id, ids in sweeps]
    finally:
        con.close()
    con = connect(db)
    try:
        added = sum(judge_generations(con, ids, args.judge, trait, args.base_url, args.api_key_env,
                                      _trait_rubrics(args, rubrics, trait)) for ids, trait in traits)
    finally:
        con.close()
    n = sum(len(ids) for ids, _ in traits)
    print(f"extract judge: {label}: {n} generations, {added} new judgments", file=sys.stderr)
    return 0


def _judge_pairs(args, rubrics: dict) -> int:
    from extract.pair_judge import judge_measurement

    n, added = judge_measurement(db_path(args.db), args.measurement, args.cell, args.judge, args.base_url,
                                 args.api_key_env, rubrics)
    print(f"extract judge: measurement {args.measurement}: {n} pairs, {added} new judgments "
          "(`psw build` for pair_response_scores)", file=sys.stderr)
    return 0


def _has_sweeps(con) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                            "and table_name = 'steering_generations'").fetchone()[0])


def _sweep_vector(con, vector_id: str) -> dict:
    """The stored vector a sweep used, as `_trait_description` reads it (cell, or imported trait)."""
    row = con.execute("select cell_id, null as trait from raw.activation_vectors where vector_id = ? "
                      "union all select null, trait from raw.imported_vectors where vector_id = ?",
                      [vector_id, vector_id]).fetchone()
    if row is None:
        raise UserError(f"vector {vector_id}: its sweeps have no stored vector to judge against")
    return {"cell_id": row[0], "trait": row[1]}


def _trait_description(con, vector_row: dict) -> dict:
    if vector_row["cell_id"] is None:  # an imported vector: its trait name is all there is
        trait = vector_row["trait"]
        return {"pos": f"strongly shows the trait '{trait}'", "neg": f"shows none of the trait '{trait}'"}
    cell_id = vector_row["cell_id"]
    row = con.execute("select any_value(pos_persona), any_value(neg_persona), any_value(persona_pair_id) "
                      "from main.examples where cell_id = ?", [cell_id]).fetchone()
    if not row or row[0] is None:
        raise UserError(f"--judge: cell {cell_id} has no personas in `examples` to judge against")
    return {"pos": row[0], "neg": row[1], **trait_eval_prompt(con, row[2])}


def trait_eval_prompt(con, persona_pair_id: str) -> dict:
    """{eval_prompt, eval_prompt_of} when the persona pair came from a persona_vectors trait file."""
    row = con.execute("select eval_prompt, trait, defined_at from staging.stg_raw__persona_pairs "
                      "where persona_pair_id = ? and eval_prompt is not null", [persona_pair_id]).fetchone()
    return {"eval_prompt": row[0], "eval_prompt_of": f"{row[2]} (trait {row[1]})"} if row else {}


# ---- project ------------------------------------------------------------------------

def cmd_project(args) -> int:
    from extract.progress import Progress
    from extract.project import project_vector
    from extract.store import vectors_to_project

    db = db_path(args.db)
    con = connect(db, read_only=True)
    try:
        rows = _imported_vector(con, args, args.layer) if args.vector else vectors_to_project(con, args.cell, args.layer)
    finally:
        con.close()
    if not rows:
        raise UserError("extract project: no stored response_mean vectors match; run `psw extract vectors`")
    added = 0
    loaded: dict = {}
    with Progress("extract project", unit="response") as progress:
        for row in rows:
            key = (args.model or row["model_id"], None if args.model else row["model_revision"])
            if key not in loaded:
                loaded.clear()  # one model in memory at a time
                loaded[key] = _model_for_vector(args, row)
            model, tokenizer, _ = loaded[key]
            con = connect(db)
            try:
                added += project_vector(con, model, tokenizer, row, _vector_tensor(row), args.all_cells,
                                        args.batch_size, progress, cell_id=args.cell if args.vector else None)
            finally:
                con.close()
    print(f"extract project: {len(rows)} vectors, {added} new projections", file=sys.stderr)
    return 0

