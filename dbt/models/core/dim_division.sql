with recursive

divisions as (
    select * from {{ ref('stg_divisions') }}
),

-- Each yearly full delivery repeats every record: keep the latest delivered copy of
-- each version (code, valid_from).
latest_copy as (
    select
        *,
        coalesce(valid_from, date '1900-01-01') as version_from,
        row_number() over (
            partition by division_code, coalesce(valid_from, date '1900-01-01')
            order by _produced_at desc, _ingested_at desc, _source_row desc
        ) as copy_rank
    from divisions
),

versions as (
    select
        division_code,
        name as division_name,
        level as division_level,
        parent_code,
        urban_rural_code,
        successor_code,
        version_from as valid_from,
        -- A rename may arrive as a new version without closing the old one: the next
        -- version's start closes it.
        coalesce(
            valid_to,
            lead(version_from) over (partition by division_code order by version_from)
        ) as valid_to,
        row_number() over (
            partition by division_code order by version_from desc
        ) as version_rank
    from latest_copy
    where copy_rank = 1
),

successor_edges as (
    select division_code, successor_code
    from versions
    where version_rank = 1 and successor_code is not null and successor_code <> division_code
),

-- Follow 继承代码 chains (A -> B -> C); depth bounded so a cyclic feed cannot loop.
chain as (
    select division_code, division_code as reached_code, 0 as depth
    from versions
    where version_rank = 1
    union all
    select chain.division_code, edge.successor_code, chain.depth + 1
    from chain
    inner join successor_edges as edge on edge.division_code = chain.reached_code
    where chain.depth < 20
),

current_codes as (
    select division_code, max_by(reached_code, depth) as current_division_code
    from chain
    group by division_code
),

final as (
    select
        versions.division_code || '@' || {{ format_date('versions.valid_from', '%Y-%m-%d') }}
            as division_version_key,
        versions.division_code,
        versions.division_name,
        versions.division_level,
        versions.parent_code,
        versions.urban_rural_code,
        versions.valid_from,
        versions.valid_to,
        versions.version_rank = 1
            and versions.valid_to is null
            and versions.successor_code is null as is_current,
        versions.successor_code,
        current_codes.current_division_code,
        case
            when versions.division_level in ('3', '4', '5')
                then {{ district_of('current_codes.current_division_code') }}
        end as district_code
    from versions
    inner join current_codes on current_codes.division_code = versions.division_code
)

select * from final
