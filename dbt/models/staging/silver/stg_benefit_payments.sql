-- 民政资金发放明细 (benefit_payments): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'benefit_payments') }}
    {{ silver_changes('benefit_payments') }}
),

renamed as (
    select
        {{ silver_columns('benefit_payments') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
