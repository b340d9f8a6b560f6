-- Desk-owned tables. On PostgreSQL they live in the schema `desk`; deploy/postgres/roles.sql
-- grants it to the desk role only, so the intake role cannot read it. The case desk issue fills
-- them; they exist now so the layout is fixed.
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
    x25519_public BYTEA NOT NULL,
    ed25519_public BYTEA NOT NULL,
    sealed_secrets BYTEA NOT NULL,
    created_day BIGINT NOT NULL,
    PRIMARY KEY (staff_id, x25519_public)
);

-- Append-only, hash-chained, signed audit log (I6). Filled by the case desk.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    entry BYTEA NOT NULL,
    prev_hash BYTEA NOT NULL,
    entry_hash BYTEA NOT NULL,
    signature BYTEA NOT NULL
);
