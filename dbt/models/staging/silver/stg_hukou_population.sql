-- 公安户籍人口 (hukou_population): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'hukou_population') }}
),

renamed as (
    select
        id_number,
        id_number_status,
        name,
        name_note,
        former_name,
        former_name_note,
        sex,
        ethnicity,
        birth_date,
        hukou_division_code,
        hukou_division_code_delivered,
        address,
        household_no,
        relation_to_head,
        person_status,
        status_changed_on,
        phone,
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
