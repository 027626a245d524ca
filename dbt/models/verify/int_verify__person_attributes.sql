-- Every identity attribute (name, sex, birth date) a non-hukou feed states about a
-- person, one row per silver row x role x attribute, with the row's lineage and how the
-- row was tied to the person (identity). Names and
-- dates are already canonical in silver (simplified, no spaces, remarks moved to *_note).
{%- set feeds = [
    ('assistance_recipients', 'member', 'member_name', none, none),
    ('assistance_recipients', 'head', 'head_name', none, none),
    ('benefit_payments', 'payee', 'name', none, none),
    ('elderly_allowance', 'person', 'name', 'sex', 'birth_date'),
    ('disability_certs', 'person', 'name', 'sex', none),
    ('death_certificates', 'deceased', 'name', 'sex', none),
    ('cremation_records', 'deceased', 'name', 'sex', none),
    ('marriage_registrations', 'male', 'male_name', none, 'male_birth_date'),
    ('marriage_registrations', 'female', 'female_name', none, 'female_birth_date'),
    ('volunteer_service', 'volunteer', 'name', none, none),
    ('child_welfare', 'child', 'child_name', 'sex', 'birth_date'),
    ('child_welfare', 'guardian', 'guardian_name', none, none),
] %}

with rows as (
    {% for feed, role, name_col, sex_col, birth_col in feeds %}
    select
        '{{ feed }}' as feed_id, '{{ role }}' as role,
        {{ name_col }} as name,
        {{ sex_col if sex_col else 'null::string' }} as sex,
        {{ birth_col if birth_col else 'null::date' }} as birth_date,
        _delivery_id, _source_file, _source_row
    from {{ ref('stg_' ~ feed) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

xref as (
    select * from {{ ref('stg_person_source_xref') }}
),

final as (
    select xref.person_key, rows.*, {{ record_identity('xref') }} as identity
    from rows
    inner join xref
        on xref.feed_id = rows.feed_id
        and xref._delivery_id = rows._delivery_id
        and xref._source_file = rows._source_file
        and xref._source_row = rows._source_row
        and xref.role = rows.role
    where xref.person_key is not null
)

select * from final
