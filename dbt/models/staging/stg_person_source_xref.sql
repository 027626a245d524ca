-- 人员来源对照 (core/person_source_xref, dedupe gate); rename/cast, and the xref key.
-- On DuckDB only the lake's new files are copied (the streamed resolver appends each
-- run's new references in new files: macros/lake_staging.sql).
{{ config(
    materialized=('incremental' if target.type == 'duckdb' else 'table'),
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    post_hook=["{{ staged_prune(source('gate', 'person_source_xref')) }}"],
) }}

with source as (
    select * from {{ source('gate', 'person_source_xref') }}
    {{ staged_changes(source('gate', 'person_source_xref')) }}
),

renamed as (
    select
        feed_id,
        _delivery_id,
        _source_file,
        cast(_source_row as bigint) as _source_row,
        role,
        person_key,
        match_method,
        cast(match_probability as double) as match_probability,
        match_detail,
        id_number,
        {{ staged_lake_file() }}
    from source
),

final as (
    select
        -- core.person_source_xref's key, computed once per staged row
        md5(concat_ws('|', feed_id, _delivery_id, _source_file, _source_row, role)) as xref_key,
        *
    from renamed
)

select * from final
