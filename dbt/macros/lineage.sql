{#- Join the dedupe gate's person key of one role onto silver rows (by lineage). -#}
{% macro join_person_key(rows_alias, feed_id, role, alias) -%}
left join {{ ref('stg_person_source_xref') }} as {{ alias }}
    on {{ alias }}.feed_id = '{{ feed_id }}'
    and {{ alias }}.role = '{{ role }}'
    and {{ alias }}._delivery_id = {{ rows_alias }}._delivery_id
    and {{ alias }}._source_file = {{ rows_alias }}._source_file
    and {{ alias }}._source_row = {{ rows_alias }}._source_row
{%- endmacro %}

{#- Latest-first order of silver lines: a resent record supersedes the earlier line. -#}
{% macro latest_first() -%}
    try_cast(_produced_at as {{ type_tstz() }}) desc nulls last, _ingested_at desc, _source_row desc
{%- endmacro %}

{#- Rows of each source unit's latest full delivery of a register (the state "now"). -#}
{% macro latest_snapshot(relation) -%}
    select *
    from {{ relation }}
    qualify _period = max(_period) over (partition by _source_unit)
{%- endmacro %}

{#- Beijing-time date of a UTC timestamp: China has one zone and no DST, so +8h. -#}
{% macro beijing_date(ts_col) -%}
    cast(cast({{ ts_col }} as timestamp) + interval 8 hour as date)
{%- endmacro %}
