{#- Join the dedupe gate's person key of one role onto silver rows (by lineage). -#}
{% macro join_person_key(rows_alias, feed_id, role, alias) -%}
{{ join_xref(alias, "'" ~ feed_id ~ "'", "'" ~ role ~ "'",
    rows_alias ~ '._delivery_id', rows_alias ~ '._source_file', rows_alias ~ '._source_row') }}
{%- endmacro %}

{#- Join the dedupe gate's xref row of one record and role, the record given by SQL
    expressions (feed, role and lineage columns are named differently per model). -#}
{% macro join_xref(alias, feed, role, delivery, file, row) -%}
left join {{ ref('stg_person_source_xref') }} as {{ alias }}
    on {{ alias }}.feed_id = {{ feed }}
    and {{ alias }}.role = {{ role }}
    and {{ alias }}._delivery_id = {{ delivery }}
    and {{ alias }}._source_file = {{ file }}
    and {{ alias }}._source_row = {{ row }}
{%- endmacro %}

{#- How a source record in a finding's evidence was tied to its person (the `identity`
    of the record), from its xref row: the person's role in the record, the dedupe gate's
    method, probability and detail, so a caseworker sees why a payment and a hukou record
    were taken to be one person. The probability is rounded to 4 places so the JSON
    number is the same text on both engines; null when the record has no xref row. -#}
{% macro record_identity(xref) -%}
    case when {{ xref }}.match_method is not null then {{ struct_of(
        'role', xref ~ '.role',
        'method', xref ~ '.match_method',
        'probability', 'round(' ~ xref ~ '.match_probability, 4)',
        'detail', xref ~ '.match_detail'
    ) }} end
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
