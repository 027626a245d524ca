-- 火化记录 (cremation_records): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'cremation_records') }}
),

renamed as (
    select
        cremation_no,
        id_number,
        id_number_status,
        name,
        name_note,
        sex,
        death_date,
        cremated_on,
        funeral_home,
        handling_division_code,
        handling_division_code_delivered,
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
