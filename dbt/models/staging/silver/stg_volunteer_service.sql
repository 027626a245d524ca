-- 志愿服务记录 (volunteer_service): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'volunteer_service') }}
),

renamed as (
    select
        record_no,
        volunteer_no,
        id_number,
        id_number_status,
        name,
        name_note,
        org_uscc,
        org_uscc_status,
        project_name,
        service_category,
        service_date,
        hours,
        service_division_code,
        service_division_code_delivered,
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
