-- Current districts (区县, level 3): the key and name every mart row carries.
with divisions as (
    select * from {{ ref('dim_division') }}
),

final as (
    select
        division_code,
        division_name
    from divisions
    where is_current and division_level = '3'
)

select * from final
