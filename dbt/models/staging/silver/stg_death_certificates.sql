-- 医学死亡证明 (death_certificates): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'death_certificates') }}
    {{ silver_changes('death_certificates') }}
),

renamed as (
    select
        {{ silver_columns('death_certificates') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
