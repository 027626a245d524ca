-- 组织维度: one row per USCC. Registered organisations from the latest weekly snapshot
-- of the registry; organisations that only appear in donations or volunteer records
-- (with a valid USCC) are added as unregistered, named as those feeds name them.
with registry as (
    select * from {{ ref('stg_social_organizations') }}
),

donations as (
    select org_uscc as uscc, org_name as name, _produced_at
    from {{ ref('stg_charity_donations') }}
    where org_uscc_status in ('valid', 'normalized')
),

volunteering as (
    select org_uscc as uscc, cast(null as string) as name, _produced_at
    from {{ ref('stg_volunteer_service') }}
    where org_uscc_status in ('valid', 'normalized')
),

registered as (
    select
        uscc,
        name as org_name,
        org_type,
        registrar as registrar_division_code,
        {{ district_of('registrar') }} as district_code,
        founded_on,
        registered_capital,
        supervisor_unit,
        status as org_status,
        status_date,
        last_inspection_year,
        last_inspection_result,
        coalesce(abnormal_list, false) as is_abnormal,
        coalesce(is_charity, false) as is_charity,
        true as is_registered,
        _period as last_seen_period
    from registry
    qualify row_number() over (partition by uscc order by _period desc, {{ latest_first() }}) = 1
),

-- An unregistered organisation is named by the name its feeds use most often; on a
-- tie, the most recently delivered, then the first in code-point order, so that both
-- engines (and every rerun) pick the same one (mode() leaves the tie to the engine).
name_counts as (
    select uscc, name, count(*) as times_named, max(_produced_at) as last_named_at
    from (select * from donations union all select * from volunteering)
    where uscc not in (select uscc from registered)
    group by uscc, name
),

referenced as (
    select uscc, name as org_name
    from name_counts
    qualify row_number() over (
        partition by uscc
        order by
            case when name is null then 1 else 0 end,
            times_named desc,
            last_named_at desc,
            name
    ) = 1
),

final as (
    select * from registered
    union all
    select
        uscc,
        org_name,
        null as org_type,
        null as registrar_division_code,
        null as district_code,
        null as founded_on,
        null as registered_capital,
        null as supervisor_unit,
        null as org_status,
        null as status_date,
        null as last_inspection_year,
        null as last_inspection_result,
        false as is_abnormal,
        false as is_charity,
        false as is_registered,
        null as last_seen_period
    from referenced
)

select * from final
