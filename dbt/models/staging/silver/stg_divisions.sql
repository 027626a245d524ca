-- 统计用区划代码 (divisions): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'divisions') }}
),

renamed as (
    select
        division_code,
        name,
        level,
        parent_code,
        urban_rural_code,
        valid_from,
        valid_to,
        successor_code,
        _delivery_id,
        _source_file,
        _source_row,
        _source_unit,
        _period,
        _mode,
        _produced_at,
        _ingested_at,
        _row_hash
    from source
)

select * from renamed
