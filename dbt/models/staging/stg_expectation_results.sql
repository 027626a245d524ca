-- 质量校验结果 (expectation_results): written by the expectations gate when it runs; an
-- absent table reads as empty. Only feed_id, delivery_id and success are relied on.
with source as (
    select * from {{ source('lake', 'expectation_results') }}
),

renamed as (
    select
        feed_id,
        delivery_id,
        cast(success as boolean) as is_success
    from source
)

select * from renamed
