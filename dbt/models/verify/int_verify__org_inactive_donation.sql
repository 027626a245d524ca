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
        partition by uscc order by _period desc, try_cast(_produced_at as {{ type_tstz() }}) desc
    ) = 1
),

donations as (
    select
        d.*,
        cast(d.donated_at + interval 8 hour as date) as donated_on,
        {{ format_date('d.donated_at + interval 8 hour', '%G-W%V') }} as donated_week,
        {{ format_date('d.donated_at + interval 8 hour', '%Y-%m') }} as donated_month,
        coalesce(
            case when d.org_uscc_status in ('valid', 'normalized') then d.org_uscc end,
            (select min(o.uscc) from latest_org as o where o.name = d.org_name)
        ) as resolved_uscc
    from {{ ref('stg_charity_donations') }} as d
),

-- the snapshot of the donation's week, else the nearest earlier, else the earliest
-- (a join and group by, not a correlated subquery: Spark cannot correlate an aggregate
-- whose filter mixes outer and local columns)
snap_period as (
    select
        d._delivery_id, d._source_file, d._source_row,
        coalesce(max(o._period) filter (where o._period <= d.donated_week), min(o._period))
            as snap_period
    from donations as d
    inner join (select distinct uscc, _period from orgs) as o on o.uscc = d.resolved_uscc
    group by d._delivery_id, d._source_file, d._source_row
),

-- the organisation as that snapshot shows it; status changes carry their own date
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
    left join snap_period
        on snap_period._delivery_id = donations._delivery_id
        and snap_period._source_file = donations._source_file
        and snap_period._source_row = donations._source_row
    left join orgs as snap
        on snap.uscc = donations.resolved_uscc
        and snap._period = snap_period.snap_period
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
        null::string as person_key,
        resolved_uscc as org_uscc,
        null::string as program_code,
        'charity_donations' as feed_id,
        null::string as attribute,
        donated_month as period_start,
        donated_month as period_end,
        sum(amount)::decimal(18, 2) as amount_at_risk,
        {{ json_text(struct_of(
            'organization', struct_of(
                'uscc', 'resolved_uscc', 'name', 'any_value(registered_name)',
                'status', 'any_value(org_status)',
                'status_date', 'any_value(org_status_date)::string',
                'abnormal_list', 'bool_or(coalesce(snapshot_abnormal, false))'
            ),
            'donations', ordered_list(struct_of(
                'feed', "'charity_donations'", 'delivery', '_delivery_id', 'file', '_source_file',
                'row', '_source_row',
                'values', struct_of(
                    'donation_no', 'donation_no', 'amount', 'amount::string',
                    'donated_at', tstz_text('donated_at'), 'org_uscc', 'org_uscc',
                    'org_name', 'org_name'
                )
            ), ['donated_at', 'donation_no', '_delivery_id', '_source_row'])
        )) }} as evidence,
        resolved_uscc || '|' || donated_month as grain_key,
        {{ district_of('any_value(org_registrar)') }} as division_code
    from flagged
    group by resolved_uscc, donated_month
)

select * from final
