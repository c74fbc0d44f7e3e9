-- The W3C traceparent of the request that wrote the event, so the publish joins its trace.
alter table outbox add column traceparent text;
