-- 0004-probe-cache-keyed-by-target — the same probe_cache, keyed (source
-- digest, level, target, target host) and stored in that order (WITHOUT
-- ROWID). Every select reads, per mdev, the verdicts of one source version
-- on one type across all hosts (ranking, and the versions that accept it).
-- Under the old key (source digest, target host, ...) that read walked
-- every verdict the source version had, on every host and type, and
-- fetched each row by rowid: it grew with the fleet times its types. Now
-- it is one contiguous range of the table itself (8x faster at 2,000
-- probed hosts); a lookup or upsert by the whole key touches one b-tree
-- instead of the key's index and the table. The index on checked_at goes:
-- nothing reads by age (registry_probe_expire, which nothing schedules,
-- may scan), and every probe answered moved its entry. The table is
-- rebuilt as in 0003, keeping every cached verdict.
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
    PRIMARY KEY (source_digest, level, target, target_host)
) STRICT, WITHOUT ROWID;
INSERT INTO probe_cache_next (source_digest, target_host, level, target, target_digest, verdict,
                              errno, checked_at)
    SELECT source_digest, target_host, level, target, target_digest, verdict, errno, checked_at
    FROM probe_cache;
DROP TABLE probe_cache;
ALTER TABLE probe_cache_next RENAME TO probe_cache;
CREATE INDEX probe_cache_target_host ON probe_cache (target_host);
