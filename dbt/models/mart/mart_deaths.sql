-- 殡葬主题: deaths (by month of death), with certificates and cremations, cremation
-- rate and place of death, by district (hukou, else funeral home's) and month.
with deaths as (
    select * from {{ ref('fct_death') }}
    where death_month is not null and district_code is not null
),

districts as (
    select * from {{ ref('int_districts') }}
),

counts as (
    select
        district_code,
        death_month as month,
        count(*) as deaths,
        count(*) filter (where has_death_certificate) as deaths_with_certificate,
        count(*) filter (where is_cremated) as cremations,
        count(*) filter (where is_cremated) / count(*) as cremation_rate,
        count(*) filter (where death_place_type = 'hospital') as deaths_in_hospital,
        count(*) filter (where death_place_type = 'home') as deaths_at_home
    from deaths
    group by all
),

final as (
    select
        counts.district_code as division_code,
        districts.division_name,
        counts.* {{ star_exclude() }} (district_code)
    from counts
    left join districts on districts.division_code = counts.district_code
)

select * from final
