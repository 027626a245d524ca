-- 免申即享应享未享名单 (有条件共享, person-level): the unclaimed-entitlement findings of
-- the latest month with the person's ID and name, for the payment side. Persons
-- without an ID number are left out (the payment side pays by ID); first_listed_month
-- comes from the candidate log, so a candidate still unpaid shows how long it waits.
with findings as (
    select * from {{ ref('findings') }}
    where rule_code in ('GL_UNCLAIMED', 'CJHL_UNCLAIMED', 'CJSH_UNCLAIMED')
),

log as (
    select finding_id, candidate_month, district_code from {{ ref('entitlement_candidates') }}
),

persons as (
    select person_key, id_number, name from {{ ref('dim_person') }}
),

final as (
    select
        findings.finding_id,
        persons.id_number,
        persons.name,
        findings.rule_code,
        findings.program_code,
        case findings.program_code
            when 'GL' then '高龄津贴'
            when 'CJHL' then '重度残疾人护理补贴'
            when 'CJSH' then '困难残疾人生活补贴'
        end as program_name,
        log.district_code as division_code,
        findings.period_start as list_month,
        log.candidate_month as first_listed_month,
        cast(findings.amount_at_risk as double) as amount_due
    from findings
    inner join persons on persons.person_key = findings.person_key
    inner join log on log.finding_id = findings.finding_id
    where persons.id_number is not null
)

select * from final
