-- 婚姻登记主题: registrations by type and median age at marriage and divorce, by the
-- registrar's district and month.
with registrations as (
    select * from {{ ref('fct_marriage') }}
),

districts as (
    select * from {{ ref('int_districts') }}
),

counts as (
    select
        district_code,
        month,
        count(*) filter (where business_type = '结婚登记') as marriages,
        count(*) filter (where business_type = '离婚登记') as divorces,
        count(*) filter (where business_type = '补领结婚证') as marriage_certs_reissued,
        count(*) filter (where business_type = '补领离婚证') as divorce_certs_reissued,
        count(*) filter (where business_type = '撤销婚姻') as marriages_annulled,
        median(male_age) filter (where business_type = '结婚登记') as median_age_marriage_male,
        median(female_age) filter (where business_type = '结婚登记')
            as median_age_marriage_female,
        median(male_age) filter (where business_type = '离婚登记') as median_age_divorce_male,
        median(female_age) filter (where business_type = '离婚登记')
            as median_age_divorce_female
    from registrations
    where district_code is not null
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
