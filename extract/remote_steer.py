"""Steering sweeps on a server: an OpenAI-compatible chat endpoint that steers each request by a spec
in its body (EasySteer's vLLM server, or any that reads the same fields), so sweeps on large models
run on a GPU server while the warehouse stays here.

Each request is the scenario as one user turn plus `steer_vector_request`:
    {"steer_vector_name": cell or trait, "steer_vector_id": a stable int, "scale": coeff,
     "target_layers": [L], "algorithm": "direct",
     "steer_vector_local_path": a file on the server (e.g. `psw export-vectors --format gguf`) | null,
     "steer_vector": the vector inline, when no path is given,
     "prefill_trigger_tokens": [-1] or [], "generate_trigger_tokens": [-1] or []}
`positions` maps onto the triggers: all = both, prompt = prefill only, response = generated tokens
only (the server steers every generated token; psw's own `response` also steers the last prompt
position). Layer L is ours: the output of model.layers[L]. No local model runs, so a remote
generation has no projection and no residual norm (its coef_rel_norm stays null).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from extract.judge import _client
from extract.steer import Scenario
from warehouse.errors import UserError

TRIGGERS = {"all": ([-1], [-1]), "prompt": ([-1], []), "response": ([], [-1])}


def steer_spec(name: str, vector: Sequence[float], layer: int, coeff: float, positions: str,
               vector_path: str | None) -> dict:
    prefill, generate = TRIGGERS[positions]
    spec = {"steer_vector_name": name, "steer_vector_id": _stable_id(name, layer), "scale": float(coeff),
            "target_layers": [layer], "algorithm": "direct", "prefill_trigger_tokens": prefill,
            "generate_trigger_tokens": generate, "steer_vector_local_path": vector_path}
    if vector_path is None:
        spec["steer_vector"] = [float(x) for x in vector]
    return spec


def _stable_id(name: str, layer: int) -> int:
    import hashlib

    return int(hashlib.md5(f"{name}|{layer}".encode()).hexdigest()[:7], 16) + 1  # > 0, as servers want


def remote_sweep(base_url: str, api_key_env: str, model: str, name: str, vector: Sequence[float], layer: int,
                 coeffs: Sequence[float], positions: str, scenarios: Sequence[Scenario], max_new_tokens: int,
                 temperature: float, seed: int, vector_path: str | None = None,
                 progress: Callable[[int], None] | None = None, client_factory=_client) -> list[dict]:
    """One generation per coefficient x scenario, as `extract.steer.sweep` returns them (no projection).
    Any failed request stops the sweep with one line; nothing is returned half done."""
    vector_norm = sum(float(x) ** 2 for x in vector) ** 0.5
    jobs = [(coeff, scenario) for coeff in coeffs for scenario in scenarios]

    async def run_all():
        client = client_factory(base_url, api_key_env, {}, None)
        try:
            async def one(coeff, scenario):
                params = {"max_tokens": max_new_tokens, "temperature": temperature, "seed": seed,
                          "steer_vector_request": steer_spec(name, vector, layer, coeff, positions, vector_path)}
                result = await client.chat(model, [{"role": "user", "content": scenario.text}], params)
                if progress:
                    progress(1)
                return result

            return await asyncio.gather(*(one(coeff, scenario) for coeff, scenario in jobs))
        finally:
            await client.aclose()

    results = asyncio.run(run_all())
    out = []
    for (coeff, scenario), result in zip(jobs, results):
        if result.error or result.content is None:
            raise UserError(f"--steer-base-url {base_url}: coeff {coeff:g}, scenario "
                            f"{scenario.scenario_id or scenario.text[:40]!r}: {result.error or 'no content'}; "
                            "nothing stored")
        out.append({"coeff": float(coeff), "scenario": scenario, "text": result.content,
                    "n_tokens": result.completion_tokens, "projection": None, "vector_norm": vector_norm,
                    "residual_norm": None})
    return out
