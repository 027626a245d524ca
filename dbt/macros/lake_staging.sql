{#- Silver staging copies only what changed (DuckDB).

    Silver keeps every delivered row: each monthly hukou snapshot adds a city's worth of
    rows, so copying all of silver into staging on every build cost more each month
    (1,000,000 persons: 1.9 s for stg_hukou_population after one month, 3.4 s after two).
    On DuckDB the silver staging models are incremental (dbt_project.yml): a build copies
    the deliveries whose rows in the lake differ from the staged ones, and removes the
    staged deliveries the lake no longer holds.

    A delivery's fingerprint is its row count and the names of the lake's Parquet files
    holding its rows (the source views expose each row's file as _lake_file,
    civlake.transform.delta_source). Delta never rewrites a file in place: a crash
    repair, a re-clean or an OPTIMIZE writes new files, so any change to a delivery's
    rows changes its fingerprint, and a delivery that only shares a rewritten file is
    copied again, never missed. Staging keeps each row's file name (_lake_file), so the
    staged side of the comparison is what staging actually holds.

    Spark builds the staging models as tables (no incremental there): these macros
    render nothing, and _lake_file is NULL. -#}

{% macro silver_changes(feed_id) -%}
    {{ return(adapter.dispatch('silver_changes', 'civlake')(feed_id)) }}
{%- endmacro %}

{% macro default__silver_changes(feed_id) -%}
    {#- A staging table built before staging kept _lake_file is copied whole, once. -#}
    {%- if is_incremental() and '_lake_file' in (
        adapter.get_columns_in_relation(this) | map(attribute='name') | list) %}
    where _delivery_id in (
        select lake._delivery_id
        from ({{ _delivery_fingerprints(source('silver', feed_id), 'parse_filename(_lake_file)') }}) as lake
        left join ({{ _delivery_fingerprints(this, '_lake_file') }}) as staged
            on staged._delivery_id = lake._delivery_id
        where staged.fingerprint is distinct from lake.fingerprint
    )
    {%- endif %}
{%- endmacro %}

{% macro spark__silver_changes(feed_id) -%}{%- endmacro %}

{% macro _delivery_fingerprints(relation, file) -%}
    select
        _delivery_id,
        count(*) || ':' || md5(string_agg(distinct {{ file }}, '|' order by {{ file }})) as fingerprint
    from {{ relation }}
    group by _delivery_id
{%- endmacro %}

{#- The staged row's lake file (its name, without the lake's path: a home that moves
    keeps its fingerprints). -#}
{% macro staged_lake_file() -%}
    {{ return(adapter.dispatch('staged_lake_file', 'civlake')()) }}
{%- endmacro %}

{% macro default__staged_lake_file() -%}parse_filename(_lake_file) as _lake_file{%- endmacro %}

{% macro spark__staged_lake_file() -%}cast(null as string) as _lake_file{%- endmacro %}

{#- Post-hook of the silver staging models: drop the staged deliveries that silver no
    longer holds (a crash repair removed them). The model's name is stg_<feed>. -#}
{% macro silver_prune() -%}
    {{ return(adapter.dispatch('silver_prune', 'civlake')()) }}
{%- endmacro %}

{% macro default__silver_prune() -%}
    {%- set feed_id = this.identifier[4:] -%}
    delete from {{ this }} as staged
    where not exists (
        select 1 from {{ source('silver', feed_id) }} as lake
        where lake._delivery_id = staged._delivery_id
    )
{%- endmacro %}

{% macro spark__silver_prune() -%}{%- endmacro %}
