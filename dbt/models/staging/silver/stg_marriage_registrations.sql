-- 婚姻登记 (marriage_registrations): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'marriage_registrations') }}
),

renamed as (
    select
        cert_no,
        business_type,
        registered_on,
        registrar_code,
        registrar_name,
        male_id_number,
        male_id_number_status,
        male_name,
        male_name_note,
        male_birth_date,
        female_id_number,
        female_id_number_status,
        female_name,
        female_name_note,
        female_birth_date,
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
