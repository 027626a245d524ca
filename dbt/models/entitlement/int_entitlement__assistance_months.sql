-- Assistance register rows that count for month m: only the effective (latest
-- produced, i.e. not superseded) full delivery per district and period, with the
-- member's and head's person keys. One row per member row.
with register as (
    select * from {{ ref('stg_assistance_recipients') }}
    qualify dense_rank() over (
        partition by _source_unit, _period
        order by try_cast(_produced_at as {{ type_tstz() }}) desc nulls last, _delivery_id desc
    ) = 1
),

xref as (
    select * from {{ ref('stg_person_source_xref') }}
    where feed_id = 'assistance_recipients'
),

final as (
    select
        register._period as month,
        register._source_unit || ':' || register.family_no as household_key,
        register.family_no,
        register.division_code,
        register.assistance_type,
        case register.assistance_type
            when '低保' then 'DB'
            when '特困' then 'TK'
            when '低保边缘' then 'DBBY'
        end as program_code,
        register.status,
        register.status = '在保' as is_active,
        register.monthly_amount,
        register.relation_to_head,
        member.person_key as member_key,
        head.person_key as head_key,
        register.member_name,
        register._delivery_id,
        register._source_file,
        register._source_row
    from register
    left join xref as member
        on member._delivery_id = register._delivery_id
        and member._source_file = register._source_file
        and member._source_row = register._source_row
        and member.role = 'member'
    left join xref as head
        on head._delivery_id = register._delivery_id
        and head._source_file = register._source_file
        and head._source_row = register._source_row
        and head.role = 'head'
)

select * from final
