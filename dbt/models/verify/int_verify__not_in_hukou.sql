-- NOT_IN_HUKOU: a benefit recipient (payee of a paid payment, or active in the
-- assistance, elderly-allowance or child-welfare register) with no hukou record at all.
-- Grain person; amount_at_risk = all paid payments to them (0 when only registered).
-- A person whose ID fits several residents equally (identity_unsure) is not one.
with persons as (
    select person_key from {{ ref('int_entitlement__persons') }}
    where not in_hukou and not identity_unsure
),

recipients as (
    select person_key, pay_month as month, 'benefit_payments' as feed_id
    from {{ ref('int_verify__paid_lines') }}
    union all
    select member_key, month, 'assistance_recipients'
    from {{ ref('int_entitlement__assistance_months') }}
    where is_active and member_key is not null
    union all
    select person_key, month, feed_id
    from {{ ref('int_entitlement__register_months') }}
    where is_active and feed_id in ('elderly_allowance', 'child_welfare')
),

-- Only the persons above: the payments of everyone else, each payee's evidence rows in a
-- list, are never read (1.7 s at 1,000,000 persons; 0.05 s this way, the same rows).
paid as (
    select person_key, sum(amount) as amount, {{ ordered_list('evidence_row', ['pay_month', 'payment_id']) }} as rows
    from {{ ref('int_verify__paid_lines') }}
    where person_key in (select person_key from persons)
    group by person_key
),

final as (
    select
        'NOT_IN_HUKOU' as rule_code,
        recipients.person_key,
        null::string as org_uscc,
        null::string as program_code,
        null::string as feed_id,
        null::string as attribute,
        min(recipients.month) as period_start,
        max(recipients.month) as period_end,
        coalesce(any_value(paid.amount), 0)::decimal(18, 2) as amount_at_risk,
        {{ json_text(struct_of(
            'recipient_of', sorted_set('recipients.feed_id'),
            'payments', 'any_value(paid.rows)'
        )) }} as evidence,
        recipients.person_key as grain_key,
        null::string as division_code
    from recipients
    inner join persons on persons.person_key = recipients.person_key
    left join paid on paid.person_key = recipients.person_key
    group by recipients.person_key
)

select * from final
