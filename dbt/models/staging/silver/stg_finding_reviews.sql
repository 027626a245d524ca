-- 核查反馈 (finding_reviews): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'finding_reviews') }}
    {{ silver_changes('finding_reviews') }}
),

renamed as (
    select
        {{ silver_columns('finding_reviews') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
