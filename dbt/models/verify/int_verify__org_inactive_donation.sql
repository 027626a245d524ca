-- ORG_INACTIVE_DONATION: donations to an organisation deregistered (注销) or revoked
-- (撤销) at the donation's time, or on the abnormal list in the weekly snapshot that
-- covers the donation. The organisation is found by USCC, or by name when the donated
-- USCC is invalid (SOURCE_FEEDS 2). Grain organisation x month (Beijing time).
with orgs as (
    select * from {{ ref('stg_social_organizations') }}
),

latest_org as (
    select * from orgs
    qualify row_number() over (
        partition by uscc order by _period desc, try_cast(_produced_at as timestamptz) desc
    ) = 1
),

donations as (
    select
        d.*,
        cast(d.donated_at + interval 8 hour as date) as donated_on,
        strftime(d.donated_at + interval 8 hour, '%G-W%V') as donated_week,
        strftime(d.donated_at + interval 8 hour, '%Y-%m') as donated_month,
        coalesce(
            case when d.org_uscc_status in ('valid', 'normalized') then d.org_uscc end,
            (select min(o.uscc) from latest_org as o where o.name = d.org_name)
        ) as resolved_uscc
    from {{ ref('stg_charity_donations') }} as d
),

-- the organisation as the snapshot of the donation's week (else the nearest earlier,
-- else the earliest) shows it; status changes carry their own date
as_of as (
    select
        donations.*,
        snap.abnormal_list as snapshot_abnormal,
        latest_org.status as org_status,
        latest_org.status_date as org_status_date,
        latest_org.registrar as org_registrar,
        latest_org.name as registered_name
    from donations
    inner join latest_org on latest_org.uscc = donations.resolved_uscc
    left join orgs as snap
        on snap.uscc = donations.resolved_uscc
        and snap._period = (
            select coalesce(max(o._period) filter (where o._period <= donations.donated_week), min(o._period))
            from orgs as o where o.uscc = donations.resolved_uscc
        )
),

flagged as (
    select *
    from as_of
    -- a deregistration without a date cannot be placed before the donation
    where (org_status in ('注销', '撤销') and org_status_date <= donated_on)
        or coalesce(snapshot_abnormal, false)
),

final as (
    select
        'ORG_INACTIVE_DONATION' as rule_code,
        null::varchar as person_key,
        resolved_uscc as org_uscc,
        null::varchar as program_code,
        'charity_donations' as feed_id,
        null::varchar as attribute,
        donated_month as period_start,
        donated_month as period_end,
        sum(amount)::decimal(18, 2) as amount_at_risk,
        to_json({
            'organization': {
                'uscc': resolved_uscc, 'name': any_value(registered_name),
                'status': any_value(org_status), 'status_date': any_value(org_status_date)::varchar,
                'abnormal_list': bool_or(coalesce(snapshot_abnormal, false))
            },
            'donations': list({
                'feed': 'charity_donations', 'delivery': _delivery_id, 'file': _source_file,
                'row': _source_row,
                'values': {
                    'donation_no': donation_no, 'amount': amount::varchar,
                    'donated_at': donated_at::varchar, 'org_uscc': org_uscc, 'org_name': org_name
                }
            } order by donated_at)
        })::varchar as evidence,
        resolved_uscc || '|' || donated_month as grain_key,
        {{ district_of('any_value(org_registrar)') }} as division_code
    from flagged
    group by resolved_uscc, donated_month
)

select * from final
