-- GUARDIAN_DECEASED: a child active in the child-welfare register in the latest month
-- whose guardian died before that month. Grain child.
with latest as (
    select latest_month from {{ ref('int_verify__latest_month') }}
),

children as (
    select
        r.*,
        {{ record_identity('child_xref') }} as identity,
        {{ record_identity('guardian_xref') }} as guardian_identity
    from {{ ref('int_entitlement__register_months') }} as r
    inner join latest on r.month = latest.latest_month
    {{ join_person_key('r', 'child_welfare', 'child', 'child_xref') }}
    {{ join_person_key('r', 'child_welfare', 'guardian', 'guardian_xref') }}
    where r.feed_id = 'child_welfare' and r.is_active
        and r.person_key is not null and r.guardian_key is not null
),

deaths as (
    select person_key, death_date from {{ ref('int_entitlement__persons') }}
    where death_date is not null
),

final as (
    select
        'GUARDIAN_DECEASED' as rule_code,
        children.person_key,
        null::string as org_uscc,
        null::string as program_code,
        'child_welfare' as feed_id,
        null::string as attribute,
        any_value(children.month) as period_start,
        any_value(children.month) as period_end,
        null::decimal(18, 2) as amount_at_risk,
        {{ json_text(struct_of(
            'guardian_death_date', 'min(deaths.death_date)::string',
            'rows', ordered_list(struct_of(
                'feed', "'child_welfare'", 'delivery', 'children._delivery_id',
                'file', 'children._source_file', 'row', 'children._source_row',
                'values', struct_of('month', 'children.month', 'category', 'children.register_key',
                    'guardian_key', 'children.guardian_key'),
                'identity', 'children.identity',
                'guardian_identity', 'children.guardian_identity'
            ), ['children._delivery_id', 'children._source_file', 'children._source_row'])
        )) }} as evidence,
        children.person_key as grain_key,
        {{ district_of('any_value(children.division_code)') }} as division_code
    from children
    inner join deaths on deaths.person_key = children.guardian_key
    where deaths.death_date < {{ month_start('children.month') }}
    group by children.person_key
)

select * from final
