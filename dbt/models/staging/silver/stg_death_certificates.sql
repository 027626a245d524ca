-- 医学死亡证明 (death_certificates): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'death_certificates') }}
),

renamed as (
    select
        cert_no,
        id_number,
        id_number_status,
        name,
        name_note,
        sex,
        death_date,
        death_place_type,
        issuer_code,
        issued_at,
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
