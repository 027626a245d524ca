{#- The rule models verify.findings unions: the distinct model_name values of the
    verify_rules seed, in seed order. dbt cannot read a seed at compile time (and ref()
    must see every model at parse time), so civlake.transform.run_dbt reads the CSV
    (civlake.transform.rules) and passes the list as the var verify_rule_models. -#}
{% macro verify_rule_models() -%}
    {%- set models = var('verify_rule_models', none) -%}
    {%- if not models -%}
        {{ exceptions.raise_compiler_error(
            "var verify_rule_models is not set: run dbt through civlake.transform.run_dbt, or pass "
            ~ "--vars \"$(python -m civlake.transform.rules)\" (the model_name column of seeds/verify_rules.csv)"
        ) }}
    {%- endif -%}
    {{ return(models) }}
{%- endmacro %}
