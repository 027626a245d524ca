-- 死亡事实: one row per deceased person. The date follows SOURCE_FEEDS.md 3.8: the
-- medical certificate's, else the cremation record's, else hukou's status date.
with certificates as (
    select * from {{ ref('stg_death_certificates') }}
),

cremations as (
    select * from {{ ref('stg_cremation_records') }}
),

hukou as (
    select * from {{ ref('stg_hukou_population') }}
    where person_status = '死亡'
),

persons as (
    select person_key, hukou_district_code from {{ ref('dim_person') }}
),

by_certificate as (
    select
        p.person_key,
        -- A reissued certificate corrects the earlier one: the latest issued wins.
        max_by(c.death_date, coalesce(c.issued_at, c._ingested_at)) as death_date,
        max_by(c.death_place_type, coalesce(c.issued_at, c._ingested_at)) as death_place_type
    from certificates as c
    {{ join_person_key('c', 'death_certificates', 'deceased', 'p') }}
    where p.person_key is not null
    group by p.person_key
),

by_cremation as (
    select
        p.person_key,
        min(c.death_date) as death_date,
        min(c.cremated_on) as cremated_on,
        min_by(c.handling_division_code, c.cremated_on) as handling_division_code
    from cremations as c
    {{ join_person_key('c', 'cremation_records', 'deceased', 'p') }}
    where p.person_key is not null
    group by p.person_key
),

by_hukou as (
    select p.person_key, min(h.status_changed_on) as death_date
    from hukou as h
    {{ join_person_key('h', 'hukou_population', 'person', 'p') }}
    where p.person_key is not null
    group by p.person_key
),

deceased as (
    select person_key from by_certificate
    union
    select person_key from by_cremation
    union
    select person_key from by_hukou
),

final as (
    select
        deceased.person_key,
        coalesce(cert.death_date, crem.death_date, hukou.death_date) as death_date,
        case
            when cert.death_date is not null then 'death_certificates'
            when crem.death_date is not null then 'cremation_records'
            when hukou.death_date is not null then 'hukou_population'
        end as death_date_source,
        {{ to_month('coalesce(cert.death_date, crem.death_date, hukou.death_date)') }}
            as death_month,
        cert.person_key is not null as has_death_certificate,
        crem.person_key is not null as is_cremated,
        hukou.person_key is not null as is_hukou_deregistered,
        crem.cremated_on,
        cert.death_place_type,
        -- Hukou district first (where the person lived); the funeral home's otherwise.
        coalesce(persons.hukou_district_code, {{ district_of('crem.handling_division_code') }})
            as district_code
    from deceased
    left join by_certificate as cert on cert.person_key = deceased.person_key
    left join by_cremation as crem on crem.person_key = deceased.person_key
    left join by_hukou as hukou on hukou.person_key = deceased.person_key
    left join persons on persons.person_key = deceased.person_key
)

select * from final
