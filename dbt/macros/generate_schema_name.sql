{#- Custom schemas are used verbatim (core, verify, mart, publish, staging) instead of
    dbt's default <target>_<custom> prefix: the schema names are part of the contract
    (OUTPUTS.md) that analysts, the publish stage and the acceptance checks query. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
