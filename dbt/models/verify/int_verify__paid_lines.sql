-- Paid payments with their evidence record (feed, delivery, file, row, values, and the
-- identity that tied the line to its payee), the shape every payment-based rule puts
-- into findings.evidence.
with payments as (
    select * from {{ ref('int_entitlement__payments') }}
    where is_paid and person_key is not null
),

final as (
    select
        payments.payment_id,
        payments.pay_month,
        payments.program_code,
        payments.amount,
        payments.person_key,
        payments.payer_division,
        {{ struct_of(
            'feed', "'benefit_payments'",
            'delivery', 'payments._delivery_id',
            'file', 'payments._source_file',
            'row', 'payments._source_row',
            'values', struct_of(
                'payment_id', 'payments.payment_id',
                'pay_month', 'payments.pay_month',
                'program_code', 'payments.program_code',
                'amount', 'payments.amount::string',
                'status', 'payments.status',
                'paid_at', tstz_text('payments.paid_at')
            ),
            'identity', record_identity('payee')
        ) }} as evidence_row
    from payments
    {{ join_person_key('payments', 'benefit_payments', 'payee', 'payee') }}
)

select * from final
