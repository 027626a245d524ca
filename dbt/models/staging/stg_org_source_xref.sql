-- 组织来源对照 (core/org_source_xref, dedupe gate). Columns passed through as written
-- while the gate settles them.
with source as (
    select * from {{ source('gate', 'org_source_xref') }}
)

select * from source
