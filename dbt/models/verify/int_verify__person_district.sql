-- The district (区县, 12-digit code) whose staff work a person's findings: the hukou
-- district, else the latest assistance or child-welfare register district, else the
-- district of the paying unit.
with persons as (
    select person_key, hukou_division_code from {{ ref('int_entitlement__persons') }}
),

registers as (
    select member_key as person_key, division_code, month
    from {{ ref('int_entitlement__assistance_months') }}
    union all
    select person_key, division_code, month
    from {{ ref('int_entitlement__register_months') }}
    union all
    select person_key, payer_division, pay_month
    from {{ ref('int_entitlement__payments') }}
),

latest_register as (
    select person_key, division_code
    from registers
    where person_key is not null and division_code is not null
    qualify row_number() over (partition by person_key order by month desc) = 1
),

final as (
    select
        coalesce(persons.person_key, latest_register.person_key) as person_key,
        {{ district_of('coalesce(persons.hukou_division_code, latest_register.division_code)') }}
            as district_code
    from persons
    full outer join latest_register on latest_register.person_key = persons.person_key
)

select * from final
