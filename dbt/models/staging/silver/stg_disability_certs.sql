-- 残疾人证 (disability_certs): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'disability_certs') }}
    {{ silver_changes('disability_certs') }}
),

renamed as (
    select
        {{ silver_columns('disability_certs') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
