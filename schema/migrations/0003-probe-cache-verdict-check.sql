-- 0003-probe-cache-verdict-check — the same probe_cache, its verdict CHECK
-- written as comparisons. SQLite evaluates `verdict IN (three values)` by
-- building a temporary b-tree for every row it checks, which made each
-- verdict-cache upsert (one per probe answered) cost twice what it needs;
-- `=` ... `OR` tests the same three values without it. A CHECK cannot be
-- altered, so the table is rebuilt the way SQLite documents it (foreign
-- keys are off while migrations run), keeping every cached verdict.
CREATE TABLE probe_cache_next (
    source_digest TEXT    NOT NULL,
    target_host   TEXT    NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    level         TEXT    NOT NULL CHECK (level IN ('type', 'device')),
    target        TEXT    NOT NULL,
    target_digest TEXT    NOT NULL,
    verdict       TEXT    NOT NULL CHECK (verdict = 'compatible' OR verdict = 'incompatible'
                                          OR verdict = 'unsupported'),
    errno         INTEGER CHECK (errno > 0),
    checked_at    INTEGER NOT NULL,
    PRIMARY KEY (source_digest, target_host, level, target)
) STRICT;
INSERT INTO probe_cache_next (source_digest, target_host, level, target, target_digest, verdict,
                              errno, checked_at)
    SELECT source_digest, target_host, level, target, target_digest, verdict, errno, checked_at
    FROM probe_cache;
DROP TABLE probe_cache;
ALTER TABLE probe_cache_next RENAME TO probe_cache;
CREATE INDEX probe_cache_target_host ON probe_cache (target_host);
CREATE INDEX probe_cache_checked_at ON probe_cache (checked_at);
