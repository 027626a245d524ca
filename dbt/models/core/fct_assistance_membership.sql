-- 救助成员月事实: person x household x month from the monthly full rosters, with the
-- continuous active spell (consecutive 在保 months in the same household and type).
with rosters as (
    select * from {{ ref('stg_assistance_recipients') }}
),

members as (
    select
        member.person_key,
        head.person_key as head_person_key,
        rosters.family_no,
        rosters.division_code,
        {{ district_of('rosters.division_code') }} as district_code,
        rosters._period as month,
        rosters.assistance_type,
        rosters.status as assistance_status,
        rosters.status = '在保' as is_active,
        rosters.monthly_amount as household_monthly_amount,
        rosters.household_size,
        rosters.covered_persons,
        rosters.approved_on,
        rosters.stopped_on,
        rosters._delivery_id,
        rosters._source_row,
        rosters._produced_at,
        rosters._ingested_at
    from rosters
    {{ join_person_key('rosters', 'assistance_recipients', 'member', 'member') }}
    {{ join_person_key('rosters', 'assistance_recipients', 'head', 'head') }}
    -- A member the gate could not resolve has no person to hang the fact on.
    where member.person_key is not null
),

-- One line per person, household and month: a row repeated in a roster counts once.
deduped as (
    select *
    from members
    qualify row_number() over (
        partition by person_key, district_code, family_no, month order by {{ latest_first() }}
    ) = 1
),

islands as (
    select
        *,
        {{ month_index('month') }} - row_number() over (
            partition by person_key, district_code, family_no, assistance_type, is_active
            order by month
        ) as island
    from deduped
),

final as (
    select
        md5(concat_ws('|', person_key, district_code, family_no, month)) as membership_key,
        person_key,
        family_no,
        division_code,
        district_code,
        month,
        assistance_type,
        assistance_status,
        is_active,
        person_key = head_person_key as is_head,
        head_person_key,
        household_monthly_amount,
        household_size,
        covered_persons,
        approved_on,
        stopped_on,
        case when is_active then min(month) over spell end as spell_start_month,
        case when is_active then max(month) over spell end as spell_end_month,
        _delivery_id,
        _source_row
    from islands
    window spell as (
        partition by person_key, district_code, family_no, assistance_type, is_active, island
    )
)

select * from final
