-- registry.sql — the registry's schema as it stands: version 4
-- (PRAGMA user_version = 4). This is the file to read; the database is built
-- from the numbered files in migrations/, which schema/migrate.c applies on
-- open. test_registry checks that the two agree, so a new migration comes
-- with its change here too. Do not create a registry from this file: the
-- result has no schema version, and mdevmig refuses it as not a registry.
--
-- Every table is STRICT, every host-owned row cascades from hosts, and
-- foreign keys are on for every connection mdevmig opens.

-- One row per collector. A snapshot replaces everything below its host row;
-- deleting the host row removes the host with all it had (ON DELETE CASCADE).
CREATE TABLE hosts (
    name          TEXT    NOT NULL PRIMARY KEY,
    collector_url TEXT,                      -- NULL: the collector advertised none
    generation    INTEGER NOT NULL,          -- of the stored snapshot; only ever grows
    last_seen     INTEGER NOT NULL,          -- unix s of the last snapshot or heartbeat
    scanned_at    INTEGER NOT NULL           -- unix s the collector took the snapshot
) STRICT;

CREATE TABLE parents (
    host TEXT NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    name TEXT NOT NULL,                      -- e.g. 0000:3b:00.0
    PRIMARY KEY (host, name)
) STRICT;

-- A migration_version is stored as the inventory holds it: supported = the
-- attribute exists; read_errno when reading it failed; otherwise version and
-- its digest (common/version.h).
CREATE TABLE types (
    host                TEXT    NOT NULL,
    parent              TEXT    NOT NULL,
    type_id             TEXT    NOT NULL,
    name                TEXT    NOT NULL DEFAULT '',
    description         TEXT    NOT NULL DEFAULT '',
    device_api          TEXT    NOT NULL DEFAULT '',
    available_instances INTEGER CHECK (available_instances >= 0), -- NULL: unreadable
    migration_supported INTEGER NOT NULL CHECK (migration_supported IN (0, 1)),
    version             TEXT,
    digest              TEXT,
    read_errno          INTEGER CHECK (read_errno > 0),
    PRIMARY KEY (host, parent, type_id),
    FOREIGN KEY (host, parent) REFERENCES parents (host, name) ON DELETE CASCADE,
    CHECK ((version IS NULL) = (digest IS NULL)),
    CHECK (version IS NULL OR (migration_supported = 1 AND read_errno IS NULL))
) STRICT;

-- Scheduler: "who offers this type with room left" and "who runs exactly
-- this version" (types_free also serves the FK-free lookups by type id).
CREATE INDEX types_free ON types (type_id, available_instances);
CREATE INDEX types_digest ON types (digest) WHERE digest IS NOT NULL;

-- Keyed by host too: a UUID is unique by convention only, and a snapshot
-- that repeats another host's must not be refused for it.
CREATE TABLE devices (
    host                TEXT    NOT NULL,
    uuid                TEXT    NOT NULL,
    parent              TEXT    NOT NULL,
    type_id             TEXT    NOT NULL,
    iommu_group         INTEGER CHECK (iommu_group >= 0), -- NULL: none found
    migration_supported INTEGER NOT NULL CHECK (migration_supported IN (0, 1)),
    version             TEXT,
    digest              TEXT,
    read_errno          INTEGER CHECK (read_errno > 0),
    instance            TEXT,                -- the VM using it; NULL when unused
    PRIMARY KEY (host, uuid),
    FOREIGN KEY (host, parent, type_id) REFERENCES types (host, parent, type_id)
        ON DELETE CASCADE,
    CHECK ((version IS NULL) = (digest IS NULL)),
    CHECK (version IS NULL OR (migration_supported = 1 AND read_errno IS NULL))
) STRICT;

-- The foreign key's own lookup (a type row deleted finds its devices).
CREATE INDEX devices_type ON devices (host, parent, type_id);

-- Readiness and rollout: the hosts where a type has an unused created mdev.
CREATE INDEX devices_unused ON devices (type_id, host) WHERE instance IS NULL;

-- Keyed by host too: during a live migration libvirt lists the domain on
-- both hosts, and both snapshots must be stored.
CREATE TABLE instances (
    host  TEXT NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    uuid  TEXT NOT NULL,                     -- libvirt domain UUID = Nova instance UUID
    name  TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT '',          -- running, paused, shutoff, ...
    PRIMARY KEY (host, uuid)
) STRICT;

-- The scheduler looks instances up by UUID alone.
CREATE INDEX instances_uuid ON instances (uuid);

-- No foreign key to devices: a VM's XML may name an mdev the host no longer
-- has (mdevs do not survive a reboot), and that is worth showing.
CREATE TABLE instance_mdevs (
    host     TEXT NOT NULL,
    instance TEXT NOT NULL,
    mdev     TEXT NOT NULL,
    PRIMARY KEY (host, instance, mdev),
    FOREIGN KEY (host, instance) REFERENCES instances (host, uuid) ON DELETE CASCADE
) STRICT;

-- Verdicts of real write-probes. Keyed by what was written (source_digest)
-- and where, and stored in key order (WITHOUT ROWID): a select reads one
-- source version on one type across hosts as one range. The target's
-- digest at probe time is kept beside the verdict, and a lookup names the
-- target's current digest: a driver upgrade on the target voids the
-- verdict without anyone deleting it.
CREATE TABLE probe_cache (
    source_digest TEXT    NOT NULL,
    target_host   TEXT    NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    level         TEXT    NOT NULL CHECK (level IN ('type', 'device')),
    target        TEXT    NOT NULL,          -- type id, or device UUID
    target_digest TEXT    NOT NULL,          -- '' when the target had no version
    -- Comparisons, not IN (...): SQLite checks a three-value IN list with a
    -- temporary b-tree per row (migration 0003).
    verdict       TEXT    NOT NULL CHECK (verdict = 'compatible' OR verdict = 'incompatible'
                                          OR verdict = 'unsupported'),
    errno         INTEGER CHECK (errno > 0), -- of the refused write; NULL otherwise
    checked_at    INTEGER NOT NULL,          -- unix s
    PRIMARY KEY (source_digest, level, target, target_host)
) STRICT, WITHOUT ROWID;

-- The foreign key's own lookup. No index on checked_at: nothing reads by
-- age but registry_probe_expire, which may scan (migration 0004).
CREATE INDEX probe_cache_target_host ON probe_cache (target_host);

-- The versions of a type that a compatible type-level verdict was seen at,
-- per source version: what the driver accepts, whichever host said so
-- (ranking, and the versions a Placement-sourced select asks for). Written
-- with each such verdict, never by host, so forgetting a host keeps it;
-- a version no host runs any more is left out when read (types.digest).
CREATE TABLE probe_accepts (
    source_digest TEXT NOT NULL,
    target        TEXT NOT NULL,             -- type id
    target_digest TEXT NOT NULL,
    PRIMARY KEY (source_digest, target, target_digest)
) STRICT, WITHOUT ROWID;
