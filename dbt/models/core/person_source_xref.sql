-- 人员来源对照: which person each person-bearing silver row (per role) refers to.
-- On DuckDB a view of the staged xref (which holds every row, keyed once when staged):
-- copying it again grew with every month's references (a hukou snapshot row is one).
-- The view names staging without the warehouse's catalog, so it still reads when the
-- file is copied under another name or attached under an alias.
{{ config(materialized=('view' if target.type == 'duckdb' else 'table')) }}

with xref as (
    select * from {{ ref('stg_person_source_xref').include(database=False) }}
),

final as (
    select
        xref_key,
        feed_id,
        _delivery_id,
        _source_file,
        _source_row,
        role,
        person_key,
        match_method,
        match_probability,
        match_detail,
        id_number
    from xref
)

select * from final
