-- Issue 5, section 2 (I1: the stored data tells the day, never the order). A rowid is a counter:
-- it numbers rows in the order they were written, and a table b-tree keyed by it stores them in
-- that order too. Every table here is rebuilt WITHOUT ROWID, keyed by its random id (report ids,
-- item ids and lookup tags are random; report_wraps is keyed by its report's random id), so the
-- b-tree order is the order of random keys. Page allocation and cell placement still follow
-- write time until the reshuffle (src/store/reshuffle.rs) rebuilds the file in key order.
--
-- The rebuild renames each old table aside first: a modern SQLite rewrites the children's
-- foreign keys to follow the rename, so the old children point at reports_old, the new ones at
-- the new reports, and dropping the old tables (children first) cascades into nothing new.
-- Rows are copied in key order so the new pages are laid out in key order as well.
-- secure_delete is on for every connection, so the old pages are zeroed when they are freed.

ALTER TABLE items RENAME TO items_old;
ALTER TABLE reporter_access RENAME TO reporter_access_old;
ALTER TABLE report_wraps RENAME TO report_wraps_old;
ALTER TABLE reports RENAME TO reports_old;
ALTER TABLE intake_state RENAME TO intake_state_old;

CREATE TABLE reports (
    id TEXT PRIMARY KEY NOT NULL,          -- random UUIDv4
    unit TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    priority SMALLINT NOT NULL DEFAULT 0,
    assignee TEXT,
    received_day BIGINT NOT NULL,          -- days since 1970-01-01 UTC; exact times only sealed
    closed_day BIGINT,                     -- drives the delayed 'closed' the reporter sees (I11)
    item_seq BIGINT NOT NULL DEFAULT 0,    -- last sequence number handed out; bound into AADs
    header BLOB NOT NULL,                  -- canonical header signed by the intake key
    header_sig BLOB NOT NULL
) WITHOUT ROWID;
INSERT INTO reports (id, unit, category, status, priority, assignee, received_day, closed_day,
                     item_seq, header, header_sig)
    SELECT id, unit, category, status, priority, assignee, received_day, closed_day,
           item_seq, header, header_sig
    FROM reports_old ORDER BY id;

CREATE TABLE report_wraps (
    report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    recipient_fp TEXT NOT NULL,            -- hex fingerprint of the X25519 key
    purpose SMALLINT NOT NULL,             -- 1 = K_r, 2 = K_s
    wrapped BLOB NOT NULL,                 -- HPKE: enc (32) || ct (48)
    PRIMARY KEY (report_id, recipient_fp, purpose)
) WITHOUT ROWID;
INSERT INTO report_wraps (report_id, recipient_fp, purpose, wrapped)
    SELECT report_id, recipient_fp, purpose, wrapped
    FROM report_wraps_old ORDER BY report_id, recipient_fp, purpose;

CREATE TABLE reporter_access (
    tag BLOB PRIMARY KEY NOT NULL,         -- HKDF(Argon2id(code, pepper)); useless without both
    report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    kdf_version SMALLINT NOT NULL,
    wrapped_key BLOB NOT NULL,             -- K_r sealed under the code's KEK
    revoked SMALLINT NOT NULL DEFAULT 0,
    expires_day BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO reporter_access (tag, report_id, kdf_version, wrapped_key, revoked, expires_day)
    SELECT tag, report_id, kdf_version, wrapped_key, revoked, expires_day
    FROM reporter_access_old ORDER BY tag;

CREATE TABLE items (
    id TEXT PRIMARY KEY NOT NULL,          -- random UUIDv4
    report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    kind SMALLINT NOT NULL,                -- 1 tip, 2 message, 3 note
    direction SMALLINT NOT NULL,           -- 1 reporter->staff, 2 staff->reporter, 3 staff only
    sealed BLOB NOT NULL,
    UNIQUE (report_id, seq)
) WITHOUT ROWID;
INSERT INTO items (id, report_id, seq, kind, direction, sealed)
    SELECT id, report_id, seq, kind, direction, sealed
    FROM items_old ORDER BY id;

-- Keyed by a fixed name; its rows are facts (the highest list epoch, the heartbeat), not events.
CREATE TABLE intake_state (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO intake_state (name, value) SELECT name, value FROM intake_state_old ORDER BY name;

-- Children first, so that dropping reports_old cascades into nothing.
DROP TABLE items_old;
DROP TABLE reporter_access_old;
DROP TABLE report_wraps_old;
DROP TABLE reports_old;
DROP TABLE intake_state_old;

-- The old index went with reporter_access_old; the name is free again.
CREATE INDEX reporter_access_report ON reporter_access (report_id);
