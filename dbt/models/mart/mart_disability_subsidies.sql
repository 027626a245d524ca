-- 残疾人两项补贴主题: certified disabled persons by grade, and 困难残疾人生活补贴 (CJSH) /
-- 重度残疾人护理补贴 (CJHL) recipients and amounts paid, by district and month.
with certificates as (
    select * from {{ ref('int_disability__months') }}
    where is_valid
),

payments as (
    select * from {{ ref('fct_payment') }}
    where is_paid and program_code in ('CJSH', 'CJHL')
),

persons as (
    select person_key, hukou_district_code from {{ ref('dim_person') }}
),

districts as (
    select * from {{ ref('int_districts') }}
),

certified as (
    select
        district_code,
        month,
        count(*) as certified_persons,
        count(*) filter (where disability_grade_level = 1) as grade_1_persons,
        count(*) filter (where disability_grade_level = 2) as grade_2_persons,
        count(*) filter (where disability_grade_level = 3) as grade_3_persons,
        count(*) filter (where disability_grade_level = 4) as grade_4_persons
    from certificates
    group by all
),

paid as (
    select
        coalesce(persons.hukou_district_code, payments.payer_district_code) as district_code,
        payments.pay_month as month,
        -- An unresolved payee still counts once, by its payment.
        count(distinct coalesce(payments.person_key, payments.payment_id))
            filter (where program_code = 'CJHL') as cjhl_recipients,
        coalesce(sum(amount) filter (where program_code = 'CJHL'), 0)::decimal(18, 2) as cjhl_amount,
        count(distinct coalesce(payments.person_key, payments.payment_id))
            filter (where program_code = 'CJSH') as cjsh_recipients,
        coalesce(sum(amount) filter (where program_code = 'CJSH'), 0)::decimal(18, 2) as cjsh_amount
    from payments
    left join persons on persons.person_key = payments.person_key
    group by all
),

spine as (
    select district_code, month from certified
    union
    select district_code, month from paid
),

final as (
    select
        spine.district_code as division_code,
        districts.division_name,
        spine.month,
        coalesce(certified.certified_persons, 0) as certified_persons,
        coalesce(certified.grade_1_persons, 0) as grade_1_persons,
        coalesce(certified.grade_2_persons, 0) as grade_2_persons,
        coalesce(certified.grade_3_persons, 0) as grade_3_persons,
        coalesce(certified.grade_4_persons, 0) as grade_4_persons,
        coalesce(paid.cjhl_recipients, 0) as cjhl_recipients,
        coalesce(paid.cjhl_amount, 0) as cjhl_amount,
        coalesce(paid.cjsh_recipients, 0) as cjsh_recipients,
        coalesce(paid.cjsh_amount, 0) as cjsh_amount
    from spine
    left join certified using (district_code, month)
    left join paid using (district_code, month)
    left join districts on districts.division_code = spine.district_code
    where spine.district_code is not null
)

select * from final
