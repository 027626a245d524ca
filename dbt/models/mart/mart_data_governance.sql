-- 数据治理主题 (归集率 / 质量): per feed, delivering unit and month: deliveries expected
-- vs received, rows, quarantine rate, freshness and the latest expectation pass rate.
-- A unit is expected from the first month it delivered the feed to the latest month
-- any delivery covers; "now" is the latest ingestion, not the wall clock, so a rebuild
-- of the same lake gives the same mart.
with audit as (
    select
        *,
        {{ period_month('period') }} as month,
        rpad(source_unit, 12, '0') as division_code
    from {{ ref('stg_ingest_audit') }}
),

feeds as (
    select *, split_part(modes, '/', 1) as primary_mode from {{ ref('int_feed_cadence') }}
),

districts as (
    select * from {{ ref('int_districts') }}
),

units as (
    select feed_id, division_code, min(month) as first_month
    from audit
    where month is not null
    group by all
),

months as (
    select {{ format_date('m', '%Y-%m') }} as month, m as month_start
    from (
        select (select min(first_month) from units) as lo, (select max(month) from audit) as hi
    ) as bounds
    {{ date_series(month_start('lo'), month_start('hi'), '1 month', 't', 'm') }}
),

spine as (
    select
        units.feed_id,
        units.division_code,
        months.month,
        case when feeds.on_demand then 0 else case feeds.cadence
            when 'monthly' then 1
            when 'yearly' then case when months.month like '%-01' then 1 else 0 end
            when 'daily' then dayofmonth(last_day(months.month_start))
            -- ISO weeks are assigned to the month of their Thursday.
            when 'weekly' then {{ thursdays_in_month('months.month_start') }}
        end end::bigint as deliveries_expected,
        feeds.primary_mode
    from units
    inner join months on months.month >= units.first_month
    inner join feeds on feeds.feed_id = units.feed_id
),

received as (
    select
        audit.feed_id,
        audit.division_code,
        audit.month,
        -- A resubmission replaces its period: periods, not folders, are what arrived.
        count(distinct audit.period) filter (
            where audit.status in ('loaded', 'superseded') and audit.mode = feeds.primary_mode
        ) as periods_received,
        count(*) filter (where audit.status in ('loaded', 'superseded')) as deliveries_received,
        count(*) filter (where audit.status = 'rejected') as deliveries_rejected,
        count(*) filter (where audit.status = 'duplicate') as deliveries_duplicate,
        coalesce(sum(audit.rows_declared) filter (where audit.status = 'loaded'), 0)::bigint
            as rows_declared,
        coalesce(sum(audit.rows_silver) filter (where audit.status = 'loaded'), 0)::bigint
            as rows_silver,
        coalesce(sum(audit.rows_quarantined) filter (where audit.status = 'loaded'), 0)::bigint
            as rows_quarantined,
        max(audit.ingested_at) as last_ingested_at,
        max({{ seconds_between('audit.produced_at', 'audit.ingested_at') }}) / 3600.0 as max_ingest_lag_hours
    from audit
    inner join feeds on feeds.feed_id = audit.feed_id
    group by all
),

freshness as (
    select
        feed_id,
        max(ingested_at) as feed_last_ingested_at,
        {{ seconds_between('max(ingested_at)', '(select max(ingested_at) from audit)') }} / 3600.0
            as hours_behind_latest_ingest
    from audit
    where status in ('loaded', 'superseded')
    group by feed_id
),

expectations as (
    select feed_id, avg(cast(is_success as integer)) as expectation_pass_rate
    from (
        select *
        from {{ ref('stg_expectation_results') }}
        -- The latest run of each feed's suites says how good the newest deliveries are:
        -- a run validates only the deliveries since the gate last passed (plus any still
        -- failing), and a run with nothing new writes no row (expectations/results.py).
        qualify run_id = max_by(run_id, checked_at) over (partition by feed_id)
    )
    group by feed_id
),

final as (
    select
        spine.division_code,
        districts.division_name,
        spine.month,
        spine.feed_id,
        feeds.feed_title,
        feeds.cadence,
        spine.deliveries_expected,
        coalesce(received.periods_received, 0) as periods_received,
        least(coalesce(received.periods_received, 0), spine.deliveries_expected)
            / nullif(spine.deliveries_expected, 0) as completeness_rate,
        coalesce(received.deliveries_received, 0) as deliveries_received,
        coalesce(received.deliveries_rejected, 0) as deliveries_rejected,
        coalesce(received.deliveries_duplicate, 0) as deliveries_duplicate,
        coalesce(received.rows_declared, 0) as rows_declared,
        coalesce(received.rows_silver, 0) as rows_silver,
        coalesce(received.rows_quarantined, 0) as rows_quarantined,
        received.rows_quarantined / nullif(received.rows_declared, 0) as quarantine_rate,
        received.last_ingested_at,
        received.max_ingest_lag_hours,
        freshness.feed_last_ingested_at,
        freshness.hours_behind_latest_ingest,
        expectations.expectation_pass_rate
    from spine
    inner join feeds on feeds.feed_id = spine.feed_id
    left join received
        on received.feed_id = spine.feed_id
        and received.division_code = spine.division_code
        and received.month = spine.month
    left join freshness on freshness.feed_id = spine.feed_id
    left join expectations on expectations.feed_id = spine.feed_id
    left join districts on districts.division_code = spine.division_code
)

select * from final
