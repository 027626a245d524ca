-- 慈善捐赠明细 (charity_donations): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'charity_donations') }}
    {{ silver_changes('charity_donations') }}
),

renamed as (
    select
        {{ silver_columns('charity_donations') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
