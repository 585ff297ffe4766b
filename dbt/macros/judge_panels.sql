{#- The judge panels are data: the seed judge_dimensions (panel, name, description) lists the
    style dimensions ('style') and off-axis categories ('off_axis'); warehouse/judge_schema.py
    reads the same file. Models that name a column per dimension read the seed's rows when they
    are built (at parse time the list is empty), so a team edits the seed, never the SQL.
    Judged pairs keep every dimension their judges rated (in maps); exported records are read
    for the seed's dimensions. -#}
{% macro judge_panels() -%}
    {#- the ref declares the dependency (the seed loads first); a unit test reads the seed as it is -#}
    {%- if model.resource_type != 'unit_test' -%}{%- set seed = ref('judge_dimensions') -%}{%- endif -%}
    {%- set panels = {'style': [], 'off_axis': []} -%}
    {%- if not execute -%}{{ return(panels) }}{%- endif -%}
    {#- the seed's table (a unit test's context has no graph: seeds load into the target schema) -#}
    {%- set node = (graph.get('nodes') or {}).get('seed.' ~ project_name ~ '.judge_dimensions') -%}
    {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)
        if node else api.Relation.create(database=target.database, schema=target.schema, identifier='judge_dimensions') -%}
    {%- set found = run_query("select panel, name from " ~ relation ~ " order by rowid") -%}
    {%- for row in found.rows -%}
        {%- do panels.setdefault(row[0], []).append(row[1]) -%}
    {%- endfor -%}
    {{ return(panels) }}
{%- endmacro %}

{#- The names of one panel ('style' or 'off_axis'), in the seed's order. -#}
{% macro judge_panel(panel) -%}
    {{ return(judge_panels()[panel]) }}
{%- endmacro %}

{#- A list of Jinja strings as a SQL varchar[] literal. -#}
{% macro sql_text_list(values) -%}
    [{%- for value in values %}'{{ value | replace("'", "''") }}'{{ ', ' if not loop.last }}{%- endfor %}]::varchar[]
{%- endmacro %}

{#- Column comments for the columns a mart names per panel entry (persist_docs covers the yml's
    columns; these come from the seed, so they are described from the seed too). Used as a
    post-hook: `psw docs`, the dashboard's tooltips and any SQL client then see them. -#}
{% macro comment_panel_columns() -%}
    {%- if not execute -%}{{ return('select 1') }}{%- endif -%}
    {%- set node = graph.get('nodes', {}).get('seed.' ~ project_name ~ '.judge_dimensions') -%}
    {%- set seed = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- set rows = run_query("select panel, name, description from " ~ seed ~ " order by rowid").rows -%}
    {%- set stored = psw_stored_comments(this).columns -%}  {#- a comment that already reads so is not set again -#}
    {%- set statements = [] -%}
    {%- for panel, name, description in rows -%}
        {%- set column = 'mean_off_axis_' ~ name if panel == 'off_axis' else 'mean_style_delta_' ~ name ~ '_pos_minus_neg' -%}
        {%- set text = ('Mean off-axis Likert (1-7) the confound judge gave category ' if panel == 'off_axis'
                        else 'Mean style delta (pos - neg, -6..6) of dimension ') ~ name ~ ': ' ~ description -%}
        {%- if column in stored and stored[column] != text -%}
            {%- do statements.append("comment on column " ~ this ~ '."' ~ column ~ '" is \'' ~ (text | replace("'", "''")) ~ "'") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return((statements | join(';\n')) if statements else 'select 1') }}
{%- endmacro %}
