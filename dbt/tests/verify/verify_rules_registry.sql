-- The verify_rules seed is the rule registry: findings.sql unions the models it names
-- and inner-joins the seed for severity and action, so a code the seed lacks would be
-- dropped without a word. One row per breach: a seed row naming no model, a seed row
-- whose model findings does not union, or a code a rule model emits that the seed does
-- not list for that model. (A model_name that is no model fails earlier, at parse time.)
{%- set rule_models = verify_rule_models() %}

with registry as (
    select rule_code, model_name from {{ ref('verify_rules') }}
),

emitted as (
    {% for model in rule_models %}
    select distinct rule_code, '{{ model }}' as model_name from {{ ref(model) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

unnamed as (
    select rule_code, model_name, 'seed row names no model' as problem
    from registry
    where model_name is null or trim(model_name) = ''
),

not_unioned as (
    select rule_code, model_name, 'findings does not union this model' as problem
    from registry
    where model_name not in ('{{ rule_models | join("', '") }}')
),

unregistered as (
    select emitted.rule_code, emitted.model_name, 'code not in the seed for this model' as problem
    from emitted
    left join registry
        on registry.rule_code = emitted.rule_code and registry.model_name = emitted.model_name
    where registry.rule_code is null
),

final as (
    select * from unnamed
    union all
    select * from not_unioned
    union all
    select * from unregistered
)

select * from final
