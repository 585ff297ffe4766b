-- One row per pair x stored cell vector (cell x layer x token reduction x extraction run): where
-- each completion projects on its cell's vector, beside the judges' label. A pair is a positive
-- example when the judges say so (axis_delta > 0): its positive completion should project higher.
-- The cell vector is the mean of its pairs' differences, this pair included, so the check uses the
-- vector held out of the pair (the mean of the other pairs' differences), recovered from scalars:
--   d.m = cosine * |d| * |m|;  held-out margin = (n d.m - |d|^2) / sqrt(n^2 |m|^2 - 2 n d.m + |d|^2).
with pair_stats as (
    select * from {{ ref('stg_activation__pair_stats') }}
),

vectors as (
    select vector_id, n_pairs as vector_n_pairs, vector_norm, from {{ ref('stg_activation__vectors') }}
),

runs as (
    select run_id, model_id, from {{ ref('stg_activation__runs') }}
),

effective as (
    select pair_id, is_effective_pair, from {{ ref('pair_response_scores') }}
),

judged as (
    select pair_id, measurement_id, axis_delta, is_strict_pass, is_error,
    from {{ ref('int_pairs_scored') }}
),

held_out as (
    select
        pair_stats.*,
        vectors.vector_n_pairs,
        pair_stats.cosine_to_cell * pair_stats.diff_norm * vectors.vector_norm as dot_with_cell,
        case when vectors.vector_n_pairs >= 2 then
            (vectors.vector_n_pairs * dot_with_cell - pair_stats.diff_norm ^ 2)
            / nullif(sqrt(greatest(0.0, vectors.vector_n_pairs ^ 2 * vectors.vector_norm ^ 2
                - 2 * vectors.vector_n_pairs * dot_with_cell + pair_stats.diff_norm ^ 2)), 0)
        end as heldout_margin,
    from pair_stats
    inner join vectors using (vector_id)
),

labelled as (
    select
        held_out.*,
        judged.measurement_id,
        judged.axis_delta,
        judged.is_strict_pass,
        case when not coalesce(judged.is_error, true) then sign(judged.axis_delta) end as judge_sign,
        heldout_margin / nullif(diff_norm, 0) as heldout_cosine,
        -- a tie (axis_delta = 0) says nothing about direction: no agreement to measure; nor does a
        -- one-pair vector (its in-sample cosine is 1 by construction)
        nullif(judge_sign, 0) * heldout_cosine as agreement_cosine,
    from held_out
    left join judged using (pair_id)
),

final as (
    select
        -- ids
        labelled.stat_id as screening_id,
        labelled.vector_id,
        labelled.run_id,
        labelled.pair_id,
        labelled.cell_id,
        labelled.measurement_id,
        runs.model_id,
        -- where
        labelled.layer,
        labelled.reduction,
        -- the activations
        labelled.pos_projection,
        labelled.neg_projection,
        labelled.projection_delta,
        labelled.pos_heldout_projection,
        labelled.neg_heldout_projection,
        labelled.diff_norm,
        labelled.cosine_to_cell,
        labelled.cosine_to_others_mean,
        labelled.cosine_sq_to_others_mean,
        labelled.vector_n_pairs,
        labelled.heldout_margin,
        labelled.heldout_cosine,
        -- the judges
        labelled.axis_delta,
        labelled.is_strict_pass,
        case labelled.judge_sign when 1 then 'positive' when -1 then 'negative' when 0 then 'tie' end
            as judge_label,
        -- agreement
        labelled.agreement_cosine,
        case
            when labelled.agreement_cosine < 0 then 'projects_against_judges'
            when labelled.agreement_cosine < {{ var('screening_min_margin_cosine') }} then 'low_margin'
        end as screening_flag,
        coalesce(labelled.agreement_cosine < {{ var('screening_min_margin_cosine') }}, false) as is_flagged,
        -- persona_vectors' effective-pair rule on the pair's own judged completions (null: not judged)
        effective.is_effective_pair,
    from labelled
    inner join runs using (run_id)
    left join effective using (pair_id)
)

select * from final
