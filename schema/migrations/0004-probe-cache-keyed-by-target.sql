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
--
-- probe_accepts is new: the versions of a type a compatible type-level
-- verdict was seen at, per source version. Ranking asks "which versions
-- accept this one" on every select; read from probe_cache that was a
-- DISTINCT over every host's verdict (46 ms at 100,000 hosts in the sqlite3
-- shell), here it is a few rows. It starts with what probe_cache knows.
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

CREATE TABLE probe_accepts (
    source_digest TEXT NOT NULL,
    target        TEXT NOT NULL,             -- type id
    target_digest TEXT NOT NULL,
    PRIMARY KEY (source_digest, target, target_digest)
) STRICT, WITHOUT ROWID;
INSERT INTO probe_accepts (source_digest, target, target_digest)
    SELECT DISTINCT source_digest, target, target_digest FROM probe_cache
    WHERE level = 'type' AND verdict = 'compatible' AND target_digest <> '';
