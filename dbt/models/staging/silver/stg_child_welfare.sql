-- 儿童福利对象名册 (child_welfare): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'child_welfare') }}
),

renamed as (
    select
        child_id_number,
        child_id_number_status,
        child_name,
        child_name_note,
        sex,
        birth_date,
        child_category,
        placement,
        guardian_id_number,
        guardian_id_number_status,
        guardian_name,
        guardian_name_note,
        guardian_relation,
        division_code,
        division_code_delivered,
        monthly_allowance,
        recognized_on,
        status,
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
