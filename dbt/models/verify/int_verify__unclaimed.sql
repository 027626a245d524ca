-- depends_on: {{ ref('int_verify__not_in_hukou') }}
-- (not read: built after it, never beside it. Both are city-sized and two such models
-- side by side ran out of one memory limit at 10,000,000 persons: profiles.yml.)
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

persons as (
    select person_key, hukou_delivery_id, hukou_source_file, hukou_source_row
    from {{ ref('int_entitlement__persons') }}
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

-- the register row that grants each flagged month (the first by lineage when several
-- do); GL rests on age and hukou, so its record is the person's hukou record. Only the
-- flagged rows' grants are ranked: the window kept the join's filter from reaching
-- int_entitlement__due, and ranking every grant of a 1,000,000-person city took 198 s
-- (6 s this way, the same rows).
basis as (
    select
        granting.person_key, granting.program_code, granting.month, granting.basis_feed,
        granting.standard_key,
        coalesce(granting.basis_delivery_id, persons.hukou_delivery_id) as delivery,
        coalesce(granting.basis_source_file, persons.hukou_source_file) as file,
        coalesce(granting.basis_source_row, persons.hukou_source_row) as row_no
    from {{ ref('int_entitlement__due') }} as granting
    inner join flagged
        on flagged.person_key = granting.person_key
        and flagged.program_code = granting.program_code
        and flagged.month = granting.month
    -- An equi-join (the key null unless the grant rests on hukou): with the feed as a
    -- second condition DuckDB compared every flagged grant with every person (2.9 s at
    -- 1,000,000 persons; 0.1 s this way, the same rows).
    left join persons
        on persons.person_key
        = case when granting.basis_feed = 'hukou_population' then granting.person_key end
    qualify row_number() over (
        partition by granting.person_key, granting.program_code, granting.month
        order by
            granting.basis_delivery_id, granting.basis_source_file, granting.basis_source_row
    ) = 1
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
                'row', 'basis.row_no', 'identity', record_identity('xref')
            )
        )) }} as evidence,
        flagged.person_key as grain_key,
        null::string as division_code
    from flagged
    left join basis
        on basis.person_key = flagged.person_key
        and basis.program_code = flagged.program_code
        and basis.month = flagged.month
    -- GL (hukou) and CJHL / CJSH (disability register) records name the person so
    {{ join_xref('xref', 'basis.basis_feed', "'person'", 'basis.delivery', 'basis.file', 'basis.row_no') }}
)

select * from final
