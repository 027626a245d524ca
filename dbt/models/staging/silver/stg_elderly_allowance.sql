-- 高龄津贴名册 (elderly_allowance): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'elderly_allowance') }}
),

renamed as (
    select
        id_number,
        id_number_status,
        name,
        name_note,
        sex,
        birth_date,
        hukou_division_code,
        hukou_division_code_delivered,
        tier,
        monthly_standard,
        start_month,
        status,
        end_reason,
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
