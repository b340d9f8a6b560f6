-- Reports and everything sealed about them. Plaintext columns are only those DESIGN.md lists for
-- routing and triage; every word a reporter or staff member writes is inside `sealed`/`wrapped`.
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
    header BYTEA NOT NULL,                  -- canonical header signed by the intake key
    header_sig BYTEA NOT NULL
);

CREATE TABLE report_wraps (
    report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    recipient_fp TEXT NOT NULL,            -- hex fingerprint of the X25519 key
    purpose SMALLINT NOT NULL,             -- 1 = K_r, 2 = K_s
    wrapped BYTEA NOT NULL,                 -- HPKE: enc (32) || ct (48)
    PRIMARY KEY (report_id, recipient_fp, purpose)
);

CREATE TABLE reporter_access (
    tag BYTEA PRIMARY KEY NOT NULL,         -- HKDF(Argon2id(code, pepper)); useless without both
    report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    kdf_version SMALLINT NOT NULL,
    wrapped_key BYTEA NOT NULL,             -- K_r sealed under the code's KEK
    revoked SMALLINT NOT NULL DEFAULT 0,
    expires_day BIGINT NOT NULL
);
CREATE INDEX reporter_access_report ON reporter_access (report_id);

CREATE TABLE items (
    id TEXT PRIMARY KEY NOT NULL,
    report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    kind SMALLINT NOT NULL,                -- 1 tip, 2 message, 3 note
    direction SMALLINT NOT NULL,           -- 1 reporter->staff, 2 staff->reporter, 3 staff only
    sealed BYTEA NOT NULL,
    UNIQUE (report_id, seq)
);

-- Small durable facts the intake must remember, e.g. the highest recipient-list epoch accepted.
CREATE TABLE intake_state (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
