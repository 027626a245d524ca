-- 人员黄金记录 (core/persons, dedupe gate; restricted); rename/cast only.
with source as (
    select * from {{ source('gate', 'persons') }}
),

renamed as (
    select
        person_key,
        id_number,
        name,
        sex,
        cast(birth_date as date) as birth_date,
        hukou_division_code,
        cast(is_alive as boolean) as is_alive,
        cast(death_date as date) as death_date,
        death_date_source,
        source_feeds,
        first_seen,
        last_seen,
        cast(in_hukou as boolean) as in_hukou,
        hukou_status
    from source
)

select * from renamed
