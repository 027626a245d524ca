-- Current reporting units of the marts: districts (区县, level 3) and the city itself
-- (level 2, for city-level registrars and delivering units).
with divisions as (
    select * from {{ ref('dim_division') }}
),

final as (
    select
        division_code,
        division_name,
        division_level
    from divisions
    where is_current and division_level in ('2', '3')
)

select * from final
