-- Issue 7, search: K_r sealed again by the desk, under a symmetric key only the staff member's
-- own X25519 key gives (src/desk/rewrap.rs), once the desk has opened that member's HPKE wrap
-- and verified the report's signed header. A later session opens it with one AEAD instead of
-- an X25519 Diffie-Hellman and an Ed25519 check, which is what makes a session's first search
-- across 100,000 reports fast (docs/BENCHMARKS.md). The AAD binds the report id, the key's
-- fingerprint and the header with its signature, so an edited header or a row moved to
-- another report does not open, and the desk falls back to the HPKE wrap and the strict check.
--
-- A desk wrap exists only beside the HPKE wrap it came from: the foreign key removes it with
-- that wrap (unshare, unassign, a key's retirement, a purged report), so need to know (I5)
-- never rests on this table. Keyed by the random report id, like report_wraps, and reshuffled
-- with it: no timeline at rest (I1).
CREATE TABLE desk_wraps (
    report_id TEXT NOT NULL,
    recipient_fp TEXT NOT NULL,
    purpose SMALLINT NOT NULL CHECK (purpose = 1),
    sealed BLOB NOT NULL,
    PRIMARY KEY (report_id, recipient_fp, purpose),
    FOREIGN KEY (report_id, recipient_fp, purpose)
        REFERENCES report_wraps (report_id, recipient_fp, purpose) ON DELETE CASCADE
) WITHOUT ROWID;
