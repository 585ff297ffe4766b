-- One row per persona pair (measured or only a candidate): its best template and proof grade.
-- Control cells (no persona text) count as measured cells but are never the best template.
with candidates as (
    select * from {{ ref('stg_raw__persona_pairs') }}
),

cells as (
    select * from {{ ref('template_pair_scores') }}
    where protocol is distinct from 'anchored'  -- the guide's scores only: never mixed with the anchored protocol's
),

measured as (
    select
        persona_pair_id,
        any_value(pos_persona) as measured_pos_persona,
        any_value(neg_persona) as measured_neg_persona,
        count(*) as n_cells,
        count(distinct measurement_id) as n_measurements,
        sum(n_success)::bigint as n_pairs_judged,
        avg(score) filter (where not is_control) as mean_score,
        max(score) filter (where not is_control) as best_score,
        count(*) filter (where is_control) as n_control_cells,
        {%- for column in ['template_id', 'template_text', 'cell_id', 'score_vs_control'] %}
        arg_max_null({{ column }}, (coalesce(score, -1), cell_id)) filter (where not is_control) as best_{{ column }},
        {%- endfor %}
        count(*) filter (where recommended) as n_recommended,
    from cells
    group by persona_pair_id
),

final as (
    select
        coalesce(candidates.persona_pair_id, measured.persona_pair_id) as persona_pair_id,
        coalesce(candidates.pos_persona, measured.measured_pos_persona) as pos_persona,
        coalesce(candidates.neg_persona, measured.measured_neg_persona) as neg_persona,
        coalesce(candidates.neg_persona, measured.measured_neg_persona)
            || '->' || coalesce(candidates.pos_persona, measured.measured_pos_persona) as axis,
        candidates.positive_behavior,
        candidates.negative_behavior,
        candidates.source_id,
        coalesce(measured.n_cells, 0) as n_cells,
        coalesce(measured.n_measurements, 0) as n_measurements,
        coalesce(measured.n_pairs_judged, 0) as n_pairs_judged,
        measured.mean_score,
        measured.best_score,
        measured.best_template_id,
        measured.best_template_text,
        measured.best_cell_id,
        measured.best_score_vs_control,
        coalesce(measured.n_control_cells, 0) as n_control_cells,
        coalesce(measured.n_recommended, 0) as n_recommended,
        case
            when measured.n_recommended > 0 then 'pilot_recommended'
            when measured.n_cells > 0 then 'pilot_measured_not_promoted'
            else 'candidate_unmeasured'
        end as proof_grade,
    from candidates
    full outer join measured using (persona_pair_id)
)

select * from final
