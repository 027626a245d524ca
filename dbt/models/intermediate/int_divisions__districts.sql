-- Any division code (current or obsolete) -> its current code and current district
-- (level 3), with the district's current name: the lookup the marts key on.
with divisions as (
    select * from {{ ref('dim_division') }}
),

codes as (
    select
        division_code,
        any_value(current_division_code) as current_division_code,
        max(district_code) as district_code
    from divisions
    group by division_code
),

districts as (
    select division_code, division_name
    from divisions
    where is_current and division_level = '3'
),

final as (
    select
        codes.division_code,
        codes.current_division_code,
        codes.district_code,
        districts.division_name as district_name
    from codes
    left join districts on districts.division_code = codes.district_code
)

select * from final
