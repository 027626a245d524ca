-- Payments against entitlement, per person x programme x month range (consecutive
-- months; the range's first month is part of the key):
--   PAY_NO_BASIS      paid with nothing due that month, months after death aside
--                     (those are DEATH_PAID); amount = the payments;
--   PAY_AMOUNT_WRONG  paid and due but paid <> due; amount = paid - due (negative when
--                     underpaid). A due month with nothing paid is not this rule.
-- Payments to a person whose ID fits several residents equally (identity_unsure) are
-- not checked: whose entitlement applies is for review to settle.
with persons as (
    select person_key, death_month, identity_unsure
    from {{ ref('int_entitlement__persons') }}
),

fct as (
    select fct.*, persons.death_month
    from {{ ref('fct_entitlement_month') }} as fct
    left join persons on persons.person_key = fct.person_key
    where fct.paid_amount <> 0 and not coalesce(persons.identity_unsure, false)
),

flagged as (
    select
        case when entitled then 'PAY_AMOUNT_WRONG' else 'PAY_NO_BASIS' end as rule_code,
        person_key, program_code, month, due_amount, paid_amount,
        case when entitled then paid_amount - due_amount else paid_amount end as amount
    from fct
    where (not entitled and (death_month is null or month <= death_month))
        or (entitled and paid_amount <> due_amount)
),

with_payments as (
    select
        flagged.*,
        {{ ordered_list('paid.evidence_row', ['paid.payment_id']) }} as payments
    from flagged
    left join {{ ref('int_verify__paid_lines') }} as paid
        on paid.person_key = flagged.person_key
        and paid.program_code = flagged.program_code
        and paid.pay_month = flagged.month
    group by all
),

islands as (
    select
        *,
        {{ month_index('month') }} - row_number() over (
            partition by rule_code, person_key, program_code order by month
        ) as island
    from with_payments
),

final as (
    select
        rule_code,
        person_key,
        null::string as org_uscc,
        program_code,
        null::string as feed_id,
        null::string as attribute,
        min(month) as period_start,
        max(month) as period_end,
        sum(amount)::decimal(18, 2) as amount_at_risk,
        {{ json_text(struct_of(
            'months', ordered_list(struct_of(
                'month', 'month', 'due_amount', 'due_amount::string',
                'paid_amount', 'paid_amount::string'
            ), ['month']),
            'payments', 'flatten(' ~ ordered_list('payments', ['month']) ~ ')'
        )) }} as evidence,
        person_key || '|' || program_code || '|' || min(month) as grain_key,
        null::string as division_code
    from islands
    group by rule_code, person_key, program_code, island
)

select * from final
