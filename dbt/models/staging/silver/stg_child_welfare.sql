-- 儿童福利对象名册 (child_welfare): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'child_welfare') }}
    {{ silver_changes('child_welfare') }}
),

renamed as (
    select
        {{ silver_columns('child_welfare') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
