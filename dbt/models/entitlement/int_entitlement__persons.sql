-- One row per person with what the entitlement rules need: birth date and hukou state
-- from the latest hukou record (hukou is authoritative, SOURCE_FEEDS 3.2), death from
-- the golden record (certificate > cremation > hukou date, resolved by the dedupe gate).
-- identity_unsure: a person the dedupe gate made of a record whose corrupted ID is one
-- keystroke from several namesakes' valid IDs (resolve/id_link.py: not guessed, left for
-- review). Such a person is one of those residents, not someone outside hukou: the
-- rules that read "no hukou record" or "no entitlement" as a finding skip them.
with persons as (
    select * from {{ ref('stg_persons') }}
),

unsure as (
    select distinct person_key from {{ ref('stg_person_source_xref') }}
    where match_method = 'new_person' and match_detail like '存疑未合并%'
),

xref as (
    select * from {{ ref('stg_person_source_xref') }}
    where feed_id = 'hukou_population' and role = 'person'
),

-- Each hukou delivery's production time (one per delivery: lineage is per delivery).
hukou_deliveries as (
    select _delivery_id, max(try_cast(_produced_at as {{ type_tstz() }})) as produced_at
    from {{ ref('stg_hukou_population') }}
    group by _delivery_id
),

-- Each person's latest hukou record (monthly full plus daily incremental deliveries:
-- the latest delivery wins, then the later row), chosen on the xref's lineage alone and
-- joined to its row once. The order is packed into one bigint per row, so that the
-- aggregate keeps one number per person: the rank of the file's production time (a
-- delivery without one first), the row, then the file among those produced at the same
-- time. A struct per person (max_by over the lineage strings) held ~2.6 GB at 10,000,000
-- persons and ran the model out of a 4 GB DuckDB limit; a window over every hukou row
-- joined to its xref row cost ~1.5x as much and grew with every month's snapshot.
-- Room: 2^20 production times, 2^31 rows a file, 2^12 files produced at one time.
{%- set row_unit = 4096 %}
{%- set rows_per_file = 2147483648 %}
{%- set time_unit = rows_per_file * row_unit %}
hukou_files as (
    select
        f._delivery_id,
        f._source_file,
        dense_rank() over (order by d.produced_at is not null, d.ordered_at) as at_rank,
        row_number() over (
            partition by d.produced_at is not null, d.ordered_at
            order by f._delivery_id, f._source_file
        ) as file_no
    from (select distinct _delivery_id, _source_file from xref) as f
    inner join (
        select
            _delivery_id,
            produced_at,
            coalesce(produced_at, cast('1970-01-01 00:00:00+00:00' as {{ type_tstz() }})) as ordered_at
        from hukou_deliveries
    ) as d on d._delivery_id = f._delivery_id
),

latest_hukou as (
    select
        xref.person_key,
        max(
            f.at_rank * {{ time_unit }} + cast(xref._source_row as bigint) * {{ row_unit }} + f.file_no
        ) as k
    from xref
    inner join hukou_files as f
        on f._delivery_id = xref._delivery_id and f._source_file = xref._source_file
    group by xref.person_key
),

final as (
    select
        persons.person_key,
        persons.id_number,
        coalesce(hukou.birth_date, persons.birth_date) as birth_date,
        coalesce(
            persons.death_date,
            case when hukou.person_status = '死亡' then hukou.status_changed_on end
        ) as death_date,
        hukou._delivery_id is not null as in_hukou,
        unsure.person_key is not null as identity_unsure,
        hukou.person_status as hukou_status,
        -- 人员状态 is read at the end of a month: from the month of a 迁出/注销 change the
        -- person is no longer in the city; without a change date, never shown to be.
        case
            when hukou.person_status in ('迁出', '注销')
                then coalesce({{ format_date('hukou.status_changed_on', '%Y-%m') }}, '0000-00')
        end as hukou_left_month,
        hukou.name as hukou_name,
        hukou.sex as hukou_sex,
        hukou.birth_date as hukou_birth_date,
        hukou.hukou_division_code,
        hukou._delivery_id as hukou_delivery_id,
        hukou._source_file as hukou_source_file,
        hukou._source_row as hukou_source_row
    from persons
    left join latest_hukou on latest_hukou.person_key = persons.person_key
    left join hukou_files as f
        on f.at_rank = {{ int_div('latest_hukou.k', time_unit) }}
        and f.file_no = latest_hukou.k % {{ row_unit }}
    left join {{ ref('stg_hukou_population') }} as hukou
        on hukou._delivery_id = f._delivery_id
        and hukou._source_file = f._source_file
        and hukou._source_row = {{ int_div('latest_hukou.k', row_unit) }} % {{ rows_per_file }}
    left join unsure on unsure.person_key = persons.person_key
)

select
    *,
    {{ format_date('death_date', '%Y-%m') }} as death_month
from final
