"""Queries of the steered-texts view and of the Steering page's coherent-trait and drift charts:
marts only (steered_outputs, steering_summary), SQL in, DataFrame out, through queries.query
(read-only attach, cached per warehouse version)."""

from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.queries import existing_marts, query

DRIFT_MEASURES = [  # steering_summary column -> label in the drift chart
    ("mean_words_delta_vs_baseline", "words"),
    ("mean_tokens_delta_vs_baseline", "tokens"),
    ("mean_words_per_sentence_delta_vs_baseline", "words per sentence"),
    ("mean_exclamations_per_100_words_delta_vs_baseline", "! per 100 words"),
    ("mean_questions_per_100_words_delta_vs_baseline", "? per 100 words"),
    ("mean_first_person_per_100_words_delta_vs_baseline", "first person per 100 words"),
    ("mean_list_lines_delta_vs_baseline", "list lines"),
    ("mean_repeated_token_frac_delta_vs_baseline", "repeated-token share"),
]


def has_steered_outputs() -> bool:
    if "steered_outputs" not in existing_marts():
        return False
    return bool(query("select count(*) as n from steered_outputs")["n"].iloc[0])


def steered_sources() -> pd.DataFrame:
    """Cells (and `trait:<name>` imported vectors) with steered texts, best cell score first."""
    scores = "template_pair_scores" in existing_marts()
    join = ("left join template_pair_scores as cells using (cell_id)" if scores else
            "left join (select null::varchar as cell_id, null::varchar as template_text, "
            "null::varchar as persona_pair_id, null::double as score) as cells using (cell_id)")
    return query(f"""
        select outputs.cell_id, any_value(cells.template_text) as template_text,
            any_value(cells.persona_pair_id) as persona_pair_id, any_value(cells.score) as score,
            count(*) as n_generations,
        from steered_outputs as outputs
        {join}
        group by outputs.cell_id
        order by score desc nulls last, outputs.cell_id""")


def steered_settings(cell_id: str) -> pd.DataFrame:
    """The sweeps of one cell: a row per layer x positions x vector, newest vector first."""
    return query("""
        select layer, positions, vector_id, any_value(model_id) as model_id, count(*) as n_generations,
            max(created_at) as last_generated_at,
        from steered_outputs where cell_id = ?
        group by layer, positions, vector_id
        order by layer, positions, last_generated_at desc, vector_id""", (cell_id,))


def steered_texts(vector_id: str, positions: str) -> pd.DataFrame:
    """Per scenario x coefficient the newest generation of that sweep: text, scores, words."""
    return query("""
        select scenario_id, scenario_text, coeff, response_text, trait_score, coherence_score, is_coherent,
            n_words, n_tokens, words_delta_vs_baseline, generation_id,
        from steered_outputs
        where vector_id = ? and positions = ?
        qualify row_number() over (partition by scenario_id, scenario_text, coeff
                                   order by created_at desc, generation_id) = 1
        order by scenario_id nulls last, scenario_text, coeff""", (vector_id, positions))


def coherent_trait_and_drift(cell_id: str) -> pd.DataFrame | None:
    """steering_summary's coherent-only trait mean and drift columns per layer x positions x coeff;
    None when the mart was built before these columns existed."""
    drift = ", ".join(column for column, _ in DRIFT_MEASURES)
    try:
        return _coherent_trait_and_drift(cell_id, drift)
    except duckdb.BinderException:
        return None


def _coherent_trait_and_drift(cell_id: str, drift: str) -> pd.DataFrame:
    return query(f"""
        select layer, positions, coeff, n_generations, n_coherent, coherent_rate, mean_trait_score,
            mean_trait_score_coherent, n_with_baseline, {drift},
        from steering_summary where cell_id = ?
        order by layer, positions, coeff""", (cell_id,))
