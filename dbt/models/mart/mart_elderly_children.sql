-- 一老一小主题: 80+ hukou population, 高龄津贴 recipients and coverage; children in
-- the welfare register by category; by district and month.
with hukou as (
    select
        *,
        {{ age_on('birth_date', month_start('month')) }} as age
    from {{ ref('int_hukou__months') }}
    where is_resident
),

allowance as (
    select * from {{ ref('int_elderly_allowance__months') }}
    where is_active
),

children as (
    select * from {{ ref('int_child_welfare__months') }}
    where is_active
),

districts as (
    select * from {{ ref('int_districts') }}
),

population as (
    select
        hukou.district_code,
        hukou.month,
        count(distinct hukou.person_key) filter (where age >= {{ var('elderly_age') }})
            as population_80_plus,
        count(distinct hukou.person_key) filter (where age < {{ var('child_age') }})
            as population_children,
        count(distinct hukou.person_key) filter (
            where age >= {{ var('elderly_age') }} and covered.person_key is not null
        ) as population_80_plus_covered
    from hukou
    left join (select distinct person_key, month from allowance) as covered
        on covered.person_key = hukou.person_key and covered.month = hukou.month
    group by all
),

recipients as (
    select
        district_code,
        month,
        count(*) as allowance_recipients,
        sum(monthly_standard)::decimal(18, 2) as allowance_amount
    from allowance
    group by all
),

child_counts as (
    select
        district_code,
        month,
        count(*) filter (where child_category = '孤儿') as children_orphans,
        count(*) filter (where child_category = '事实无人抚养儿童') as children_de_facto_unattended,
        count(*) filter (where child_category = '困境儿童') as children_in_difficulty,
        count(*) filter (where child_category = '留守儿童') as children_left_behind,
        count(*) filter (where placement = '机构养育') as children_in_institutions
    from children
    group by all
),

spine as (
    select district_code, month from population
    union
    select district_code, month from recipients
    union
    select district_code, month from child_counts
),

final as (
    select
        spine.district_code as division_code,
        districts.division_name,
        spine.month,
        coalesce(population.population_80_plus, 0) as population_80_plus,
        coalesce(recipients.allowance_recipients, 0) as allowance_recipients,
        coalesce(recipients.allowance_amount, 0) as allowance_amount,
        coalesce(population.population_80_plus_covered, 0) as population_80_plus_covered,
        population.population_80_plus_covered / nullif(population.population_80_plus, 0)
            as allowance_coverage_rate,
        coalesce(population.population_children, 0) as population_children,
        coalesce(child_counts.children_orphans, 0) as children_orphans,
        coalesce(child_counts.children_de_facto_unattended, 0) as children_de_facto_unattended,
        coalesce(child_counts.children_in_difficulty, 0) as children_in_difficulty,
        coalesce(child_counts.children_left_behind, 0) as children_left_behind,
        coalesce(child_counts.children_in_institutions, 0) as children_in_institutions
    from spine
    left join population using (district_code, month)
    left join recipients using (district_code, month)
    left join child_counts using (district_code, month)
    left join districts on districts.division_code = spine.district_code
    where spine.district_code is not null
)

select * from final
