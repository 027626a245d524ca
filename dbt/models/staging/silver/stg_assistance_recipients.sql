-- 社会救助对象名册 (assistance_recipients): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'assistance_recipients') }}
),

renamed as (
    select
        family_no,
        division_code,
        division_code_delivered,
        assistance_type,
        head_id_number,
        head_id_number_status,
        head_name,
        head_name_note,
        member_id_number,
        member_id_number_status,
        member_name,
        member_name_note,
        relation_to_head,
        household_size,
        covered_persons,
        monthly_amount,
        approved_on,
        status,
        stopped_on,
        handler,
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
