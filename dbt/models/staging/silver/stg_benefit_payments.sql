-- 民政资金发放明细 (benefit_payments): silver rows as typed by the clean gate; rename/cast only.
with source as (
    select * from {{ source('silver', 'benefit_payments') }}
),

renamed as (
    select
        payment_id,
        pay_month,
        program_code,
        id_number,
        id_number_status,
        name,
        name_note,
        amount,
        bank_card_tail,
        payer_division,
        payer_division_delivered,
        status,
        paid_at,
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
