-- pgbench script: the statements one order sends (shared/orders/placement.py), for the floor of
-- bench_orders.py. `tenant_bench` is replaced by the schema under test. Run with -M extended:
-- the app's pooled connections prepare nothing (shared/db.py, prepare_threshold=None). What the
-- app pipelines is pipelined here too (\startpipeline), so both take the same round trips; the
-- ids are computed in SQL, as the app makes its own instead of reading them back.
\set ip random(1, 2000000000)
\set order random(1, 9223372036854775807)
-- 1. Admission (asynchronous commit): claim the Idempotency-Key, read the menu version, count
--    the request and take the ticket number (those two pipelined by the app).
BEGIN;
SELECT set_config('search_path', '"tenant_bench"', true),
       set_config('synchronous_commit', 'off', true);
INSERT INTO idempotency_keys AS k (key, request_hash, claim, expires_at)
    VALUES (gen_random_uuid()::text, md5(random()::text), gen_random_uuid(),
            now() + make_interval(hours => 24))
    ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, claim = excluded.claim,
        claimed_at = now(), response_status = null, response_body = null,
        expires_at = excluded.expires_at
    WHERE k.expires_at <= now()
    RETURNING key, claim \gset
SELECT max(version) AS version FROM menu_versions;
-- The app pipelines these two; one statement here takes the same single round trip and keeps
-- \gset (a pipeline cannot read results back).
WITH hit AS (
    INSERT INTO rate_limit_windows AS w (bucket, window_start, hits)
        VALUES ('orders:' || :ip, date_trunc('minute', now()), 1)
        ON CONFLICT (bucket, window_start) DO UPDATE SET hits = w.hits + 1 RETURNING hits)
INSERT INTO ticket_counters AS c (business_date, last_number) VALUES (current_date, 1)
    ON CONFLICT (business_date) DO UPDATE SET last_number = c.last_number + 1
    RETURNING last_number, (SELECT hits FROM hit) \gset
COMMIT;
-- 2. The order, 3 lines, 6 modifiers, its first event, the outbox row and the stored answer.
BEGIN;
SELECT set_config('search_path', '"tenant_bench"', true);
\startpipeline
INSERT INTO orders (id, business_date, ticket_number, fulfilment_type, customer_name,
        customer_phone, table_id, table_label, currency, subtotal, tax, tip, total, tax_rate_bp,
        tax_inclusive, menu_version, placed_at, updated_at)
    VALUES (md5(:order::text)::uuid, current_date, :last_number,
            'pickup', 'Ada', '+4930123456', null, null, 'EUR',
            7000, 1118, 0, 7000, 1900, true, 1, now(), now());
INSERT INTO order_items (id, order_id, position, menu_item_id, name, station, quantity,
        unit_price, line_total, note, allergens)
    VALUES (md5(:order::text || '-1')::uuid, md5(:order::text)::uuid, 0, gen_random_uuid(), 'Margherita', 'oven', 2, 1200, 2400, null, '{}');
INSERT INTO order_items (id, order_id, position, menu_item_id, name, station, quantity,
        unit_price, line_total, note, allergens)
    VALUES (md5(:order::text || '-2')::uuid, md5(:order::text)::uuid, 1, gen_random_uuid(), 'Diavola', 'oven', 2, 1400, 2800, null, '{}');
INSERT INTO order_items (id, order_id, position, menu_item_id, name, station, quantity,
        unit_price, line_total, note, allergens)
    VALUES (md5(:order::text || '-3')::uuid, md5(:order::text)::uuid, 2, gen_random_uuid(), 'Salad', 'cold', 2, 1000, 2000, null, '{}');
INSERT INTO order_item_modifiers (order_item_id, position, group_id, group_name, option_id,
        name, price_delta, charged)
    VALUES (md5(:order::text || '-1')::uuid, 0, gen_random_uuid(), 'Size', gen_random_uuid(), 'Large', 300, 300);
INSERT INTO order_item_modifiers (order_item_id, position, group_id, group_name, option_id,
        name, price_delta, charged)
    VALUES (md5(:order::text || '-1')::uuid, 1, gen_random_uuid(), 'Extras', gen_random_uuid(), 'Cheese', 100, 0);
INSERT INTO order_item_modifiers (order_item_id, position, group_id, group_name, option_id,
        name, price_delta, charged)
    VALUES (md5(:order::text || '-2')::uuid, 0, gen_random_uuid(), 'Size', gen_random_uuid(), 'Large', 300, 300);
INSERT INTO order_item_modifiers (order_item_id, position, group_id, group_name, option_id,
        name, price_delta, charged)
    VALUES (md5(:order::text || '-2')::uuid, 1, gen_random_uuid(), 'Extras', gen_random_uuid(), 'Cheese', 100, 0);
INSERT INTO order_item_modifiers (order_item_id, position, group_id, group_name, option_id,
        name, price_delta, charged)
    VALUES (md5(:order::text || '-3')::uuid, 0, gen_random_uuid(), 'Size', gen_random_uuid(), 'Large', 300, 300);
INSERT INTO order_item_modifiers (order_item_id, position, group_id, group_name, option_id,
        name, price_delta, charged)
    VALUES (md5(:order::text || '-3')::uuid, 1, gen_random_uuid(), 'Extras', gen_random_uuid(), 'Cheese', 100, 0);
INSERT INTO order_events (order_id, from_status, to_status, actor, occurred_at)
    VALUES (md5(:order::text)::uuid, null, 'placed', 'customer', now());
INSERT INTO outbox (id, type, order_id, occurred_at, data, groups)
    VALUES (gen_random_uuid(), 'order.placed', md5(:order::text)::uuid, now(),
            '{"ticket_number": "#0001", "status": "placed", "version": 1, "lines": []}'::jsonb,
            ARRAY['t.bench.kitchen', 't.bench.station.cold', 't.bench.station.oven', 'o.x']);
UPDATE idempotency_keys SET response_status = 201, response_body = '{"id": "x"}'::jsonb,
        claim = null
    WHERE key = :key AND claim = :claim;
\endpipeline
COMMIT;
