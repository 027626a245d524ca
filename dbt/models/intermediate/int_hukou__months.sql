-- 户籍人口 by month from the monthly full deliveries (the daily incrementals only
-- refine identity, which is the dedupe gate's job). A person counts in the city's
-- population in a month when their record that month is 正常.
with hukou as (
    select * from {{ ref('stg_hukou_population') }}
    where _mode = 'full'
),

final as (
    select
        p.person_key,
        hukou._period as month,
        hukou.birth_date,
        hukou.sex,
        hukou.person_status,
        hukou.person_status = '正常' as is_resident,
        {{ district_of('hukou.hukou_division_code') }} as district_code
    from hukou
    {{ join_person_key('hukou', 'hukou_population', 'person', 'p') }}
)

select * from final
