-- 隔离区 (quarantine): unusable rows and their reason codes; rename/cast only. The raw
-- row (it may hold IDs and names) stays in the lake: nothing downstream needs it.
with source as (
    select * from {{ source('lake', 'quarantine') }}
),

renamed as (
    select
        feed_id,
        _delivery_id,
        _source_file,
        _source_row,
        reasons,
        detail,
        _ingested_at
    from source
)

select * from renamed
