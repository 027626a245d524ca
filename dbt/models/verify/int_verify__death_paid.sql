-- DEATH_PAID: paid payments for months after the payee's month of death
-- (a payment for the month of death itself is due). Grain person x programme.
with persons as (
    select * from {{ ref('int_entitlement__persons') }}
    where death_month is not null
),

paid as (
    select * from {{ ref('int_verify__paid_lines') }}
),

final as (
    select
        'DEATH_PAID' as rule_code,
        paid.person_key,
        null::string as org_uscc,
        paid.program_code,
        null::string as feed_id,
        null::string as attribute,
        min(paid.pay_month) as period_start,
        max(paid.pay_month) as period_end,
        sum(paid.amount)::decimal(18, 2) as amount_at_risk,
        {{ json_text(struct_of(
            'death_date', 'any_value(persons.death_date)::string',
            'death_month', 'any_value(persons.death_month)',
            'payments', ordered_list('paid.evidence_row', ['paid.pay_month', 'paid.payment_id'])
        )) }} as evidence,
        paid.person_key || '|' || paid.program_code as grain_key,
        null::string as division_code
    from paid
    inner join persons on persons.person_key = paid.person_key
    where paid.pay_month > persons.death_month
    group by paid.person_key, paid.program_code
)

select * from final
