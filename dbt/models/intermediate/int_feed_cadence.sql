-- GENERATED from schemas/*.yaml by `python -m civlake.transform.contract_dbt`: do not edit by hand.
-- Feed cadences, delivery modes and on-demand feeds, as the contracts declare them.
with feeds (feed_id, feed_title, cadence, modes, on_demand) as (
    values
        ('assistance_recipients', '社会救助对象名册', 'monthly', 'full', false),
        ('benefit_payments', '民政资金发放明细', 'monthly', 'incremental', false),
        ('charity_donations', '慈善捐赠明细', 'daily', 'incremental', false),
        ('child_welfare', '儿童福利对象名册', 'monthly', 'full', false),
        ('cremation_records', '火化记录', 'daily', 'incremental', false),
        ('death_certificates', '医学死亡证明', 'daily', 'incremental', false),
        ('disability_certs', '残疾人证', 'monthly', 'full', false),
        ('divisions', '统计用区划代码', 'yearly', 'full', false),
        ('elderly_allowance', '高龄津贴名册', 'monthly', 'full', false),
        ('finding_reviews', '核查反馈', 'monthly', 'incremental', true),
        ('hukou_population', '公安户籍人口', 'monthly', 'full/incremental', false),
        ('marriage_registrations', '婚姻登记', 'daily', 'incremental', false),
        ('social_organizations', '社会组织登记', 'weekly', 'full', false),
        ('volunteer_service', '志愿服务记录', 'weekly', 'incremental', false)
)

select * from feeds
