-- 资金发放事实: the latest line of each payment_id (a resent line with a new status
-- supersedes the earlier one), with the payee's person key.
with payments as (
    select * from {{ ref('stg_benefit_payments') }}
),

latest as (
    select *
    from payments
    qualify row_number() over (partition by payment_id order by {{ latest_first() }}) = 1
),

final as (
    select
        latest.payment_id,
        payee.person_key,
        latest.program_code,
        latest.pay_month,
        latest.amount,
        latest.status as payment_status,
        -- A returned payment went back from the bank: it was not received.
        latest.status = 'success' as is_paid,
        latest.paid_at,
        -- When the line in force arrived: a payment returned after a finding counted it is
        -- money recovered (int_verify__payments_stopped).
        latest._ingested_at as ingested_at,
        latest.payer_division as payer_division_code,
        {{ district_of('latest.payer_division') }} as payer_district_code,
        latest._delivery_id,
        latest._source_row
    from latest
    {{ join_person_key('latest', 'benefit_payments', 'payee', 'payee') }}
)

select * from final
