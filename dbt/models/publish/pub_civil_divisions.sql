-- 统计用区划代码 (open, reference): current codes only; history stays in core.dim_division.
with divisions as (
    select * from {{ ref('dim_division') }}
),

final as (
    select
        division_code,
        division_name,
        cast(division_level as integer) as division_level,
        parent_code,
        urban_rural_code,
        valid_from
    from divisions
    where is_current
)

select * from final
