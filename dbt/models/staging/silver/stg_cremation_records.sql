-- 火化记录 (cremation_records): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'cremation_records') }}
    {{ silver_changes('cremation_records') }}
),

renamed as (
    select
        {{ silver_columns('cremation_records') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
