-- 社会组织登记 (social_organizations): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns).
with source as (
    select * from {{ source('silver', 'social_organizations') }}
    {{ silver_changes('social_organizations') }}
),

renamed as (
    select
        {{ silver_columns('social_organizations') }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
