-- A tenant schema starts empty; its schema_migrations table is created by the runner itself.
-- Later files add the menu, order and outbox tables.
select 1;
