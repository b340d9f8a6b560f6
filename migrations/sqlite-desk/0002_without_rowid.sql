-- Issue 5, section 2 (I1): staff and staff_keys become WITHOUT ROWID, keyed by their random ids,
-- so no rowid numbers them in the order they were written (see migrations/sqlite/0002).
-- audit_log is left as it is: it is ordered by design (its seq and hash chain are the order,
-- and `bisik audit verify` checks exactly that), so its physical order tells nothing that seq
-- does not already say. Its rows record staff actions by day, never reporter timings.
-- staff_keys is renamed aside first so its foreign key follows the old staff table.

ALTER TABLE staff_keys RENAME TO staff_keys_old;
ALTER TABLE staff RENAME TO staff_old;

CREATE TABLE staff (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,                    -- admin | supervisor | investigator
    disabled SMALLINT NOT NULL DEFAULT 0,
    created_day BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO staff (id, username, role, disabled, created_day)
    SELECT id, username, role, disabled, created_day FROM staff_old ORDER BY id;

-- Staff key material: public halves, and private halves sealed under the password KEK.
-- A row here certifies nothing (I5): wraps go only to keys on the signed recipient list.
CREATE TABLE staff_keys (
    staff_id TEXT NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    x25519_public BLOB NOT NULL,
    ed25519_public BLOB NOT NULL,
    sealed_secrets BLOB NOT NULL,
    created_day BIGINT NOT NULL,
    PRIMARY KEY (staff_id, x25519_public)
) WITHOUT ROWID;
INSERT INTO staff_keys (staff_id, x25519_public, ed25519_public, sealed_secrets, created_day)
    SELECT staff_id, x25519_public, ed25519_public, sealed_secrets, created_day
    FROM staff_keys_old ORDER BY staff_id, x25519_public;

DROP TABLE staff_keys_old;
DROP TABLE staff_old;
