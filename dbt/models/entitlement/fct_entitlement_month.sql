-- person x programme x month: what was due (policy) against what was paid (latest
-- line per payment_id with status success). A row exists where anything was due or any
-- payment line was sent; entitled = something was due that month.
with due as (
    select
        person_key, program_code, month,
        sum(due_amount) as due_amount,
        max(standard_key) as standard_key,
        max(basis_feed) as basis_feed
    from {{ ref('int_entitlement__due') }}
    group by person_key, program_code, month
),

paid as (
    select
        person_key, program_code, pay_month as month,
        sum(case when is_paid then amount else 0 end)::decimal(18, 2) as paid_amount,
        count(*) filter (where is_paid) as paid_payments,
        count(*) as payment_lines
    from {{ ref('int_entitlement__payments') }}
    where person_key is not null
    group by person_key, program_code, pay_month
),

final as (
    select
        coalesce(due.person_key, paid.person_key) as person_key,
        coalesce(due.program_code, paid.program_code) as program_code,
        coalesce(due.month, paid.month) as month,
        coalesce(due.due_amount, 0)::decimal(18, 2) as due_amount,
        coalesce(paid.paid_amount, 0)::decimal(18, 2) as paid_amount,
        due.person_key is not null as entitled,
        due.standard_key,
        due.basis_feed,
        coalesce(paid.paid_payments, 0) as paid_payments,
        coalesce(paid.payment_lines, 0) as payment_lines
    from due
    full outer join paid
        on paid.person_key = due.person_key
        and paid.program_code = due.program_code
        and paid.month = due.month
)

select * from final
