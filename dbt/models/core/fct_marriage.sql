-- 婚姻登记事实: one row per registration (certificate number and business type).
with registrations as (
    select * from {{ ref('stg_marriage_registrations') }}
),

persons as (
    select person_key, birth_date from {{ ref('dim_person') }}
),

latest as (
    select *
    from registrations
    qualify row_number() over (
        partition by cert_no, business_type order by {{ latest_first() }}
    ) = 1
),

keyed as (
    select
        latest.*,
        male.person_key as male_person_key,
        female.person_key as female_person_key
    from latest
    {{ join_person_key('latest', 'marriage_registrations', 'male', 'male') }}
    {{ join_person_key('latest', 'marriage_registrations', 'female', 'female') }}
),

final as (
    select
        md5(concat_ws('|', keyed.cert_no, keyed.business_type)) as marriage_key,
        keyed.cert_no,
        keyed.business_type,
        keyed.registered_on,
        {{ to_month('keyed.registered_on') }} as month,
        keyed.registrar_code,
        keyed.registrar_name,
        -- Registrar codes arrive as 6-digit county codes or 12-digit statistical codes.
        case
            when {{ regex_full_match('keyed.registrar_code', '\\d{6}') }}
                then keyed.registrar_code || '000000'
            when {{ regex_full_match('keyed.registrar_code', '\\d{12}') }}
                then substr(keyed.registrar_code, 1, 6) || '000000'
        end as district_code,
        keyed.male_person_key,
        keyed.female_person_key,
        -- The golden record's birth date (hukou-corrected) wins over the form's.
        {{ age_on('coalesce(male_p.birth_date, keyed.male_birth_date)', 'keyed.registered_on') }}
            as male_age,
        {{ age_on('coalesce(female_p.birth_date, keyed.female_birth_date)', 'keyed.registered_on') }}
            as female_age,
        keyed._delivery_id,
        keyed._source_row
    from keyed
    left join persons as male_p on male_p.person_key = keyed.male_person_key
    left join persons as female_p on female_p.person_key = keyed.female_person_key
)

select * from final
