-- 死亡与火化统计 (open aggregate).
with deaths as (
    select * from {{ ref('mart_deaths') }}
),

final as (
    select
        month,
        division_code,
        division_name,
        cast(deaths as bigint) as deaths,
        cast(cremations as bigint) as cremations
    from deaths
    where division_code is not null and month is not null
)

select * from final
