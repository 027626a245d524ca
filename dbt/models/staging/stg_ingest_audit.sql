-- 交付审计 (ingest_audit): one row per delivery; rename/cast only.
with source as (
    select * from {{ source('lake', 'ingest_audit') }}
),

renamed as (
    select
        feed_id,
        delivery_id,
        source_unit,
        source_unit_name,
        period,
        mode,
        -- A rejected manifest may carry an unreadable produced_at: null, not a failed build.
        try_cast(produced_at as {{ type_tstz() }}) as produced_at,
        channel,
        status,
        reject_reason,
        reject_detail,
        rows_declared,
        rows_bronze,
        rows_silver,
        rows_quarantined,
        superseded_by,
        ingested_at,
        cleaned_at,
        ingest_seconds,
        clean_seconds
    from source
)

select * from renamed
