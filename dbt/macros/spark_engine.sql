{#- The Spark engine's edges (target type spark, civlake.transform.run_dbt sets it up).

    Sources: on Spark a lake table is read by path, delta.`<lake>/<lake_table>`, so nothing has
    to be registered in the session catalog for the lake; an absent lake table is the
    empty temporary view run_dbt created with the lake's schema (the same tolerance as
    on DuckDB, jobs/civlake/transform/delta_source.py). builtins.source is
    always called first, so lineage (the DAG, docs, freshness) is dbt's own. -#}
{% macro source(source_name, table_name) %}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- if target.type != 'spark' or not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set node = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name) | first -%}
    {%- set lake_table = node.meta.get('lake_table') -%}
    {%- if lake_table and lake_table in var('absent_lake_tables', []) -%}
        {{ return(civlake_absent_view(lake_table)) }}
    {%- endif -%}
    {#- The lake's location is read here, when the node runs: read while parsing, it would
        make the parsed project differ from one home to the next (parse_cache.py). -#}
    {{ return('delta.`' ~ env_var('CIVLAKE_LAKE') ~ '/' ~ lake_table ~ '`') }}
{% endmacro %}

{#- Name of the empty stand-in view of an absent lake table (mirrored in
    civlake.transform.spark_target.absent_view_name). -#}
{% macro civlake_absent_view(lake_table) -%}
    {{ return('civlake_absent__' ~ lake_table | replace('/', '__')) }}
{%- endmacro %}

{#- Every model and seed lives at <CIVLAKE_SPARK_WAREHOUSE>/<schema>/<name>: the session
    catalog is in memory, so a later process finds the tables again by this layout
    (civlake.transform.spark_target.register_tables), whatever folder declared the schema. -#}
{% macro spark__location_clause() %}
    {%- set root = env_var('CIVLAKE_SPARK_WAREHOUSE', '') -%}
    {%- if root %}
    location '{{ root }}/{{ model["schema"] }}/{{ model["alias"] }}'
    {%- endif %}
{%- endmacro %}

{#- Seeds on Spark: dbt-spark drops the old catalog entry and runs `create table ...`, but
    our tables are external (a fixed location), so the old Delta data stays, the new
    table adopts it and the insert doubles the rows on every rerun. `create or replace`
    replaces the data at the location (schema included) when the catalog entry is kept
    (run_dbt registers every table on disk first), so it is not dropped here. -#}
{% macro spark__reset_csv_table(model, full_refresh, old_relation, agate_table) %}
    {{ return(create_csv_table(model, agate_table)) }}
{% endmacro %}

{% macro spark__create_csv_table(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
  {% set sql %}
    create or replace table {{ this.render() }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = column_override.get(col_name, inferred_type) -%}
            {%- set column_name = (col_name | string) -%}
            {{ adapter.quote_seed_column(column_name, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ clustered_cols(label="clustered by") }}
    {{ location_clause() }}
    {{ comment_clause() }}
  {% endset %}
  {% call statement('_') -%}
    {{ sql }}
  {%- endcall %}
  {{ return(sql) }}
{% endmacro %}
