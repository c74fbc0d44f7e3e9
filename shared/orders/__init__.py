"""Orders: pricing from the published menu, placement exactly once, tickets, the state machine."""
