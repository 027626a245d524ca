-- ID_MISMATCH: a feed states a name, sex or birth date that differs from hukou (一数一源:
-- hukou is authoritative). Sex counts only as 1/2 against the ID's sex digit (the ID
-- wins), or hukou's sex when the ID is unusable; 0/9 never contradict. Grain person x
-- feed x attribute.
with persons as (
    select * from {{ ref('int_entitlement__persons') }}
    where in_hukou
),

expected as (
    select
        persons.person_key,
        persons.hukou_name,
        persons.hukou_birth_date,
        case
            when {{ regex_full_match("coalesce(persons.id_number, '')", '\\d{17}[\\dX]') }}
                then case when cast(substr(persons.id_number, 17, 1) as integer) % 2 = 1 then '1' else '2' end
            else persons.hukou_sex
        end as expected_sex,
        persons.hukou_delivery_id, persons.hukou_source_file, persons.hukou_source_row,
        {{ record_identity('hukou_xref') }} as hukou_identity
    from persons
    {{ join_xref(
        'hukou_xref', "'hukou_population'", "'person'",
        'persons.hukou_delivery_id', 'persons.hukou_source_file', 'persons.hukou_source_row'
    ) }}
),

attributes as (
    select * from {{ ref('int_verify__person_attributes') }}
),

differences as (
    select a.*, 'name' as attribute, a.name as stated, e.hukou_name as expected_value, e.hukou_delivery_id, e.hukou_source_file, e.hukou_source_row,
        e.hukou_identity
    from attributes as a inner join expected as e using (person_key)
    where a.name is not null and e.hukou_name is not null and a.name <> e.hukou_name
    union all
    select a.*, 'sex', a.sex, e.expected_sex, e.hukou_delivery_id, e.hukou_source_file, e.hukou_source_row,
        e.hukou_identity
    from attributes as a inner join expected as e using (person_key)
    where a.sex in ('1', '2') and e.expected_sex in ('1', '2') and a.sex <> e.expected_sex
    union all
    select a.*, 'birth_date', a.birth_date::string, e.hukou_birth_date::string, e.hukou_delivery_id, e.hukou_source_file, e.hukou_source_row,
        e.hukou_identity
    from attributes as a inner join expected as e using (person_key)
    where a.birth_date is not null and e.hukou_birth_date is not null
        and a.birth_date <> e.hukou_birth_date
),

final as (
    select
        'ID_MISMATCH' as rule_code,
        person_key,
        null::string as org_uscc,
        null::string as program_code,
        feed_id,
        attribute,
        null::string as period_start,
        null::string as period_end,
        null::decimal(18, 2) as amount_at_risk,
        {{ json_text(struct_of(
            'hukou', struct_of(
                'feed', "'hukou_population'", 'delivery', 'any_value(hukou_delivery_id)',
                'file', 'any_value(hukou_source_file)', 'row', 'any_value(hukou_source_row)',
                'value', 'any_value(expected_value)', 'identity', 'any_value(hukou_identity)'
            ),
            'rows', list_head(ordered_list(struct_of(
                'feed', 'feed_id', 'delivery', '_delivery_id', 'file', '_source_file',
                'row', '_source_row', 'role', 'role', 'value', 'stated', 'identity', 'identity'
            ), ['_delivery_id', '_source_row']), 20)
        )) }} as evidence,
        person_key || '|' || feed_id || '|' || attribute as grain_key,
        null::string as division_code
    from differences
    group by person_key, feed_id, attribute
)

select * from final
