-- verify.finding_review_deliveries: every returned worklist (delivery of finding_reviews)
-- accounted for. rows_reviewed + rows_not_reviewed are its silver rows (a worklist row
-- left without 核查结论 is loaded, and counted here as not reviewed, not quarantined);
-- the quarantined rows (bad decision, unknown finding, another district's finding) are
-- in the lake's quarantine table and counted in rows_quarantined of the ingest audit.
with source as (
    select * from {{ ref('stg_finding_reviews') }}
),

audit as (
    select delivery_id, source_unit, rows_declared, rows_quarantined
    from {{ ref('stg_ingest_audit') }}
    where feed_id = 'finding_reviews' and status = 'loaded'
),

counted as (
    select
        _delivery_id as delivery_id,
        cast(sum(case when decision is not null then 1 else 0 end) as bigint) as rows_reviewed,
        cast(sum(case when decision is null then 1 else 0 end) as bigint) as rows_not_reviewed
    from source
    group by _delivery_id
),

final as (
    select
        audit.delivery_id,
        audit.source_unit,
        cast(audit.rows_declared as bigint) as rows_declared,
        coalesce(counted.rows_reviewed, cast(0 as bigint)) as rows_reviewed,
        coalesce(counted.rows_not_reviewed, cast(0 as bigint)) as rows_not_reviewed,
        cast(audit.rows_quarantined as bigint) as rows_quarantined
    from audit
    left join counted on counted.delivery_id = audit.delivery_id
)

select * from final
