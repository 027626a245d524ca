{#- The silver columns of a feed, in lake order, as the generated source declares them
    (models/staging/silver/_silver__sources.yml, written from schemas/<feed>.yaml by
    `python -m civlake.transform.contract_dbt`), so a staging model does not repeat the
    contract's column list. `except` leaves out columns the model renames or casts
    itself. Before execution (parsing) dbt only needs the source() call, not the list. -#}
{% macro silver_columns(feed_id, except=[]) -%}
    {%- if not execute -%}
        {{ return('*') }}
    {%- endif -%}
    {%- set node = graph.sources.values()
        | selectattr('source_name', 'equalto', 'silver')
        | selectattr('name', 'equalto', feed_id) | first -%}
    {%- if not node or not node.columns -%}
        {{ exceptions.raise_compiler_error(
            "silver source " ~ feed_id ~ " declares no columns: run `python -m civlake.transform.contract_dbt`") }}
    {%- endif -%}
    {%- for name in node.columns if name not in except -%}
        {{ name }}{{ ",\n        " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
