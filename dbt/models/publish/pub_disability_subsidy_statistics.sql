-- 残疾人两项补贴发放统计 (open aggregate): one row per programme.
with subsidies as (
    select * from {{ ref('mart_disability_subsidies') }}
),

long as (
    select month, division_code, division_name, 'CJSH' as program_code,
        '困难残疾人生活补贴' as program_name,
        cjsh_recipients as recipients, cjsh_amount as amount_yuan
    from subsidies
    union all
    select month, division_code, division_name, 'CJHL', '重度残疾人护理补贴',
        cjhl_recipients, cjhl_amount
    from subsidies
),

final as (
    select
        month,
        division_code,
        division_name,
        program_code,
        program_name,
        cast(recipients as bigint) as recipients,
        cast(amount_yuan as double) as amount_yuan
    from long
)

select * from final
