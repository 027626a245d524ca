-- 人员来源对照 (core/person_source_xref, dedupe gate); rename/cast only.
with source as (
    select * from {{ source('gate', 'person_source_xref') }}
),

renamed as (
    select
        feed_id,
        _delivery_id,
        _source_file,
        cast(_source_row as bigint) as _source_row,
        role,
        person_key,
        match_method,
        cast(match_probability as double) as match_probability,
        match_detail,
        id_number
    from source
)

select * from renamed
