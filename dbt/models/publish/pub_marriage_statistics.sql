-- 婚姻登记统计 (open aggregate): the mart's wide columns, one row per business type.
with marriage as (
    select * from {{ ref('mart_marriage') }}
),

long as (
    select month, division_code, division_name, '结婚登记' as business_type,
        marriages as registrations,
        median_age_marriage_male as median_age_male,
        median_age_marriage_female as median_age_female
    from marriage
    union all
    select month, division_code, division_name, '离婚登记',
        divorces, median_age_divorce_male, median_age_divorce_female
    from marriage
    union all
    select month, division_code, division_name, '补领结婚证',
        marriage_certs_reissued, null, null
    from marriage
    union all
    select month, division_code, division_name, '补领离婚证',
        divorce_certs_reissued, null, null
    from marriage
    union all
    select month, division_code, division_name, '撤销婚姻',
        marriages_annulled, null, null
    from marriage
),

final as (
    select
        month,
        division_code,
        division_name,
        business_type,
        cast(registrations as bigint) as registrations,
        cast(median_age_male as double) as median_age_male,
        cast(median_age_female as double) as median_age_female
    from long
    where division_code is not null
)

select * from final
