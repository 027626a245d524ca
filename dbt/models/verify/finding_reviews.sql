-- verify.finding_reviews (核查反馈): the caseworkers' decisions, one row per reviewed row
-- of a returned worklist or an API review (feed finding_reviews). A worklist row left
-- without 核查结论 is not a review and is not here (finding_review_deliveries counts it).
-- review_status is the lifecycle status a decision leads to (finding_status applies it):
-- 属实 confirmed, 不属实 dismissed, 已整改 resolved, 无法核实 open (stays on the list).
with source as (
    select * from {{ ref('stg_finding_reviews') }}
),

final as (
    select
        source._delivery_id || '/' || source._source_file || '#'
        || cast(source._source_row as string) as review_id,
        source.finding_id,
        source.decision,
        case source.decision
            when '属实' then 'confirmed'
            when '不属实' then 'dismissed'
            when '已整改' then 'resolved'
            else 'open'
        end as review_status,
        source.note,
        source.reviewer,
        source.reviewed_on,
        source._source_unit as source_unit,
        source._delivery_id as delivery_id,
        source._source_file as source_file,
        source._source_row as source_row,
        source._produced_at as produced_at
    from source
    where source.decision is not null
)

select * from final
