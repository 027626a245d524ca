-- 社会救助统计 (open aggregate). Suppression happens in the publish job, not here:
-- this model keeps true counts so the job can choose complementary cells.
with low_income as (
    select * from {{ ref('mart_low_income') }}
),

final as (
    select
        month,
        division_code,
        division_name,
        assistance_type,
        cast(households as bigint) as households,
        cast(persons as bigint) as persons,
        cast(amount as double) as amount_yuan
    from low_income
    where division_code is not null
)

select * from final
