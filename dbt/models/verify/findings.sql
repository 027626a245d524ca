-- verify.findings (比对核查, OUTPUTS.md section 3): every rule's findings with a stable
-- id, severity and Chinese action from the verify_rules seed. finding_id hashes the rule
-- and its grain key (which carries a month-range grain's first month), so a rerun gives
-- the same ids and a range growing by new months keeps its id. first_detected_at
-- survives rebuilds: the previous table is read before this one replaces it. The rule
-- models are those the verify_rules seed names (macro verify_rule_models); the test
-- verify_rules_registry fails when a model emits a code the seed does not give it.
{%- set rules = verify_rule_models() %}
{%- set previous = adapter.get_relation(this.database, this.schema, this.identifier) %}

with unioned as (
    {% for rule in rules %}
    select * from {{ ref(rule) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

rules as (
    select * from {{ ref('verify_rules') }}
),

persons as (
    select person_key, id_number from {{ ref('stg_persons') }}
),

districts as (
    select * from {{ ref('int_verify__person_district') }}
),

{% if previous is not none %}
previous as (
    select finding_id, first_detected_at from {{ previous }}
),
{% endif %}

final as (
    select
        substr({{ sha256_hex("unioned.rule_code || '|' || unioned.grain_key") }}, 1, 32) as finding_id,
        unioned.rule_code,
        rules.severity,
        unioned.person_key,
        unioned.org_uscc,
        persons.id_number,
        unioned.program_code,
        unioned.feed_id,
        unioned.attribute,
        case when unioned.rule_code = 'MARRIED_TWICE'
            then {{ json_string('unioned.evidence', '$.registration.values.cert_no') }}
        end as registration_no,
        unioned.period_start,
        unioned.period_end,
        unioned.amount_at_risk,
        unioned.evidence,
        rules.recommended_action,
        rules.rule_title,
        coalesce(unioned.division_code, districts.district_code) as district_code,
        {% if previous is not none %}
        coalesce(previous.first_detected_at, cast('{{ run_started_at }}' as {{ type_tstz() }}))
        {% else %}
        cast('{{ run_started_at }}' as {{ type_tstz() }})
        {% endif %} as first_detected_at,
        'open' as status
    from unioned
    inner join rules on rules.rule_code = unioned.rule_code
    left join persons on persons.person_key = unioned.person_key
    left join districts on districts.person_key = unioned.person_key
    {% if previous is not none %}
    left join previous
        on previous.finding_id = substr({{ sha256_hex("unioned.rule_code || '|' || unioned.grain_key") }}, 1, 32)
    {% endif %}
)

select * from final
