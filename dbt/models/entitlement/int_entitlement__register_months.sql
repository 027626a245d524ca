-- Elderly-allowance, disability and child-welfare register rows that count for month m
-- (SOURCE_FEEDS 5, "active in month m"): the effective full delivery per unit and
-- period; is_active applies each register's active status.
with elderly as (
    select * from {{ ref('stg_elderly_allowance') }}
    qualify dense_rank() over (
        partition by _source_unit, _period
        order by try_cast(_produced_at as {{ type_tstz() }}) desc nulls last, _delivery_id desc
    ) = 1
),

disability as (
    select * from {{ ref('stg_disability_certs') }}
    qualify dense_rank() over (
        partition by _source_unit, _period
        order by try_cast(_produced_at as {{ type_tstz() }}) desc nulls last, _delivery_id desc
    ) = 1
),

child as (
    select * from {{ ref('stg_child_welfare') }}
    qualify dense_rank() over (
        partition by _source_unit, _period
        order by try_cast(_produced_at as {{ type_tstz() }}) desc nulls last, _delivery_id desc
    ) = 1
),

xref as (
    select * from {{ ref('stg_person_source_xref') }}
),

unioned as (
    select
        'elderly_allowance' as feed_id, _period as month, tier as register_key,
        monthly_standard as register_standard, hukou_division_code as division_code,
        status = '正常' as is_active, status, null::string as guardian_key,
        'person' as role, _delivery_id, _source_file, _source_row
    from elderly
    union all
    select
        'disability_certs', _period, disability_grade, null::decimal(18, 2),
        hukou_division_code,
        cert_status = '有效'
        and (valid_until is null or valid_until >= {{ month_start('_period') }}),
        cert_status, null, 'person', _delivery_id, _source_file, _source_row
    from disability
    union all
    select
        'child_welfare', _period, child_category || '|' || coalesce(placement, ''),
        monthly_allowance, division_code, status = '在册', status, null, 'child',
        _delivery_id, _source_file, _source_row
    from child
),

final as (
    select
        unioned.* {{ star_exclude() }} (guardian_key),
        subject.person_key,
        guardian.person_key as guardian_key
    from unioned
    left join xref as subject
        on subject.feed_id = unioned.feed_id
        and subject._delivery_id = unioned._delivery_id
        and subject._source_file = unioned._source_file
        and subject._source_row = unioned._source_row
        and subject.role = unioned.role
    left join xref as guardian
        on guardian.feed_id = unioned.feed_id
        and guardian._delivery_id = unioned._delivery_id
        and guardian._source_file = unioned._source_file
        and guardian._source_row = unioned._source_row
        and guardian.role = 'guardian'
)

select * from final
