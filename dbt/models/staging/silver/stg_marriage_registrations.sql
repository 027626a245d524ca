-- 婚姻登记 (marriage_registrations): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'marriage_registrations') }}
    {{ silver_changes('marriage_registrations') }}
),

renamed as (
    select
        {{ silver_columns('marriage_registrations') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
