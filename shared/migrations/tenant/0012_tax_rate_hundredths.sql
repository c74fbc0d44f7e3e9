-- Tax rates to a hundredth of a basis point (shared/tax_rates.py): New York City's 8.875 % is
-- 887.5. The column keeps every whole rate as it was (2000 is 2000.00). Until the fleet run
-- reaches a restaurant, its settings take whole basis points only (functions/admin_settings.py),
-- so no order there carries a fraction the old column could not hold. Rewrites the table once.
alter table orders alter column tax_rate_bp type numeric(7, 2);
