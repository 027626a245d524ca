-- 慈善捐赠明细 (charity_donations): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'charity_donations') }}
),

renamed as (
    select
        donation_no,
        org_uscc,
        org_uscc_status,
        org_name,
        project_no,
        project_name,
        donor_type,
        donor_name,
        amount,
        donated_at,
        pay_channel,
        receipt_issued,
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
