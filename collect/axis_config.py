"""Upstream's axis config (`data/axes/<id>/config.yaml`, read by its `scripts/run_axis.py`) as
`psw collect` settings, and the staged screen it describes.

    axis_id: truth_over_approval
    pair: data/personas/persona_pairs_truth_over_approval.jsonl
    generator_model: qwen/qwen3-14b          generator_provider_only: DeepInfra
    judge_model: google/gemini-3.1-flash-lite-preview      (the style and confound judge)
    axis_judge_models: [qwen/qwen3-14b]      axis_judge_method: bounded_thinking
    axis_judge_n: 2                          axis_judge_budget: 4096
    seed: 13                                 concurrency: 8
    exclude_confound_dims: [honesty_truthfulness, praise_flattery, sycophancy]
    stage_a: {templates: FILE, n_per_source: 1, families: [FILE, ...]}
    stage_b: {templates: FILE, n: 40 (or n_per_source), families: [FILE, ...]}

Stage A screens the stage's templates on `n_per_source` scenarios from each family (or `n`
pooled), sampled as upstream does. Stage B measures stage A's winner, read from the warehouse
(the `stage_screens` mart's winner of the stage A measurement, ranked by strict_pass_rate
then mean_axis_delta, as upstream's parse_stage_a.py ranks), over the stage's pool; stage B's own
`templates` file (upstream's hand-picked winner) is not read. Relative paths are found from
the current folder, else from the config's folder or the folders above it. The YAML is read
as plain data (warehouse/safe_yaml.py); a bad field is one line naming it.
"""

from __future__ import annotations

import random
from pathlib import Path

import yaml

from warehouse import safe_yaml
from warehouse.errors import UserError

REQUIRED = {"pair": str, "generator_model": str, "judge_model": str, "axis_judge_models": list}
OPTIONAL = {"axis_id": str, "generator_provider_only": str, "axis_judge_method": str, "axis_judge_n": int,
            "axis_judge_budget": int, "seed": int, "concurrency": int, "exclude_confound_dims": list,
            "stage_a": dict, "stage_b": dict,
            "protocol": str}   # ours: upstream's configs are all anchored
STAGE_KEYS = {"templates": str, "families": list, "n_per_source": int, "n": int}
CONTROL = ""


def read(path: Path) -> dict:
    """The config as a checked dict; UserError naming the field (file: field: reason)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--config {path}: cannot read ({exc.strerror})") from None
    try:
        cfg = safe_yaml.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}{line}: not valid YAML ({reason})") from None
    if not isinstance(cfg, dict):
        raise UserError(f"{path}: an axis config is a YAML mapping (pair, generator_model, ..., stage_a, stage_b)")
    for key in cfg:
        if key not in REQUIRED and key not in OPTIONAL:
            raise UserError(f"{path}: field {key}: not an axis config field "
                            f"(known: {', '.join([*REQUIRED, *OPTIONAL])})")
    for key, kind in REQUIRED.items():
        if key not in cfg:
            raise UserError(f"{path}: field {key}: required")
    for key, kind in {**REQUIRED, **OPTIONAL}.items():
        if key in cfg and cfg[key] is not None:
            _typed(path, key, cfg[key], kind)
    for key in ("axis_judge_models", "exclude_confound_dims"):
        if any(not isinstance(v, str) or not v.strip() for v in cfg.get(key) or []):
            raise UserError(f"{path}: field {key}: expected a list of non-empty strings")
    if not cfg["axis_judge_models"]:
        raise UserError(f"{path}: field axis_judge_models: at least one judge")
    for stage in ("stage_a", "stage_b"):
        if cfg.get(stage) is not None:
            _stage(path, stage, cfg[stage])
    return cfg


def _typed(path: Path, key: str, value, kind) -> None:
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        names = {str: "a string", int: "an integer", list: "a list", dict: "a mapping"}
        raise UserError(f"{path}: field {key}: expected {names[kind]}, got {value!r:.60}")


def _stage(path: Path, stage: str, body: dict) -> None:
    for key in body:
        if key not in STAGE_KEYS:
            raise UserError(f"{path}: field {stage}.{key}: not a stage field (known: {', '.join(STAGE_KEYS)})")
        _typed(path, f"{stage}.{key}", body[key], STAGE_KEYS[key])
    if not body.get("families"):
        raise UserError(f"{path}: field {stage}.families: required (a list of scenario files)")
    if any(not isinstance(f, str) or not f.strip() for f in body["families"]):
        raise UserError(f"{path}: field {stage}.families: expected a list of file paths")
    if ("n_per_source" in body) == ("n" in body):
        raise UserError(f"{path}: field {stage}: give exactly one of n_per_source and n")
    size = body.get("n_per_source", body.get("n"))
    if size < 1:
        raise UserError(f"{path}: field {stage}.{'n_per_source' if 'n_per_source' in body else 'n'}: "
                        f"must be at least 1")
    if stage == "stage_a" and not body.get("templates"):
        raise UserError(f"{path}: field {stage}.templates: required (the templates to screen)")


def find(path: Path, value: str, field: str) -> Path:
    """A file the config names: as given, else beside the config or in a folder above it."""
    given = Path(value)
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, *(d / given for d in
                                                                            [path.parent, *path.parent.parents])]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise UserError(f"{path}: field {field}: {value}: no such file (looked from the current folder and "
                    f"from {path.parent} upwards)")


def apply(args) -> None:
    """Fill the collect arguments from --config and --stage (flags given on the command line for
    what the config also sets are refused: one source for each setting)."""
    if args.config is None:
        if args.stage is not None:
            raise UserError("--stage: only with --config")
        return
    if args.stage is None:
        raise UserError("--config: give --stage a or --stage b")
    for flag, name in (("--pairs", "pairs"), ("--templates", "templates"), ("--scenarios", "scenarios"),
                       ("--generator", "generator"), ("--judge", "judge")):
        if getattr(args, name):
            raise UserError(f"{flag}: the config sets it; leave it out with --config")
    path = args.config
    cfg = read(path)
    stage = cfg.get(f"stage_{args.stage}")
    if stage is None:
        raise UserError(f"{path}: field stage_{args.stage}: required for --stage {args.stage}")
    args.pairs = find(path, cfg["pair"], "pair")
    args.generator = [cfg["generator_model"]]
    args.judge = list(cfg["axis_judge_models"])
    args.style_judge = cfg["judge_model"]
    args.protocol = cfg.get("protocol") or "anchored"
    args.axis_judge_method = cfg.get("axis_judge_method") or "json"
    if args.axis_judge_method not in ("json", "bounded_thinking"):
        raise UserError(f"{path}: field axis_judge_method: {args.axis_judge_method!r} is not json or bounded_thinking")
    if args.protocol not in ("v3", "anchored"):
        raise UserError(f"{path}: field protocol: {args.protocol!r} is not v3 or anchored")
    for key in ("axis_judge_n", "axis_judge_budget", "seed", "concurrency"):
        if cfg.get(key) is not None:
            setattr(args, key, cfg[key])
    if args.protocol == "anchored":   # the gate's exclusions belong to the anchored protocol
        args.exclude_confound_dims = list(cfg.get("exclude_confound_dims") or [])
    if cfg.get("generator_provider_only"):
        args.generator_provider_only = [cfg["generator_provider_only"]]
    families = [find(path, f, f"stage_{args.stage}.families[{i}]") for i, f in enumerate(stage["families"])]
    args.scenarios = families
    args.n_per_source = stage.get("n_per_source")
    args.n = stage.get("n", 0)
    axis_id = cfg.get("axis_id") or path.parent.name
    if args.measurement is None:
        args.measurement = f"{axis_id}-stage-{args.stage}"
    args.stage_a_measurement = f"{axis_id}-stage-a/{cfg['generator_model']}"
    args.config_params = {"config": str(path), "stage": args.stage, "axis_id": axis_id,
                          "families": [str(f) for f in stage["families"]]}
    if args.stage == "a":
        args.templates = find(path, stage["templates"], "stage_a.templates")
    else:
        args.templates = None   # the winner, chosen once the candidates are loaded (winner())


def stratified_rows(scenarios: list, family_keys: list[list[str]], n_per_source: int, seed: int):
    """(row, scenario) as upstream's _select_rows(n_per_source=...): one RNG; each family shuffled
    and its first n kept; the kept rows shuffled; row = 1-based place in that order."""
    by_id = {s.id: s for s in scenarios}
    rng = random.Random(seed)
    picked = []
    for keys in family_keys:
        family = [by_id[k] for k in keys if k in by_id]
        rng.shuffle(family)
        if len(family) < n_per_source:
            raise UserError(f"n_per_source {n_per_source}: a family has only {len(family)} scenarios")
        picked.extend(family[:n_per_source])
    rng.shuffle(picked)
    return list(enumerate(picked, 1))


WINNER_SQL = """
select template_text, strict_pass_rate, mean_axis_delta
from main.stage_screens
where measurement_id = ? and is_stage_winner
"""


def winner(con, measurement_id: str) -> tuple[str, float | None, float | None]:
    """Stage A's winning template: the `stage_screens` mart's winner of the stage A measurement
    (upstream's parse_stage_a.py ranking, strict_pass_rate then mean_axis_delta, owned by the mart's
    SQL; export-selection --stage-a reads the same row)."""
    have = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                      "where table_schema = 'main'").fetchall()}
    if "stage_screens" not in have:
        raise UserError("--stage b: no stage_screens in this warehouse; run stage a, then `psw build`")
    row = con.execute(WINNER_SQL, [measurement_id]).fetchone()
    if row is None:
        raise UserError(f"--stage b: no scored cells of stage a's measurement {measurement_id} in "
                        f"stage_screens; run --stage a, then `psw build`")
    return row


def choose_winner(args, path: Path) -> str:
    """Stage b's template (args.template_texts), from the warehouse; returns the line to show."""
    from warehouse.db import connect
    if not path.exists():
        raise UserError(f"{path}: no warehouse; run --stage a, then `psw build`")
    with connect(path, read_only=True) as con:
        text, rate, delta = winner(con, args.stage_a_measurement)
    args.template_texts = [text]
    note = "" if rate else " (no template passed strict: the best by mean_axis_delta, reported, not relaxed)"
    return (f"stage b: stage a's winner from stage_screens of {args.stage_a_measurement}: {text!r} "
            f"(strict_pass_rate {rate}, mean_axis_delta {delta}){note}")
