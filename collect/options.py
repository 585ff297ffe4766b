"""`psw collect`'s options for upstream's newest protocol and its staged screens (issue 27).

Kept apart from psw/commands/collect.py so the command module stays parse -> call -> print.
"""

from __future__ import annotations

from pathlib import Path

from collect import protocol


def add_arguments(p) -> None:
    g = p.add_argument_group("baseline-anchored protocol (collect/README.md, \"The anchored protocol\")")
    g.add_argument("--protocol", choices=protocol.PROTOCOLS, default="v3",
                   help="v3: the axis judges compare the two poles (default); anchored: each pole is compared "
                   "with a no-persona baseline answer, generated once per scenario, in both orders")
    g.add_argument("--axis-judge-method", choices=protocol.METHODS, default="json",
                   help="anchored: json (a JSON rating 1.0-5.0; default) or bounded_thinking (N samples under "
                   "a token budget, each committing to `SCORE: -5..+5`)")
    g.add_argument("--axis-judge-n", type=int, default=protocol.DEFAULT_N,
                   help=f"bounded_thinking: samples per judge call (default {protocol.DEFAULT_N})")
    g.add_argument("--axis-judge-budget", type=int, default=protocol.DEFAULT_BUDGET,
                   help=f"bounded_thinking: max_tokens of the thinking phase (default {protocol.DEFAULT_BUDGET})")
    g.add_argument("--exclude-confound-dims", action="append", default=[], metavar="DIM[,DIM]",
                   help="anchored: off-axis categories the gate leaves out (recorded for dbt's gate; repeatable "
                   "or comma-separated), e.g. honesty_truthfulness for an honesty axis")
    for name, default in protocol.THRESHOLDS.items():
        g.add_argument("--" + name.replace("_", "-"), type=float, default=default,
                       help=f"anchored: recorded with the measurement for dbt's strict pass (default {default})")
    g.add_argument("--generator-provider-only", action="append", default=[], metavar="PROVIDER",
                   help="OpenRouter: send generator calls to these providers only (no fallbacks)")
    g.add_argument("--artifact-out", type=Path, metavar="FILE",
                   help="anchored: also write the run as upstream's artifact JSON (validate_persona_axes.py's "
                   "shape: results[] with axis_judgments, the baseline, thresholds), for upstream's tools")
    s = p.add_argument_group("staged screens from an upstream axis config")
    s.add_argument("--config", type=Path, metavar="FILE",
                   help="upstream's data/axes/<id>/config.yaml: pair, models, judge method, N, budget, "
                   "exclude_confound_dims, stage_a / stage_b (templates, families, n_per_source or n)")
    s.add_argument("--stage", choices=("a", "b"),
                   help="with --config: a screens the stage's templates on a per-source sample; b measures "
                   "stage a's winner (from the warehouse, after `psw build`) over the stage's pool")


def provider_only(args) -> list[str]:
    return sorted({p.strip() for item in getattr(args, "generator_provider_only", []) or []
                   for p in str(item).split(",") if p.strip()})


def protocol_params(args) -> dict:
    """What the measurement records of the protocol and the staged screen (raw.measurements.params)."""
    params = {}
    if args.protocol == "anchored":
        from collect import anchored  # the run's code (httpx, jinja2): only when a run starts
        params.update(anchored.params(args), generator_provider_only=provider_only(args))
    staged = getattr(args, "config_params", None)
    if staged:
        families = staged["families"]
        params.update(staged=staged, n_per_source=getattr(args, "n_per_source", None),
                      scenario_families={key: families[i] for i, keys in
                                         enumerate(getattr(args, "family_keys", None) or []) for key in keys})
    return params
