-- GENERATED from schemas/*.yaml by `python -m civlake.transform.contract_dbt`: do not edit by hand.
-- Feed cadences and delivery modes, as the contracts declare them.
with feeds (feed_id, feed_title, cadence, modes) as (
    values
        ('assistance_recipients', '社会救助对象名册', 'monthly', 'full'),
        ('benefit_payments', '民政资金发放明细', 'monthly', 'incremental'),
        ('charity_donations', '慈善捐赠明细', 'daily', 'incremental'),
        ('child_welfare', '儿童福利对象名册', 'monthly', 'full'),
        ('cremation_records', '火化记录', 'daily', 'incremental'),
        ('death_certificates', '医学死亡证明', 'daily', 'incremental'),
        ('disability_certs', '残疾人证', 'monthly', 'full'),
        ('divisions', '统计用区划代码', 'yearly', 'full'),
        ('elderly_allowance', '高龄津贴名册', 'monthly', 'full'),
        ('finding_reviews', '核查反馈', 'monthly', 'incremental'),
        ('hukou_population', '公安户籍人口', 'monthly', 'full/incremental'),
        ('marriage_registrations', '婚姻登记', 'daily', 'incremental'),
        ('social_organizations', '社会组织登记', 'weekly', 'full'),
        ('volunteer_service', '志愿服务记录', 'weekly', 'incremental')
)

select * from feeds
