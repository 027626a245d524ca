-- MARRIED_TWICE: a 结婚登记 for a person already married: an earlier 结婚登记 of that
-- person not ended by a 离婚登记 or 撤销婚姻 of the same couple, nor by the spouse's
-- death, before the new registration (补领 is not a new marriage). Grain person x
-- registration.
with registrations as (
    select * from {{ ref('stg_marriage_registrations') }}
),

xref as (
    select * from {{ ref('stg_person_source_xref') }}
    where feed_id = 'marriage_registrations'
),

parties as (
    select
        r.cert_no, r.business_type, r.registered_on, r._delivery_id, r._source_file,
        r._source_row, self.person_key, spouse.person_key as spouse_key,
        {{ record_identity('self') }} as identity
    from registrations as r
    inner join xref as self
        on self._delivery_id = r._delivery_id and self._source_file = r._source_file
        and self._source_row = r._source_row
    inner join xref as spouse
        on spouse._delivery_id = r._delivery_id and spouse._source_file = r._source_file
        and spouse._source_row = r._source_row and spouse.role <> self.role
    where self.person_key is not null and spouse.person_key is not null
),

marriages as (
    select * from parties where business_type = '结婚登记'
),

endings as (
    select * from parties where business_type in ('离婚登记', '撤销婚姻')
),

deaths as (
    select person_key, death_date from {{ ref('int_entitlement__persons') }}
    where death_date is not null
),

flagged as (
    select new.*, prior.cert_no as prior_cert_no, prior.registered_on as prior_registered_on,
        prior.spouse_key as prior_spouse_key, prior._delivery_id as prior_delivery_id,
        prior._source_file as prior_source_file, prior._source_row as prior_source_row,
        prior.identity as prior_identity
    from marriages as new
    inner join marriages as prior
        on prior.person_key = new.person_key
        and prior.cert_no <> new.cert_no
        and prior.registered_on < new.registered_on
    left join deaths on deaths.person_key = prior.spouse_key
    where (deaths.death_date is null or deaths.death_date >= new.registered_on)
        and not exists (
            select 1 from endings as e
            where e.person_key = prior.person_key and e.spouse_key = prior.spouse_key
                and e.registered_on >= prior.registered_on
                and e.registered_on <= new.registered_on
        )
),

final as (
    select
        'MARRIED_TWICE' as rule_code,
        person_key,
        null::string as org_uscc,
        null::string as program_code,
        'marriage_registrations' as feed_id,
        null::string as attribute,
        {{ format_date('any_value(registered_on)', '%Y-%m') }} as period_start,
        {{ format_date('any_value(registered_on)', '%Y-%m') }} as period_end,
        null::decimal(18, 2) as amount_at_risk,
        {{ json_text(struct_of(
            'registration', struct_of(
                'feed', "'marriage_registrations'", 'delivery', 'any_value(_delivery_id)',
                'file', 'any_value(_source_file)', 'row', 'any_value(_source_row)',
                'values', struct_of('cert_no', 'cert_no',
                    'registered_on', 'any_value(registered_on)::string'),
                'identity', 'any_value(identity)'
            ),
            'existing_marriages', ordered_list(struct_of(
                'feed', "'marriage_registrations'", 'delivery', 'prior_delivery_id',
                'file', 'prior_source_file', 'row', 'prior_source_row',
                'values', struct_of(
                    'cert_no', 'prior_cert_no', 'registered_on', 'prior_registered_on::string',
                    'spouse_key', 'prior_spouse_key'
                ),
                'identity', 'prior_identity'
            ), ['prior_registered_on', 'prior_cert_no', 'prior_delivery_id', 'prior_source_row'])
        )) }} as evidence,
        person_key || '|' || cert_no as grain_key,
        null::string as division_code
    from flagged
    group by person_key, cert_no
)

select * from final
