-- Input of the verification service's is_married question (never published as a file).
-- Married (SOURCE_FEEDS.md 5): from a 结婚登记 until a 离婚登记 or 撤销婚姻 of the same
-- couple, or the spouse's death; 补领 registrations change nothing.
with marriages as (
    select * from {{ ref('fct_marriage') }}
),

persons as (
    select person_key, is_alive from {{ ref('dim_person') }}
),

couple_events as (
    select
        male_person_key,
        female_person_key,
        max_by(business_type, registered_on) as last_event
    from marriages
    where business_type in ('结婚登记', '离婚登记', '撤销婚姻')
        and male_person_key is not null
        and female_person_key is not null
    group by male_person_key, female_person_key
),

current_couples as (
    select couple_events.male_person_key, couple_events.female_person_key
    from couple_events
    left join persons as male on male.person_key = couple_events.male_person_key
    left join persons as female on female.person_key = couple_events.female_person_key
    where couple_events.last_event = '结婚登记'
        and coalesce(male.is_alive, true)
        and coalesce(female.is_alive, true)
),

final as (
    select male_person_key as person_key, true as is_married from current_couples
    union
    select female_person_key as person_key, true as is_married from current_couples
)

select * from final
