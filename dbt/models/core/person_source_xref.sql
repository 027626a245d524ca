-- 人员来源对照: which person each person-bearing silver row (per role) refers to.
with xref as (
    select * from {{ ref('stg_person_source_xref') }}
),

final as (
    select
        md5(concat_ws('|', feed_id, _delivery_id, _source_file, _source_row, role)) as xref_key,
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
