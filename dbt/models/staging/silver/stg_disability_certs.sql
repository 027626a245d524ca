-- 残疾人证 (disability_certs): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'disability_certs') }}
),

renamed as (
    select
        cert_no,
        id_number,
        id_number_status,
        name,
        name_note,
        sex,
        disability_category,
        disability_grade,
        hukou_division_code,
        hukou_division_code_delivered,
        issued_on,
        valid_until,
        cert_status,
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
