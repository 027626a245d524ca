-- 组织黄金记录 (core/organizations, dedupe gate). The gate is still settling its
-- columns, so every column is passed through as written.
with source as (
    select * from {{ source('gate', 'organizations') }}
)

select * from source
