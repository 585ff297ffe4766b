{#- Incremental by template: the model matrix (template_model_scores, template_pair_model_scores).

    A row of either mart reads its template's matrix cells only (matrix_cells: our cells of every
    measurement that named a generator, and the published cells of generators we hold no pairs for),
    so a template whose cells are as they were keeps its rows. Each row stores `cells_version`, a digest
    of every matrix cell of its template (template_cells_version). A later build first deletes the rows
    whose template's digest is no longer the current one (a run added or forgotten, a published file
    loaded, a cell recomputed with other values or vars) or whose template has no cell left, then
    computes the templates that have no row (templates_to_build). Adding a 64-pair run to a 1M-pair
    warehouse whose runs name their generator rebuilt both marts whole: ~1.8 + 0.9 s of SQL over 250k
    cells, each build; now ~0.2 s each (that build 6.61 -> 5.07 s, bench/bench_ab.py --add-run-only
    --run-metadata, medians of 5, 2026-12-05).
    A first build, `psw build --full-refresh`, or a table that lacks a column the model's yml documents
    (one built before the digest existed, or before a release added a column) computes every template.
    After editing the SQL of such a model otherwise (a changed formula, no new column), build with
    --full-refresh, as for the models incremental by measurement (macros/incremental.sql). -#}

{% macro incremental_by_template() -%}
    {{ config(materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
              pre_hook=["{% if is_incremental() %}{{ psw_delete_outdated_templates() }}{% endif %}"],
              post_hook=["{{ psw_enforce_guarantees(after_cleanup=true) }}"]) }}
{%- endmacro %}

{#- The digest of a template's matrix cells, an aggregate over rows of matrix_cells: every column the
    marts read, so a cell that changed in any of them changes its template's digest. A sum of the rows'
    hashes (a HUGEINT: no wrap-around), so the rows' order does not matter and a repeated row counts twice;
    stored as text (an export's parquet and Arrow readers take HUGEINT as a double or a decimal). -#}
{% macro template_cells_version() -%}
    sum(hash(basis, generator_model, template_text, persona_pair_id, n_success, cell_id
        {%- for column, name in model_matrix_metrics() %}, {{ column }}{% endfor %}))::varchar
{%- endmacro %}

{#- A boolean over the matrix cells in `cells`: true for the templates this build computes, those with no
    row left in `this` after the pre-hook's cleanup (psw_delete_outdated_templates); every template on a
    first or full build. -#}
{% macro templates_to_build(cells) -%}
    {%- if psw_stored_table_current('cells_version') -%}
    not exists (select 1 from {{ this }} as kept where kept.template_id is not distinct from {{ cells }}.template_id)
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook: delete the rows of every template whose stored digest is not its digest now (a template with
    no cell now has none); every row when the table predates a documented column. The ephemeral models the
    matrix reads (int_published_cells) are the model's CTEs, which a hook's SQL lacks: written here first. -#}
{% macro psw_delete_outdated_templates() -%}
    {%- if psw_stored_table_current('cells_version') -%}
    delete from {{ this }} where template_id in (
        with {% for cte in model.get('extra_ctes', []) %}{{ cte.sql }},
        {% endfor -%}
        now as (
            select template_id, {{ template_cells_version() }} as cells_version
            from ({{ matrix_cells() }}) as cells group by template_id
        )
        select kept.template_id from {{ this }} as kept
        left join now on now.template_id = kept.template_id and now.cells_version = kept.cells_version
        where now.template_id is null)
    {%- else -%}
    delete from {{ this }}
    {%- endif -%}
{%- endmacro %}
