-- Desk-owned tables. On SQLite they live in their own file (data/desk.db) that the intake never
-- opens and, in the production split, cannot read (file owned by the desk's OS user). The case
-- desk issue fills them; they exist now so the layout is fixed.
CREATE TABLE staff (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,                    -- admin | supervisor | investigator
    disabled SMALLINT NOT NULL DEFAULT 0,
    created_day BIGINT NOT NULL
);

-- Staff key material: public halves, and private halves sealed under the password KEK.
-- A row here certifies nothing (I5): wraps go only to keys on the signed recipient list.
CREATE TABLE staff_keys (
    staff_id TEXT NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    x25519_public BLOB NOT NULL,
    ed25519_public BLOB NOT NULL,
    sealed_secrets BLOB NOT NULL,
    created_day BIGINT NOT NULL,
    PRIMARY KEY (staff_id, x25519_public)
);

-- Append-only, hash-chained, signed audit log (I6). Filled by the case desk.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    entry BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    entry_hash BLOB NOT NULL,
    signature BLOB NOT NULL
);
