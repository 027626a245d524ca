{#- Staging copies only what changed in the lake (DuckDB).

    Silver keeps every delivered row: each monthly hukou snapshot adds a city's worth of
    rows, so copying all of silver into staging on every build cost more each month
    (1,000,000 persons: 1.9 s for stg_hukou_population after one month, 3.4 s after two).
    The dedupe gate's person xref grows the same way: the streamed resolver appends each
    run's new references (a snapshot row is one) and leaves the files of the earlier ones
    as they were. On DuckDB these staging models are incremental (dbt_project.yml, and
    stg_person_source_xref's config): a build copies the rows of the lake files it has not
    staged yet, and drops the staged rows of files the lake no longer holds.

    The unit is the lake's Parquet file: the source views expose each row's file as
    _lake_file (civlake.transform.delta_source), and staging keeps its name. Delta never
    rewrites a file in place: a crash repair, a re-clean, a re-resolution or an OPTIMIZE
    removes files and adds new ones, so every changed row is in a file staging has not
    seen, and a row in a file staging has seen is staged as it is in the lake. The new
    files are named in the query (DuckDB then reads no other file); the removed ones
    are found from the lake's file names alone, without reading rows.

    Spark builds the staging models as tables (no incremental there): these macros
    render nothing, and _lake_file is NULL. -#}

{#- The model's filter on lake relation `lake` (a source with _lake_file): the rows of
    the files not staged yet. A staging table built before staging kept _lake_file gets
    every row (its old rows are dropped by staged_prune). -#}
{% macro staged_changes(lake) -%}
    {{ return(adapter.dispatch('staged_changes', 'civlake')(lake)) }}
{%- endmacro %}

{% macro default__staged_changes(lake) -%}
    {%- if execute and is_incremental() and '_lake_file' in (
        adapter.get_columns_in_relation(this) | map(attribute='name') | list) %}
        {%- set staged = run_query(
            'select distinct _lake_file from ' ~ this ~ ' where _lake_file is not null'
        ).columns[0].values() | list %}
        {%- if staged %}
    where parse_filename(_lake_file) not in (
        {%- for name in staged %}'{{ name | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor -%}
    )
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{% macro spark__staged_changes(lake) -%}{%- endmacro %}

{#- Post-hook: drop the staged rows of files lake relation `lake` no longer holds (and
    those staged before staging kept _lake_file). -#}
{% macro staged_prune(lake) -%}
    {{ return(adapter.dispatch('staged_prune', 'civlake')(lake)) }}
{%- endmacro %}

{% macro default__staged_prune(lake) -%}
    delete from {{ this }}
    where _lake_file is null
        or _lake_file not in (select distinct parse_filename(_lake_file) from {{ lake }})
{%- endmacro %}

{% macro spark__staged_prune(lake) -%}{%- endmacro %}

{#- The silver staging models (stg_<feed_id>). -#}
{% macro silver_changes(feed_id) -%}{{ staged_changes(source('silver', feed_id)) }}{%- endmacro %}

{% macro silver_prune() -%}{{ staged_prune(source('silver', this.identifier[4:])) }}{%- endmacro %}

{#- The staged row's lake file (its name, without the lake's path: a home that moves
    keeps its staged rows). -#}
{% macro staged_lake_file() -%}
    {{ return(adapter.dispatch('staged_lake_file', 'civlake')()) }}
{%- endmacro %}

{% macro default__staged_lake_file() -%}parse_filename(_lake_file) as _lake_file{%- endmacro %}

{% macro spark__staged_lake_file() -%}cast(null as string) as _lake_file{%- endmacro %}
