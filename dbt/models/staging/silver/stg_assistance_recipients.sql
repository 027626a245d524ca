-- 社会救助对象名册 (assistance_recipients): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'assistance_recipients') }}
    {{ silver_changes('assistance_recipients') }}
),

renamed as (
    select
        {{ silver_columns('assistance_recipients') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
