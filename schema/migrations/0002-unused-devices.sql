-- 0002-unused-devices — readiness and rollout ask, per type, which hosts
-- have room: a free instance (types_free) or a created mdev no VM uses.
-- Without this index the second half is a scan of every device of every
-- host, which at 100,000 hosts costs more than the rest of the question.
CREATE INDEX devices_unused ON devices (type_id, host) WHERE instance IS NULL;
