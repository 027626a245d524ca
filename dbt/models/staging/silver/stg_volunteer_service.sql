-- 志愿服务记录 (volunteer_service): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'volunteer_service') }}
    {{ silver_changes('volunteer_service') }}
),

renamed as (
    select
        {{ silver_columns('volunteer_service') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
