"""Creating, deleting and migrating restaurants: the logic behind the durable orchestrations.

requests (what an admin sends) · steps (provisioning and its compensation) · deprovision ·
fleet (migrating every schema) · schemas (locks and drops) · registry (reading state) ·
audit (Table Storage trail) · failures (permanent errors and test-only injection).
Every function here is a plain, idempotent, synchronous call; functions/ wraps them as activities.
"""
