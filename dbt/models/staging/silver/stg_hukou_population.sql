-- 公安户籍人口 (hukou_population): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'hukou_population') }}
),

renamed as (
    select
        {{ silver_columns('hukou_population') }}
    from source
)

select * from renamed
