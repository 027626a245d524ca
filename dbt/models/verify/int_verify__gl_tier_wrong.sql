-- GL_TIER_WRONG: an active 高龄津贴 register row whose tier or monthly standard does not
-- match the person's age on the 1st of the month (no tier at all below 80). Grain person
-- x month range; amount_at_risk = (register standard - age standard, 0 below 80) summed
-- over the range. Read against age only: hukou and death have rules of their own.
with register as (
    select elderly.*, {{ record_identity('xref') }} as identity
    from {{ ref('int_entitlement__register_months') }} as elderly
    {{ join_person_key('elderly', 'elderly_allowance', 'person', 'xref') }}
    where elderly.feed_id = 'elderly_allowance' and elderly.is_active
        and elderly.person_key is not null
),

persons as (
    select person_key, birth_date from {{ ref('int_entitlement__persons') }}
    where birth_date is not null
),

policy as (
    select * from {{ ref('policy_standards') }} where program_code = 'GL'
),

aged as (
    select
        register.*,
        {{ month_start('register.month') }} as month_start,
        year(month_start) - year(persons.birth_date)
        - case when month(persons.birth_date) > month(month_start)
            or (month(persons.birth_date) = month(month_start) and day(persons.birth_date) > 1)
            then 1 else 0 end as age_on_first
    from register
    inner join persons on persons.person_key = register.person_key
),

wanted as (
    select
        aged.*,
        case when age_on_first >= 100 then '100岁以上'
            when age_on_first >= 90 then '90-99岁'
            when age_on_first >= 80 then '80-89岁' end as due_tier,
        policy.monthly_standard as due_standard
    from aged
    left join policy
        on policy.standard_key = case when age_on_first >= 100 then '100岁以上'
            when age_on_first >= 90 then '90-99岁'
            when age_on_first >= 80 then '80-89岁' end
        and aged.month_start >= policy.valid_from
        and aged.month_start <= coalesce(policy.valid_to, date '9999-12-31')
),

per_month as (
    select
        person_key,
        month,
        max(register_standard) - coalesce(max(due_standard), 0) as difference,
        {{ ordered_list(struct_of(
            'feed', "'elderly_allowance'", 'delivery', '_delivery_id',
            'file', '_source_file', 'row', '_source_row',
            'values', struct_of(
                'month', 'month', 'tier', 'register_key',
                'monthly_standard', 'register_standard::string', 'age', 'age_on_first::string',
                'due_tier', 'due_tier', 'due_standard', 'due_standard::string'
            ),
            'identity', 'identity'
        ), ['_delivery_id', '_source_file', '_source_row']) }} as rows
    from wanted
    where due_tier is null
        or register_key is distinct from due_tier
        or register_standard is distinct from due_standard
    group by person_key, month
),

islands as (
    select
        *,
        {{ month_index('month') }}
        - row_number() over (partition by person_key order by month) as island
    from per_month
),

final as (
    select
        'GL_TIER_WRONG' as rule_code,
        person_key,
        null::string as org_uscc,
        'GL' as program_code,
        'elderly_allowance' as feed_id,
        null::string as attribute,
        min(month) as period_start,
        max(month) as period_end,
        sum(difference)::decimal(18, 2) as amount_at_risk,
        {{ json_text(struct_of('months', 'flatten(' ~ ordered_list('rows', ['month']) ~ ')')) }}
            as evidence,
        person_key || '|' || min(month) as grain_key,
        null::string as division_code
    from islands
    group by person_key, island
)

select * from final
