-- 高龄津贴名册 (elderly_allowance): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'elderly_allowance') }}
    {{ silver_changes('elderly_allowance') }}
),

renamed as (
    select
        {{ silver_columns('elderly_allowance') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
