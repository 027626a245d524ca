-- 火化记录 (cremation_records): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'cremation_records') }}
),

renamed as (
    select
        {{ silver_columns('cremation_records') }}
    from source
)

select * from renamed
