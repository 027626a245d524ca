-- 社会组织登记 (social_organizations): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'social_organizations') }}
),

renamed as (
    select
        uscc,
        uscc_status,
        name,
        org_type,
        registrar,
        registrar_delivered,
        founded_on,
        registered_capital,
        legal_rep_name,
        legal_rep_name_note,
        supervisor_unit,
        address,
        status,
        status_date,
        last_inspection_year,
        last_inspection_result,
        abnormal_list,
        is_charity,
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
