"""Kitchen and customer events: the transactional outbox and its Web PubSub fan-out."""
