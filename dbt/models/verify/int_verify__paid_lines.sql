-- Paid payments with their evidence record (feed, delivery, file, row, values), the
-- shape every payment-based rule puts into findings.evidence.
select
    payment_id,
    pay_month,
    program_code,
    amount,
    person_key,
    payer_division,
    {{ struct_of(
        'feed', "'benefit_payments'",
        'delivery', '_delivery_id',
        'file', '_source_file',
        'row', '_source_row',
        'values', struct_of(
            'payment_id', 'payment_id',
            'pay_month', 'pay_month',
            'program_code', 'program_code',
            'amount', 'amount::string',
            'status', 'status',
            'paid_at', tstz_text('paid_at')
        )
    ) }} as evidence_row
from {{ ref('int_entitlement__payments') }}
where is_paid and person_key is not null
