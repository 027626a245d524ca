-- 免申即享 candidates in the latest complete month L:
--   GL_UNCLAIMED    高龄津贴 due in L but the person is not active in the register in L;
--   CJHL_UNCLAIMED  重度残疾人护理补贴 due in L but not paid in L;
--   CJSH_UNCLAIMED  困难残疾人生活补贴 due in L but not paid in L.
-- Grain person; amount_at_risk = the amount due in L.
with latest as (
    select latest_month from {{ ref('int_verify__latest_month') }}
),

due as (
    select fct.*
    from {{ ref('fct_entitlement_month') }} as fct
    inner join latest on fct.month = latest.latest_month
    where fct.entitled and fct.program_code in ('GL', 'CJHL', 'CJSH')
),

elderly_active as (
    select distinct person_key, month
    from {{ ref('int_entitlement__register_months') }}
    where feed_id = 'elderly_allowance' and is_active
),

basis as (
    select person_key, program_code, month, any_value(basis_feed) as basis_feed,
        any_value(basis_delivery_id) as delivery, any_value(basis_source_file) as file,
        any_value(basis_source_row) as row_no, any_value(standard_key) as standard_key
    from {{ ref('int_entitlement__due') }}
    group by person_key, program_code, month
),

flagged as (
    select due.*
    from due
    where (
        due.program_code = 'GL'
        and not exists (
            select 1 from elderly_active as e
            where e.person_key = due.person_key and e.month = due.month
        )
    )
    or (due.program_code in ('CJHL', 'CJSH') and due.paid_amount = 0)
),

final as (
    select
        flagged.program_code || '_UNCLAIMED' as rule_code,
        flagged.person_key,
        null::string as org_uscc,
        flagged.program_code,
        null::string as feed_id,
        null::string as attribute,
        flagged.month as period_start,
        flagged.month as period_end,
        flagged.due_amount as amount_at_risk,
        {{ json_text(struct_of(
            'month', 'flagged.month',
            'due_amount', 'flagged.due_amount::string',
            'paid_amount', 'flagged.paid_amount::string',
            'standard_key', 'basis.standard_key',
            'basis', struct_of(
                'feed', 'basis.basis_feed', 'delivery', 'basis.delivery', 'file', 'basis.file',
                'row', 'basis.row_no'
            )
        )) }} as evidence,
        flagged.person_key as grain_key,
        null::string as division_code
    from flagged
    left join basis
        on basis.person_key = flagged.person_key
        and basis.program_code = flagged.program_code
        and basis.month = flagged.month
)

select * from final
