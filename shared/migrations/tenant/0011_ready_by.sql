-- The kitchen's promise: when an accepted or preparing order will be ready (the customer's
-- tracking page shows it). Until the fleet run reaches a restaurant, its kitchen moves orders
-- without one (shared/orders/state_machine.py); `if not exists` lets a re-run pass.
alter table orders add column if not exists ready_by timestamptz;
