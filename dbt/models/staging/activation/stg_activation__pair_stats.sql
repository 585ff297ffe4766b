-- depends_on: {{ ref('stg_activation__vectors') }}  (its guarantees check it: built first, for the post-hook)
with source as (
    {{ activation_source('activation_pair_stats', {
        'stat_id': 'varchar', 'vector_id': 'varchar', 'run_id': 'varchar', 'pair_id': 'varchar',
        'cell_id': 'varchar', 'layer': 'integer', 'reduction': 'varchar', 'diff_norm': 'double',
        'pos_projection': 'double', 'neg_projection': 'double', 'cosine': 'double',
        'n_pos_tokens': 'integer', 'n_neg_tokens': 'integer', 'created_at': 'timestamp',
        'pos_heldout_projection': 'double', 'neg_heldout_projection': 'double',
        'cosine_to_others_mean': 'double', 'cosine_sq_to_others_mean': 'double'}) }}
),

renamed as (
    select
        -- ids
        stat_id,
        vector_id,
        run_id,
        pair_id,
        cell_id,
        layer,
        reduction,
        -- numerics
        diff_norm,
        pos_projection,
        neg_projection,
        pos_projection - neg_projection as projection_delta,
        pos_heldout_projection,
        neg_heldout_projection,
        cosine as cosine_to_cell,
        cosine_to_others_mean,
        cosine_sq_to_others_mean,
        n_pos_tokens,
        n_neg_tokens,
        -- timestamps
        created_at,
    from source
)

select * from renamed
