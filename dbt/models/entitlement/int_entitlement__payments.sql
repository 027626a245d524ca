-- The current state of every payment: a resent payment_id supersedes its earlier lines
-- (SOURCE_FEEDS 3.4), so only the latest line counts; paid = latest status success
-- (failed and returned lines are not money out of the treasury).
with payments as (
    select * from {{ ref('stg_benefit_payments') }}
    qualify row_number() over (
        partition by payment_id
        order by
            try_cast(_produced_at as {{ type_tstz() }}) desc nulls last,
            paid_at desc nulls last,
            _source_row desc
    ) = 1
),

xref as (
    select * from {{ ref('stg_person_source_xref') }}
    where feed_id = 'benefit_payments' and role = 'payee'
),

final as (
    select
        payments.payment_id,
        payments.pay_month,
        payments.program_code,
        payments.amount,
        payments.status,
        payments.status = 'success' as is_paid,
        payments.paid_at,
        payments.payer_division,
        payments.name,
        xref.person_key,
        payments._delivery_id,
        payments._source_file,
        payments._source_row
    from payments
    left join xref
        on xref._delivery_id = payments._delivery_id
        and xref._source_file = payments._source_file
        and xref._source_row = payments._source_row
)

select * from final
