-- 统计用区划代码 (divisions): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'divisions') }}
    {{ silver_changes('divisions') }}
),

renamed as (
    select
        {{ silver_columns('divisions') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
